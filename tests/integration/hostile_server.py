"""A small raw-socket server that speaks just enough of the classic RhoConnect routes to let the
client log in and get a client id, then misbehaves on purpose.

The mock server answers like RhoConnect; this one answers like a broken or hostile peer, which a
WSGI app cannot (it controls the bytes on the socket: lying ``Content-Length``, endless or dripping
bodies, redirects elsewhere). Every mode ends when the server is stopped, so a test that fails never
leaves a thread streaming.

Modes (``HostileServer(mode)``), acting on the query unless said otherwise:

* ``huge_length``: ``Content-Length`` of 10 GB, then a few bytes and silence;
* ``endless_body``: a body without length that never ends (``Connection: close``), as fast as read;
* ``giant_page``: a well-formed page holding ``giant_objects`` objects whatever the page size,
  declaring them in ``count`` (or declaring ``giant_count``, a lie);
* ``token_loop``: every page holds one new object and a new token, ``total_count`` 1;
* ``empty_loop``: every page is empty, with a new token and a ``total_count`` of a million;
* ``drip``: the page's headers, then its body one byte every ``drip_interval`` seconds;
* ``drip_headers``: the status line and headers themselves one byte at a time;
* ``redirect``: ``redirect_status`` to the same path on ``redirect_to`` (another port);
* ``redirect_login``: the same on the login;
* ``redirect_here``: a 307 to the same query on this server (``&redirected=1``), then a last page;
* ``wait_forever``: ``bulk_data`` always answers ``{"result":"wait"}``;
* ``huge_push_answer``: the push (a POST) gets a 10 GB ``Content-Length`` answer; queries end at once.

``sent_bytes`` counts the body bytes of misbehaving answers that reached the socket, ``requests``
lists ``(method, path)`` of every request.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import urllib.parse
from typing import Any

MODES = (
    "huge_length",
    "endless_body",
    "giant_page",
    "token_loop",
    "empty_loop",
    "drip",
    "drip_headers",
    "redirect",
    "redirect_login",
    "redirect_here",
    "wait_forever",
    "huge_push_answer",
)
_CHUNK = 64 * 1024


def page(token: str, count: int, total: int, inserts: dict[str, dict[str, str]]) -> bytes:
    body: list[dict[str, Any]] = [
        {"version": 3},
        {"token": token},
        {"count": count},
        {"progress_count": 0},
        {"total_count": total},
        {"insert": inserts} if inserts else {},
    ]
    return json.dumps(body, separators=(",", ":")).encode()


class HostileServer:
    """``with HostileServer("drip") as srv: srv.url`` -- the classic application URL."""

    def __init__(
        self,
        mode: str,
        *,
        drip_interval: float = 0.3,
        giant_objects: int = 5000,
        giant_count: int | None = None,
        redirect_to: str = "",
        redirect_status: int = 307,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        self.drip_interval = drip_interval
        self.giant_objects = giant_objects
        self.giant_count = giant_count
        self._giant = self._giant_page() if mode == "giant_page" else b""
        self.redirect_to = redirect_to
        self.redirect_status = redirect_status
        self.requests: list[tuple[str, str]] = []
        self.sent_bytes = 0
        self._tokens = itertools.count(1000)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/application"

    def __enter__(self) -> HostileServer:
        self._accepter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._accepter.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ plumbing
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                request = self._read_request(reader)
                if request is None:
                    return
                if not self._answer(conn, *request):
                    return
        except OSError:
            return  # the client cut the connection: what a guarded client does
        finally:
            reader.close()
            conn.close()

    def _read_request(self, reader: Any) -> tuple[str, str, bytes] | None:
        while not self._stop.is_set():
            try:
                line = reader.readline(65536)
            except TimeoutError:
                continue
            if not line:
                return None
            if line.strip():
                break
        else:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        length = 0
        while True:
            header = reader.readline(65536)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = reader.read(length) if length else b""
        with self._lock:
            self.requests.append((method, target))
        return method, target, body

    def _send(self, conn: socket.socket, status: str, headers: dict[str, str], body: bytes) -> None:
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode("latin-1") + body)

    def _json(self, conn: socket.socket, body: bytes, extra: dict[str, str] | None = None) -> bool:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(extra or {})}
        self._send(conn, "200 OK", headers, body)
        return True

    # ------------------------------------------------------------------ routes
    def _answer(self, conn: socket.socket, method: str, target: str, body: bytes) -> bool:
        """Answer one request; False closes the connection."""
        path = urllib.parse.urlsplit(target).path
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
        if path.endswith("/clientlogin"):
            if self.mode == "redirect_login":
                return self._redirect(conn, target)
            return self._json(conn, b"", {"Set-Cookie": "rhoconnect_session=hostile; path=/"})
        if path.endswith("/clientcreate"):
            return self._json(conn, b'{"client":{"client_id":"hostile-client"}}')
        if path.endswith("/bulk_data"):
            return self._json(conn, b'{"result":"wait"}')
        if method == "POST" and self.mode == "huge_push_answer":
            headers = {"Content-Type": "application/json", "Content-Length": str(10 * 1024**3)}
            self._send(conn, "200 OK", headers, b"")
            return False
        if method == "POST":  # a push: accepted, nothing else happens
            return self._json(conn, b"")
        return self._query(conn, target, int(query.get("p_size", "2000")))

    def _query(self, conn: socket.socket, target: str, p_size: int) -> bool:
        mode = self.mode
        if mode == "huge_length":
            headers = {"Content-Type": "application/json", "Content-Length": str(10 * 1024**3)}
            self._send(conn, "200 OK", headers, b'[{"version":3}')
            self._count(14)
            self._stop.wait(30)  # silence: the client must not wait for the rest
            return False
        if mode == "endless_body":
            self._send(conn, "200 OK", {"Content-Type": "application/json", "Connection": "close"}, b"")
            chunk = b'[{"version":3},' + b" " * (_CHUNK - 15)
            while not self._stop.is_set():
                conn.sendall(chunk)
                self._count(len(chunk))
            return False
        if mode == "giant_page":
            return self._json(conn, self._giant)
        if mode == "token_loop":
            oid = f"loop{next(self._tokens)}"
            return self._json(conn, page(str(next(self._tokens)), 1, 1, {oid: {"name": "again"}}))
        if mode == "empty_loop":
            return self._json(conn, page(str(next(self._tokens)), 0, 1_000_000, {}))
        if mode in ("drip", "drip_headers"):
            return self._drip(conn, page("", 1, 1, {"d1": {"name": "dripped"}}))
        if mode == "redirect":
            return self._redirect(conn, target)
        if mode == "redirect_here" and "redirected=1" not in target:
            headers = {"Location": target + "&redirected=1", "Content-Length": "0"}
            self._send(conn, "307 Temporary Redirect", headers, b"")
            return True
        return self._json(conn, page("", 0, 0, {}))

    def _giant_page(self) -> bytes:
        """Built once, before serving: the server's own work is not what a test measures."""
        inserts = {f"g{i}": {"name": f"giant {i}"} for i in range(self.giant_objects)}
        count = self.giant_objects if self.giant_count is None else self.giant_count
        return page("7", count, self.giant_objects, inserts)

    def _redirect(self, conn: socket.socket, target: str) -> bool:
        location = self.redirect_to.rstrip("/") + target
        reason = {301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect"}.get(
            self.redirect_status, "Redirect"
        )
        headers = {"Location": location, "Content-Length": "0"}
        self._send(conn, f"{self.redirect_status} {reason}", headers, b"")
        return True

    def _drip(self, conn: socket.socket, body: bytes) -> bool:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        data = head.encode() + body if self.mode == "drip_headers" else body
        if self.mode == "drip":
            conn.sendall(head.encode())
        for index in range(len(data)):
            if self._stop.wait(self.drip_interval):
                return False
            conn.sendall(data[index : index + 1])
            self._count(1)
        return True

    def _count(self, size: int) -> None:
        with self._lock:
            self.sent_bytes += size


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate`` every 50 ms for at most ``timeout`` seconds."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
