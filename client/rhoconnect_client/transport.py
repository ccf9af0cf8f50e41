"""HTTP transport: the only module that imports ``requests``.

One ``requests.Session`` per engine, both URL families of docs/protocol.md#base-url-and-the-two-url-families
(classic
``/application/...`` and REST ``/rc/v1/...``), the session cookie, timeouts, TLS verification, and the
translation of every ``requests`` failure into the package's exceptions (``ConnectionFailed``,
``RequestTimeout``, ``HTTPStatusError``/``NotAuthorized``). Methods speak the protocol's operations
(``login``, ``client_create``, ``query``, ``push``...) and hand back raw bodies: parsing is the job of
``protocol``.

Requests run on a helper thread so that ``stop_sync`` and the overall ``deadline`` can end one
blocked on a slow server (the ``requests`` timeout is per read: a byte-at-a-time server never times
out); the waiting thread then cuts the socket (``http_limits.cut``) and discards the answer. Bodies
are read in chunks up to ``max_body_bytes`` (``ResponseTooLarge`` beyond; bulk files go to disk up
to ``max_download_bytes``). Redirects are followed only to the same origin keeping the method,
else ``RedirectRefused`` (``http_limits.redirect_refusal``).

The session is kept as the Rhodes "session string" (``name=value`` pairs of the cookies set by the
login answer) and sent as the ``Cookie`` header; the cookie jar of ``requests`` is disabled so that
what is sent is exactly what the engine stored in ``client_info.session``.
"""

from __future__ import annotations

import functools
import http.cookiejar
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import requests
import requests.adapters

from . import http_limits
from .exceptions import (
    Cancelled,
    ConnectionFailed,
    HTTPStatusError,
    NotAuthorized,
    RedirectRefused,
    RequestTimeout,
    StoreError,
    TransportError,
)

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_TIMEOUT", "Transport", "UrlFamily"]

log = logging.getLogger(__name__)

UrlFamily = Literal["classic", "rest"]
DEFAULT_TIMEOUT = 30.0  # Rhodes rhoconfig net_timeout default (docs/protocol.md#headers-and-success-codes)
# A whole request, headers to last byte; a page of 2000 objects takes well under a second.
DEFAULT_DEADLINE = 120.0
# A page of 2000 objects is a few MB; far larger answers are refused rather than held in memory.
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# Bulk files go to disk; this bounds the disk they may take (and the time, with the deadline).
DEFAULT_MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024
DEFAULT_DOWNLOAD_DEADLINE = 3600.0
_CHUNK = 256 * 1024
_T = TypeVar("_T")


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Refuse every cookie: the engine sends the stored session string itself."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def _quote(value: object) -> str:
    return urllib.parse.quote(str(value), safe="")


class Transport:
    """Protocol operations over HTTP for one sync server.

    ``server_url`` is the ``syncserver`` value: for the classic family the application URL
    (``http://host:9292/application``), for the REST family the server root (``http://host:9292``).
    """

    def __init__(
        self,
        server_url: str,
        *,
        url_family: UrlFamily = "classic",
        timeout: float = DEFAULT_TIMEOUT,
        verify_ssl: bool = True,
        callback_timeout: float = 10.0,
        deadline: float = DEFAULT_DEADLINE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        download_deadline: float = DEFAULT_DOWNLOAD_DEADLINE,
    ) -> None:
        if url_family not in ("classic", "rest"):
            raise ValueError(f"url_family must be 'classic' or 'rest', not {url_family!r}")
        if deadline <= 0 or download_deadline <= 0:
            raise ValueError("deadlines must be positive numbers of seconds")
        if max_body_bytes < 1 or max_download_bytes < 1:
            raise ValueError("size limits must be at least 1 byte")
        self.url_family: UrlFamily = url_family
        self.timeout = timeout
        self.deadline = float(deadline)
        self.download_deadline = float(download_deadline)
        self.max_body_bytes = int(max_body_bytes)
        self.max_download_bytes = int(max_download_bytes)
        self.verify_ssl = verify_ssl
        self.callback_timeout = callback_timeout
        self.session: str | None = None
        # newer clients send X-RhoConnect-CLIENT-ID (docs/protocol.md#headers-and-success-codes)
        self.client_id_header = True
        self._server_url = ""
        self.server_url = server_url
        self._http = requests.Session()
        self._http.cookies.set_policy(_NoCookies())
        # Connections are re-used across pages (Rhodes sends Connection: Keep-Alive).
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        # Connections that note which call uses them, so that a deadline can cut a blocked read.
        adapter.poolmanager.pool_classes_by_scheme = dict(http_limits.POOL_CLASSES)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._http.headers.update({"Connection": "Keep-Alive"})
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rhoconnect-http")
        self._cancel = threading.Event()

    # ----------------------------------------------------------------- configuration
    @property
    def server_url(self) -> str:
        return self._server_url

    @server_url.setter
    def server_url(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"sync server URL must be http(s)://host[:port]/..., not {url!r}")
        self._server_url = url

    @property
    def _base(self) -> str:
        """``S`` of docs/protocol.md#base-url-and-the-two-url-families: the syncserver with exactly one
        trailing slash."""
        return self._server_url.rstrip("/") + "/"

    # ----------------------------------------------------------------- cancellation
    def cancel(self) -> None:
        """Abort the request in flight (if any) and every later one until :meth:`reset_cancel`."""
        self._cancel.set()

    def reset_cancel(self) -> None:
        self._cancel.clear()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def close(self) -> None:
        self._cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    # ----------------------------------------------------------------- protocol operations
    def login(self, login_body: bytes) -> str:
        """POST the login body; return the session string made of the answer's cookies
        (docs/protocol.md#login).

        Raises ``NotAuthorized`` (401), ``HTTPStatusError``, a ``TransportError``; an answer 200
        without any cookie gives an empty string (the engine reports error 4).
        """
        path = "clientlogin" if self.url_family == "classic" else "rc/v1/app/login"
        response = self._send("POST", self._base + path, data=login_body, json_body=True, session=False)
        return "; ".join(f"{c.name}={c.value}" for c in response.cookies)

    def client_create(self) -> bytes:
        if self.url_family == "classic":
            return self._send("GET", self._base + "clientcreate").content
        return self._send("POST", self._base + "rc/v1/clients", data=b"{}", json_body=True).content

    def client_reset(self, client_id: str, sources: Sequence[str] = ()) -> None:
        if self.url_family == "classic":
            query = "client_id=" + _quote(client_id)
            query += "".join("&sources[][name]=" + _quote(name) for name in sources)
            self._send("GET", self._base + "clientreset?" + query, client_id=client_id)
            return
        body = json.dumps({"sources": [{"name": n} for n in sources]}).encode() if sources else b""
        url = self._base + f"rc/v1/clients/{_quote(client_id)}/reset"
        self._send("POST", url, data=body, json_body=bool(body), client_id=client_id)

    def client_register(self, client_id: str, body: bytes) -> None:
        """POST the device registration (push pin, port, device type; docs/protocol.md#clientregister); 200
        with an empty body."""
        if self.url_family == "classic":
            url = self._base + "clientregister"
        else:
            url = self._base + f"rc/v1/clients/{_quote(client_id)}/register"
        self._send("POST", url, data=body, json_body=True, client_id=client_id)

    def query_url(
        self, source_name: str, *, client_id: str, page_size: int, token: int | None, query_params: str = ""
    ) -> str:
        """The pull URL of docs/protocol.md#query-request (classic) or the REST ``app/v1/<Source>`` form."""
        token_part = f"&token={token}" if token is not None else ""
        extra = "&" + query_params.lstrip("&") if query_params else ""
        if self.url_family == "classic":
            return (
                self._base.rstrip("/")
                + f"?client_id={_quote(client_id)}&p_size={page_size}&version=3"
                + f"&source_name={_quote(source_name)}{token_part}{extra}"
            )
        return (
            self._base
            + f"app/v1/{_quote(source_name)}?client_id={_quote(client_id)}&p_size={page_size}"
            + f"&version=3{token_part}{extra}"
        )

    def query(
        self, source_name: str, *, client_id: str, page_size: int, token: int | None, query_params: str = ""
    ) -> bytes:
        url = self.query_url(
            source_name, client_id=client_id, page_size=page_size, token=token, query_params=query_params
        )
        return self._send("GET", url, client_id=client_id).content

    def push(
        self,
        source_name: str,
        client_id: str,
        body: Mapping[str, Any],
        blobs: Mapping[str, Path] | None = None,
    ) -> None:
        """POST local changes (docs/protocol.md#push-request): JSON, or multipart with a ``cud`` part when
        blobs go along."""
        if self.url_family == "classic":
            url = self._base.rstrip("/")
        else:
            url = self._base + f"app/v1/{_quote(source_name)}"
        payload = json.dumps(body, separators=(",", ":")).encode()
        if not blobs:
            self._send("POST", url, data=payload, json_body=True, client_id=client_id)
            return
        handles: dict[str, BinaryIO] = {}
        try:
            for name, path in blobs.items():
                try:
                    handles[name] = path.open("rb")
                except OSError as exc:  # e.g. the app deleted the file: this source's error, not a crash
                    raise StoreError(f"cannot read blob file {path} ({name}): {exc.strerror or exc}") from exc
            files: list[tuple[str, tuple[str | None, Any, str]]] = [
                ("cud", (None, payload, "application/json"))
            ]
            files += [(name, (name, fh, "application/octet-stream")) for name, fh in handles.items()]
            self._send("POST", url, files=files, client_id=client_id)
        finally:
            for fh in handles.values():
                fh.close()

    def search(
        self,
        *,
        from_: str,
        client_id: str,
        page_size: int,
        sources: Sequence[tuple[str, int | None]],
        search_params: Mapping[str, Any] | None = None,
        offset: int | None = None,
        max_results: int | None = None,
    ) -> bytes:
        """One search request (docs/protocol.md#search-request); ``sources`` pairs each name with its search
        token (or None)."""
        params = dict(search_params or {})
        if self.url_family == "classic":
            query = f"client_id={_quote(client_id)}&p_size={page_size}&version=3"
            for name, token in sources:
                query += "&sources[][name]=" + _quote(name)
                if token is not None:
                    query += f"&sources[][token]={token}"
            if offset is not None:
                query += f"&offset={offset}"
            if max_results is not None:
                query += f"&max_results={max_results}"
            query += "".join(f"&search[{_quote(k)}]={_quote(v)}" for k, v in params.items())
            return self._send("GET", self._base + from_ + "?" + query, client_id=client_id).content
        body: dict[str, Any] = {
            "client_id": client_id,
            "sources": [{"name": n} if t is None else {"name": n, "token": str(t)} for n, t in sources],
            "search": {k: str(v) for k, v in params.items()},
            "p_size": page_size,
            "version": 3,
        }
        if offset is not None:
            body["offset"] = offset
        if max_results is not None:
            body["max_results"] = max_results
        path = "rc/v1/app/search" if from_ == "search" else "rc/v1/app/" + from_
        data = json.dumps(body, separators=(",", ":")).encode()
        return self._send("POST", self._base + path, data=data, json_body=True, client_id=client_id).content

    def bulk_data(self, *, client_id: str, partition: str, sources: Sequence[str]) -> bytes:
        if self.url_family == "classic":
            query = f"client_id={_quote(client_id)}&partition={_quote(partition)}"
            if sources:
                query += "&sources=" + _quote(",".join(sources))
            return self._send("GET", self._base + "bulk_data?" + query, client_id=client_id).content
        body = {"client_id": client_id, "partition": partition, "sources": list(sources)}
        data = json.dumps(body, separators=(",", ":")).encode()
        url = self._base + "rc/v1/app/bulk_data"
        return self._send("POST", url, data=data, json_body=True, client_id=client_id).content

    def bulk_file_url(self, url: str) -> str:
        """``scheme://host/`` + the url answered by bulk_data + ``.rzip`` (docs/protocol.md#bulk_data)."""
        parts = urllib.parse.urlsplit(self._server_url)
        return f"{parts.scheme}://{parts.netloc}/{url.lstrip('/')}.rzip"

    def download(self, url: str, dest: Path) -> int:
        """Stream ``url`` into ``dest`` (cancellable between chunks); return the byte count.

        At most ``max_download_bytes``, within ``download_deadline``; same-origin redirects only.
        """
        headers = self._headers(None, json_body=False, session=True)
        limit = self.max_download_bytes

        def fetch(target: str) -> requests.Response | int:
            written = 0
            with self._http.request(
                "GET",
                target,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify_ssl,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.is_redirect:
                    return response
                if response.status_code not in (200, 206):
                    _read_capped(response, self.max_body_bytes, target)
                    return response
                http_limits.refuse_announced(response.headers.get("Content-Length"), limit, target)
                with dest.open("wb") as out:
                    for chunk in http_limits.capped(response.iter_content(_CHUNK), limit, target):
                        if self._cancel.is_set():
                            raise Cancelled("download stopped")
                        written += len(chunk)
                        out.write(chunk)
            return written

        current = url
        for _ in range(http_limits.MAX_REDIRECTS + 1):
            answer = self._run(functools.partial(fetch, current), current, deadline=self.download_deadline)
            if isinstance(answer, int):
                return answer
            if not answer.is_redirect:
                self._check(answer, current)
            current = self._redirect_target(answer, current, "GET")
        raise http_limits.too_many_redirects(url)

    def post_form(self, url: str, fields: Sequence[tuple[str, str]]) -> str:
        """POST a form-encoded notification to an app's callback URL (decision "Callbacks"); return the answer
        body.

        Independent of the sync session and of ``stop_sync``: it is the app's own server.
        """
        try:
            response = self._http.post(
                url, data=list(fields), timeout=self.callback_timeout, verify=self.verify_ssl
            )
        except requests.RequestException as exc:
            raise self._translate(exc, url) from exc
        self._check(response, url)
        return response.text

    # ----------------------------------------------------------------- internals
    def _headers(self, client_id: str | None, *, json_body: bool, session: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        if json_body:
            headers["Content-Type"] = "application/json"
        if session and self.session:
            headers["Cookie"] = self.session
        if client_id and self.client_id_header:
            headers["X-RhoConnect-CLIENT-ID"] = client_id
        return headers

    def _send(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        files: Any = None,
        json_body: bool = False,
        client_id: str | None = None,
        session: bool = True,
    ) -> requests.Response:
        headers = self._headers(client_id, json_body=json_body, session=session)

        def call(target: str) -> requests.Response:
            response = self._http.request(
                method,
                target,
                data=data,
                files=files,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify_ssl,
                stream=True,
                allow_redirects=False,
            )
            # Read the body on the helper thread (the read may block too), never past the cap.
            with response:
                _read_capped(response, self.max_body_bytes, target)
            return response

        current = url
        for _ in range(http_limits.MAX_REDIRECTS + 1):
            log.debug("%s %s", method, current)
            response = self._run(functools.partial(call, current), current)
            if not response.is_redirect:
                self._check(response, current)
                return response
            current = self._redirect_target(response, current, method, replayable=files is None)
        raise http_limits.too_many_redirects(url)

    def _redirect_target(
        self, response: requests.Response, url: str, method: str, *, replayable: bool = True
    ) -> str:
        """Where a redirect leads, if the client may follow it; else ``RedirectRefused``."""
        target = urllib.parse.urljoin(url, response.headers.get("Location", ""))
        reason = http_limits.redirect_refusal(
            url, target, method, response.status_code, replayable=replayable
        )
        if reason is not None:
            log.warning("%s %s: %s", method, url, reason)
            raise RedirectRefused(response.status_code, url, target, reason)
        return target

    def _run(self, fn: Callable[[], _T], url: str, *, deadline: float | None = None) -> _T:
        """Run ``fn`` on a helper thread; stop waiting on ``cancel`` or after ``deadline`` seconds
        (default ``self.deadline``), cutting the call's connection so that the helper ends too."""
        if self._cancel.is_set():
            raise Cancelled("sync stopped")
        limit = self.deadline if deadline is None else deadline
        scope = http_limits.CallScope()

        def scoped() -> _T:
            with scope:
                return fn()

        future: Future[_T] = self._pool.submit(scoped)
        ends = time.monotonic() + limit
        while True:
            try:
                return future.result(timeout=min(0.05, max(ends - time.monotonic(), 0.001)))
            except TimeoutError:
                if self._cancel.is_set():
                    future.cancel()
                    http_limits.cut(scope.call_id)
                    raise Cancelled("sync stopped") from None
                if time.monotonic() >= ends:
                    future.cancel()
                    http_limits.cut(scope.call_id)
                    where = urllib.parse.urlsplit(url).netloc
                    raise RequestTimeout(
                        f"no complete answer from {where} within the {limit:g} s deadline"
                    ) from None
            except requests.RequestException as exc:
                raise self._translate(exc, url) from exc

    @staticmethod
    def _check(response: requests.Response, url: str) -> None:
        # Only 200 and 206 are success for Rhodes (docs/protocol.md#headers-and-success-codes).
        if response.status_code in (200, 206):
            return
        body = response.text
        if response.status_code == 401:
            raise NotAuthorized(401, body, url)
        raise HTTPStatusError(response.status_code, body, url)

    @staticmethod
    def _translate(exc: requests.RequestException, url: str) -> TransportError:
        where = urllib.parse.urlsplit(url).netloc
        if isinstance(exc, requests.Timeout):
            return RequestTimeout(f"no answer from {where} in time")
        if isinstance(exc, requests.exceptions.SSLError):
            return ConnectionFailed(f"TLS failure talking to {where}: {exc}")
        if isinstance(exc, requests.ConnectionError):
            return ConnectionFailed(f"cannot reach {where}: {_short(exc)}")
        # ChunkedEncodingError, ContentDecodingError...: the connection broke mid-answer.
        return ConnectionFailed(f"broken answer from {where}: {_short(exc)}")


def _read_capped(response: requests.Response, limit: int, url: str) -> None:
    """Read the whole body into ``response`` (so ``.content`` and ``.text`` work), at most ``limit``
    bytes; over it, ``ResponseTooLarge`` and the connection is dropped, not drained."""
    http_limits.refuse_announced(response.headers.get("Content-Length"), limit, url)
    response._content = b"".join(http_limits.capped(response.iter_content(_CHUNK), limit, url))


def _short(exc: BaseException) -> str:
    """The innermost reason, without urllib3's long wrapper text."""
    reason: BaseException = exc
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    return text if len(text) < 200 else text[:200] + "..."
