"""The signed ``rhoconnect_session`` cookie, cheap enough to verify and sign on every request.

RhoConnect's session is a Rack cookie with an expiry, so every answer carries the cookie again
(``Set-Cookie`` with a fresh ``Expires``) and every request sends it back: the mock verifies one
and signs one per request. Flask's stock signed-cookie interface builds a new serializer, derives
its key and runs its tagged JSON twice per request; with a page answer itself cached, that was
about a third of the server's time per page. This interface keeps the same rules and the same
``Set-Cookie`` header and spends far less:

* the signing key is derived once per secret; the value is compact JSON, base64url, a timestamp
  and an HMAC-SHA256 (``<payload>.<seconds>.<signature>``, all cookie-safe characters);
* a cookie this process signed or verified is remembered with its data and time, so the next
  request bringing it back is not verified again (its age is still checked against the lifetime);
* a session's header is signed once per second: within a second the same session gets the
  same bytes, as it would from a fresh signature;
* a ``Cookie`` header that is just this cookie with a plain value (what every client sends back)
  is read as it is; any other header goes through werkzeug's cookie parser, as before.

Both memos hold only cookies whose signature is valid, and are bounded: a client sending made-up
cookies makes the server verify them, never grow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from flask import g
from flask.sessions import SecureCookieSession, SessionInterface, SessionMixin
from werkzeug.http import dump_cookie

if TYPE_CHECKING:
    from flask import Flask, Request, Response

    from ..request_info import RequestInfo

__all__ = ["SessionCookie"]

#: How many verified cookies and signed headers each memo keeps before it starts again.
MEMO_SIZE = 10_000

#: A cookie value werkzeug's parser gives back unchanged (no quotes, escapes, spaces or separators).
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._-]*\Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCookie(SessionInterface):
    """Flask's session interface for the mock: a signed cookie, refreshed on every answer.

    Same decisions as Flask's ``SecureCookieSessionInterface`` (a permanent session is sent again on
    every answer with a new expiry; an emptied, modified session deletes the cookie), minus the
    ``Vary: Cookie`` header RhoConnect never sends, and no cookie on bulk file downloads (recorded
    exchanges main-25 to main-26).
    """

    session_class = SecureCookieSession

    def __init__(self) -> None:
        self._secret: Any = None
        self._key = b""
        self._lock = threading.Lock()
        #: cookie value -> (signed at, session data); only values whose signature was valid
        self._verified: dict[str, tuple[int, dict[str, Any]]] = {}
        #: (session items, second) -> Set-Cookie header value
        self._headers: dict[tuple[Any, int], str] = {}

    # -- signing ------------------------------------------------------------------------------

    def _signing_key(self, app: Flask) -> bytes:
        secret = app.secret_key
        if secret is not self._secret:
            raw = secret.encode() if isinstance(secret, str) else bytes(secret or b"")
            with self._lock:
                self._key = hmac.new(raw, b"rhoconnect-mock session cookie", hashlib.sha256).digest()
                self._secret = secret
                self._verified.clear()
                self._headers.clear()
        return self._key

    def _sign(self, key: bytes, data: dict[str, Any], now: int) -> str:
        payload = f"{_b64(json.dumps(data, separators=(',', ':')).encode())}.{now}"
        signature = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
        return f"{payload}.{_b64(signature)}"

    def _verify(self, key: bytes, value: str) -> tuple[int, dict[str, Any]] | None:
        """``(signed at, data)`` of a cookie this server signed, else None."""
        known = self._verified.get(value)
        if known is not None:
            return known
        payload, _, signature = value.rpartition(".")
        encoded, _, stamp = payload.partition(".")
        try:
            expected = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
            if not stamp.isdigit() or not hmac.compare_digest(_unb64(signature), expected):
                return None
            data = json.loads(_unb64(encoded))
        except (ValueError, UnicodeError):  # not base64, not ASCII, not JSON
            return None
        if not isinstance(data, dict):
            return None
        found = (int(stamp), data)
        self._remember(self._verified, value, found)
        return found

    def _remember(self, memo: dict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = value

    def _attributes(self, app: Flask) -> dict[str, Any]:
        """The cookie's attributes from the app's ``SESSION_COOKIE_*`` settings, as Flask sets them."""
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "httponly": self.get_cookie_httponly(app),
            "samesite": self.get_cookie_samesite(app),
            "partitioned": self.get_cookie_partitioned(app),
        }

    @staticmethod
    def _cookie_value(request: Request, name: str) -> str | None:
        """The cookie ``name`` of the request, as ``request.cookies.get(name)`` gives it.

        werkzeug parses the header after collecting the request's headers to find it (a few
        percent of the server's time per request); a header holding only this cookie with a
        plain value needs no parsing.
        """
        header: str | None = request.environ.get("HTTP_COOKIE")
        if header is None:
            return None
        key, _, value = header.partition("=")
        if key == name and _PLAIN_VALUE.match(value):
            return value
        return request.cookies.get(name)

    # -- Flask's interface ----------------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        value = self._cookie_value(request, self.get_cookie_name(app))
        if not value:
            return self.session_class()
        found = self._verify(self._signing_key(app), value)
        if found is None:
            return self.session_class()
        signed_at, data = found
        age = int(time.time()) - signed_at
        if age < 0 or age > app.permanent_session_lifetime.total_seconds():
            return self.session_class()
        return self.session_class(dict(data))  # a copy: the handler may change it

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        rc: RequestInfo | None = g.get("rc")
        if rc is not None and rc.operation == "bulk_file":
            return  # static files: no session, no Set-Cookie
        name = self.get_cookie_name(app)
        if not session:
            if session.modified:
                response.delete_cookie(name, **self._attributes(app))
            return
        if not self.should_set_cookie(app, session):
            return
        now = int(time.time())
        data = dict(session)
        try:
            memo_key: tuple[Any, int] | None = (tuple(sorted(data.items())), now)
            header = self._headers.get(memo_key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable value: sign it every time
            memo_key, header = None, None
        if header is None:
            key = self._signing_key(app)
            value = self._sign(key, data, now)
            self._remember(self._verified, value, (now, data))
            header = dump_cookie(
                name, value, expires=self.get_expiration_time(app, session), **self._attributes(app)
            )
            if memo_key is not None:
                self._remember(self._headers, memo_key, header)
        response.headers.add("Set-Cookie", header)
