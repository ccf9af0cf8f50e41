"""Limits of one HTTP exchange that ``requests`` does not give: a way to cut a request at its
deadline, and the redirect policy.

Why cutting is needed: the ``requests`` timeout applies to each socket read, so a server that sends
one byte every few seconds keeps a request (headers or body) alive forever, and the thread reading
it cannot be interrupted from outside. Every request runs on a helper thread under a *call id*;
the connection classes below note which connection that call is using, so that the waiting thread
can shut the socket down when the deadline passes (or ``stop_sync`` abandons the call) and the
blocked read ends at once.

Why a redirect policy: following a redirect to another origin re-sends the login (with the
password), the pushed changes and the client id to whoever the server names; a 301/302/303 turns a
POST into a GET. Only same-origin redirects that keep the method are followed.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .exceptions import ConnectionFailed, ResponseTooLarge

__all__ = [
    "MAX_REDIRECTS",
    "POOL_CLASSES",
    "CallScope",
    "capped",
    "cut",
    "redirect_refusal",
    "refuse_announced",
    "too_many_redirects",
]

MAX_REDIRECTS = 5
_KEEPS_METHOD = frozenset({307, 308})

_lock = threading.Lock()
_inflight: dict[int, HTTPConnection] = {}
_current = threading.local()
_ids = itertools.count(1)


class CallScope:
    """Marks the helper thread as running one call: ``with CallScope() as call_id: ...``."""

    def __init__(self) -> None:
        self.call_id = next(_ids)

    def __enter__(self) -> int:
        _current.call_id = self.call_id
        return self.call_id

    def __exit__(self, *exc: object) -> None:
        _current.call_id = None
        with _lock:
            _inflight.pop(self.call_id, None)


def _note(conn: HTTPConnection) -> None:
    call_id = getattr(_current, "call_id", None)
    if call_id is not None:
        with _lock:
            _inflight[call_id] = conn


def cut(call_id: int) -> None:
    """Shut down the socket the call is using (if any): its blocked read returns at once."""
    with _lock:
        conn = _inflight.pop(call_id, None)
    sock = getattr(conn, "sock", None) if conn is not None else None
    if sock is None:
        return
    # The plain socket's shutdown, also under TLS: it only wakes the reader, it does not unwrap the
    # TLS layer from under the other thread. OSError: already closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _TrackedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _note(self)
        super().request(*args, **kwargs)


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


# For urllib3's ``PoolManager.pool_classes_by_scheme``.
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def redirect_refusal(
    url: str, target: str, method: str, status: int, *, replayable: bool = True
) -> str | None:
    """Why the redirect from ``url`` to ``target`` must not be followed, or None to follow it.

    ``replayable`` False: the request body cannot be sent again (streamed files).
    """
    here, there = _origin(url), _origin(target)
    if here[0] == "https" and there[0] != "https":
        return "it leaves https for an unencrypted connection"
    if here != there:
        return "it leads to another origin than the sync server"
    if method.upper() not in ("GET", "HEAD") and status not in _KEEPS_METHOD:
        return f"it would turn the {method.upper()} into a GET"
    if not replayable and status in _KEEPS_METHOD and method.upper() not in ("GET", "HEAD"):
        return "the request body cannot be sent again"
    return None


def too_many_redirects(url: str) -> ConnectionFailed:
    return ConnectionFailed(f"more than {MAX_REDIRECTS} redirects from {urllib.parse.urlsplit(url).netloc}")


# ---------------------------------------------------------------------------- body size
def refuse_announced(content_length: str | None, limit: int, url: str) -> None:
    """Fail before reading when ``Content-Length`` already says the body is over ``limit``."""
    announced = (content_length or "").strip()
    if announced.isdigit() and int(announced) > limit:
        raise _too_large(url, limit, f" (Content-Length {announced})")


def capped(chunks: Iterable[bytes], limit: int, url: str) -> Iterator[bytes]:
    """The chunks of a body, raising ``ResponseTooLarge`` as soon as they add up to over ``limit``."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(url, limit, "")
        yield chunk


def _too_large(url: str, limit: int, detail: str) -> ResponseTooLarge:
    where = urllib.parse.urlsplit(url).netloc
    return ResponseTooLarge(f"answer from {where} is larger than the {_size(limit)} limit{detail}")


def _size(count: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"
