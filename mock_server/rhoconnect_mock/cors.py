"""Cross-origin requests, opt-in (``--cors ORIGIN...``, config key ``cors``), as RhoConnect's
optional CORS middleware answers them, so a browser client on another origin can sync.

That middleware sits outside the server: a valid preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) is answered there, 200 ``text/plain`` with an empty body and
only the CORS headers; any other request from an allowed origin gets the CORS headers added to
the server's own answer. Its resource here is every protocol path (not the mock's ``/_mock/``
admin API) with methods GET, POST, PUT and DELETE, any request header, credentials allowed and
nothing exposed. Origins are matched as written, ``host:port`` meaning ``http://host:port``;
``*`` allows any origin and answers ``Access-Control-Allow-Origin: *``. An ``Origin: null``
(a page opened from a file) counts as ``file://``, and ``X-Origin`` stands in for a missing
``Origin``. Without configured origins nothing changes: ``OPTIONS`` stays a 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .request_info import is_admin_path

METHODS = ("GET", "POST", "PUT", "DELETE")
#: Seconds a browser may cache a preflight answer (the middleware's default, 20 days).
MAX_AGE = 1_728_000
PREFLIGHT_CONTENT_TYPE = "text/plain"


class CorsPolicy:
    """The allowed origins and the headers the middleware answers for them."""

    def __init__(self, origins: Iterable[str]) -> None:
        normalized = [_normalize(o) for o in origins]
        self.public = "*" in normalized
        self.origins = frozenset(o for o in normalized if o != "*")

    @property
    def enabled(self) -> bool:
        return self.public or bool(self.origins)

    def origin(self, environ: Mapping[str, Any]) -> str | None:
        """The request's origin as the middleware reads it (``null`` is ``file://``)."""
        origin = environ.get("HTTP_ORIGIN") or environ.get("HTTP_X_ORIGIN")
        if origin == "null":
            return "file://"
        return str(origin) if origin else None

    def _allowed(self, environ: Mapping[str, Any]) -> str | None:
        if is_admin_path(str(environ.get("PATH_INFO", ""))):
            return None
        origin = self.origin(environ)
        if origin is None or not (self.public or origin in self.origins):
            return None
        return origin

    def headers(self, environ: Mapping[str, Any]) -> dict[str, str]:
        """The headers added to an answer (none for a request from elsewhere)."""
        origin = self._allowed(environ)
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": "*" if self.public else origin,
            "Access-Control-Allow-Methods": ", ".join(METHODS),
            "Access-Control-Expose-Headers": "",
            "Access-Control-Max-Age": str(MAX_AGE),
            "Access-Control-Allow-Credentials": "true",
        }

    def preflight(self, environ: Mapping[str, Any]) -> list[tuple[str, str]] | None:
        """The preflight answer's headers, or ``None`` when the server should answer instead."""
        if environ.get("REQUEST_METHOD") != "OPTIONS":
            return None
        wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        headers = self.headers(environ)
        if not headers or not wanted or str(wanted).upper() not in METHODS:
            return None
        requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        if requested:
            headers["Access-Control-Allow-Headers"] = str(requested)
        return [("Content-Type", PREFLIGHT_CONTENT_TYPE), *headers.items(), ("Content-Length", "0")]


def _normalize(origin: str) -> str:
    """``localhost:8080`` -> ``http://localhost:8080``; a scheme or ``*`` stays as written."""
    origin = origin.strip()
    if origin == "*" or "://" in origin:
        return origin
    return "http://" + origin
