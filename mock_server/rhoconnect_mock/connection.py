"""What one client connection may take from the server: bounded time and size for reading a request.

cheroot gives each request a worker thread and times out each socket read separately, so a client
that sends one byte a second holds its worker for as long as it likes, and a few such clients
stop the server. Here:

* reading a request (request line, headers and body) has one total deadline, counted from the
  moment a worker takes the connection (``DeadlineSocketIO``); past it the read fails as a timeout
  (cheroot answers 408 while the headers are read; a body answers 400);
* headers over the limit are answered 431 (cheroot says 413), a body over it 413 before it is read;
* a request carrying both ``Content-Length`` and ``Transfer-Encoding`` is refused with 400 (the two
  disagree on where the body ends: RFC 9112 lets a server refuse it, and request smuggling starts there);
* the body is read whole before the app runs (``BodyFirstGateway``), so a body that ends early,
  is badly chunked or trickles past the deadline is answered 400 by the server itself and never
  reaches the app as an unexpected error.

Requests are read through a lean buffered reader (``DeadlineReader``) rather than cheroot's
pure-Python one, which took about half of the time cheroot spent parsing a request.
Answers are written straight to the socket (``SocketWriter``): cheroot's writer copies every
write into a buffer and copies the buffer again for each ``send``, twice the bytes of a page.

Each refusal closes the connection: what follows on the socket cannot be trusted to start a request.
Every answer the server gives itself (these refusals, cheroot's own 400, 408, 414...) is recorded in
the app's journal like a request the app answered (``Pipeline.refused``).
"""

from __future__ import annotations

import io
import socket
import sys
import time
from typing import Any

from cheroot import errors, wsgi
from cheroot.makefile import MakeFile, StreamReader, StreamWriter
from cheroot.server import HTTPConnection, HTTPRequest

from .pipeline import Pipeline

#: The WSGI environ key that carries the raw client socket (network faults reset connections with it).
SOCKET_ENVIRON_KEY = "rhoconnect_mock.socket"


class DeadlineSocketIO(socket.SocketIO):
    """A socket's raw reader whose reads, together, end at ``deadline`` (``time.monotonic()``), if set.

    It stays a ``SocketIO`` so that closing it releases the socket as cheroot's own reader does.
    """

    def __init__(self, sock: socket.socket, per_read_timeout: float | None) -> None:
        super().__init__(sock, "rb")
        self._socket = sock
        self.per_read_timeout = per_read_timeout
        self.deadline: float | None = None

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes from the socket (``b""`` at its end), within the deadline."""
        if self.deadline is None:
            return self._socket.recv(size)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")  # the text cheroot recognises as a read timeout
        if self.per_read_timeout is not None and remaining >= self.per_read_timeout:
            # The socket's own timeout ends first: nothing to change (``settimeout`` is a system
            # call that lets other threads take the interpreter, twice per read otherwise).
            return self._socket.recv(size)
        self._socket.settimeout(remaining)
        try:
            return self._socket.recv(size)
        finally:
            self._socket.settimeout(self.per_read_timeout)

    def readinto(self, b: Any) -> int | None:
        data = self.recv(len(b))
        b[: len(data)] = data
        return len(data)


class DeadlineReader:
    """The connection's buffered reader, over a ``DeadlineSocketIO``: what cheroot reads a request with.

    cheroot's reader is the pure-Python ``_pyio`` buffered reader, and reading the request line and
    headers through it (a ``readline`` per line, each taking locks and peeking in a loop) was about
    a sixth of the server's time per request. This one keeps the bytes received in one buffer and
    finds line ends with ``bytes.find``. It offers what cheroot uses of its reader: ``readline``
    and ``read`` (a size or all), ``has_data`` (bytes already buffered: a pipelined request),
    ``bytes_read``, ``close`` and ``closed``. Every socket read goes through the deadline.
    """

    #: The most a large ``read`` (a body) asks the socket for at once, straight past the buffer.
    LARGE_READ = 1 << 20

    def __init__(self, raw: DeadlineSocketIO, bufsize: int) -> None:
        self.raw = raw
        self._chunk = max(bufsize, io.DEFAULT_BUFFER_SIZE)
        self._buf = b""
        self._pos = 0
        self.bytes_read = 0

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)

    def close(self) -> None:
        self._buf, self._pos = b"", 0
        self.raw.close()

    def has_data(self) -> bool:
        """Whether bytes are already buffered (the next request can be read without waiting)."""
        return self._pos < len(self._buf)

    def _fill(self) -> bool:
        """One socket read appended to what is unread; ``False`` at the end of the stream."""
        data = self.raw.recv(self._chunk)
        if not data:
            return False
        unread = self._buf[self._pos :]
        self._buf = unread + data if unread else data
        self._pos = 0
        return True

    def _take(self, size: int) -> bytes:
        start = self._pos
        self._pos = start + size
        self.bytes_read += size
        return self._buf[start : self._pos]

    def readline(self, size: int | None = -1) -> bytes:
        """Bytes up to and including the next ``\\n``, at most ``size`` (less at the end of the stream)."""
        limit = sys.maxsize if size is None or size < 0 else size
        while True:
            end = self._buf.find(b"\n", self._pos, self._pos + limit)
            if end >= 0:
                return self._take(end + 1 - self._pos)
            buffered = len(self._buf) - self._pos
            if buffered >= limit or not self._fill():
                return self._take(min(buffered, limit))

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (all until the end of the stream when ``None`` or negative), fewer only
        at the end of the stream. A large read goes to the socket directly, not through the buffer."""
        wanted = sys.maxsize if size is None or size < 0 else size
        parts: list[bytes] = []
        while wanted:
            buffered = len(self._buf) - self._pos
            if buffered:
                part = self._take(min(buffered, wanted))
                parts.append(part)
                wanted -= len(part)
            elif wanted < self._chunk:
                if not self._fill():
                    break
            else:
                data = self.raw.recv(min(wanted, self.LARGE_READ))
                if not data:
                    break
                self.bytes_read += len(data)
                parts.append(data)
                wanted -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)


class SocketWriter(StreamWriter):
    """cheroot's socket writer without its buffer: each write goes to ``send`` as it is.

    Every write was already sent at once (cheroot flushes on each write); here the bytes are
    not copied on the way, and a large answer is sent from a view of it, resuming where a
    partial ``send`` stopped. Each ``send`` keeps the socket's own timeout, as before.
    """

    def __init__(self, sock: socket.socket, bufsize: int) -> None:
        super().__init__(sock, "wb", bufsize)
        self._socket = sock

    def write(self, b: Any) -> int:
        self._checkClosed()
        with memoryview(b) as view:
            size = view.nbytes
            sent = 0
            while sent < size:
                sent += self._socket.send(view[sent:])
        self.bytes_written += size
        return size


def journal_refusal(req: HTTPRequest, status: str, message: str) -> None:
    """Record an answer the server gave without the app in the app's journal (if it has one)."""
    pipeline = getattr(req.server.wsgi_app, "pipeline", None)
    if not isinstance(pipeline, Pipeline):
        return
    method = getattr(req, "method", None)
    target = getattr(req, "uri", None)
    pipeline.refused(
        method.decode("ISO-8859-1") if isinstance(method, bytes) else "",
        target.decode("ISO-8859-1") if isinstance(target, bytes) else "",
        int(status.split(" ", 1)[0]),
        message.encode("ISO-8859-1", "replace"),
    )


class BoundedRequest(HTTPRequest):
    """cheroot's request with a 431 for large headers and no Content-Length beside Transfer-Encoding."""

    def read_request_headers(self) -> bool:
        if not super().read_request_headers():  # type: ignore[no-untyped-call]
            return False
        if b"Transfer-Encoding" in self.inheaders and b"Content-Length" in self.inheaders:
            self.simple_response(
                "400 Bad Request", "A request may not carry both Content-Length and Transfer-Encoding."
            )
            self.close_connection = True
            return False
        return True

    def simple_response(self, status: str, msg: str = "") -> None:
        if not (str(status).startswith("413") and "headers" in msg):
            super().simple_response(status, msg)
            if str(status)[:3] in ("413", "414") and self.response_protocol != "HTTP/1.1":
                status = "400 Bad Request"  # what cheroot sends an HTTP/1.0 client instead
            journal_refusal(self, str(status), msg)
            return
        # cheroot's 413 for headers, as RFC 6585's 431; the rest of the headers is unread: close
        self.close_connection = True
        body = msg.encode("ISO-8859-1")
        head = (
            f"{self.server.protocol} 431 Request Header Fields Too Large\r\n"
            f"Content-Length: {len(body)}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        )
        self.conn.wfile.write(head.encode("ISO-8859-1") + body)
        journal_refusal(self, "431 Request Header Fields Too Large", msg)


class BoundedConnection(HTTPConnection):
    """A connection whose next request must be read within the server's ``request_read_timeout``."""

    RequestHandlerClass = BoundedRequest

    def __init__(self, server: Any, sock: socket.socket, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self._deadline_io: DeadlineSocketIO | None = None
        if type(self.rfile) is StreamReader:  # a plain or built-in TLS socket (not pyOpenSSL's)
            self._deadline_io = DeadlineSocketIO(sock, server.timeout)
            self.rfile = DeadlineReader(self._deadline_io, self.rbufsize)
        if type(self.wfile) is StreamWriter:
            self.wfile = SocketWriter(sock, self.wbufsize)

    def communicate(self) -> bool:
        # The worker took the connection because bytes (or its end) arrived: the clock starts now.
        reader = self._deadline_io
        if reader is not None:
            reader.deadline = time.monotonic() + self.server.request_read_timeout
        try:
            return bool(super().communicate())  # type: ignore[no-untyped-call]
        finally:
            if reader is not None:
                reader.deadline = None


class BodyFirstGateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway that reads the whole body before the app, and passes the socket."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        env: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        env[SOCKET_ENVIRON_KEY] = self.req.conn.socket
        return env

    def respond(self) -> None:
        try:
            body = self._read_body()
        except errors.MaxSizeExceeded:
            self._refuse(
                "413 Request Entity Too Large", "The request body exceeds the maximum allowed bytes."
            )
            return
        except (OSError, ValueError) as exc:  # a timeout, a connection error, a bad chunk size line
            self._refuse("400 Bad Request", f"The request body could not be read: {exc}.")
            return
        self.env["wsgi.input"] = io.BytesIO(body)
        super().respond()

    def _read_body(self) -> bytes:
        req = self.req
        if req.chunked_read:
            # cheroot's ChunkedRFile raises MaxSizeExceeded, or IOError past the limit
            try:
                return bytes(req.rfile.read())
            except OSError as exc:
                if "Too Large" in str(exc):
                    raise errors.MaxSizeExceeded() from None
                raise
        length = int(req.inheaders.get(b"Content-Length", 0) or 0)
        body = bytes(req.rfile.read(length)) if length else b""
        if len(body) < length:
            raise ValueError(f"the connection ended after {len(body)} of {length} bytes")
        return body

    def _refuse(self, status: str, message: str) -> None:
        """Answer without the app; the connection closes after it (where the body ends is unknown)."""
        self.req.close_connection = True
        data = message.encode("ascii", "replace")
        self.start_response(
            status,
            [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))],
        )
        self.write(data)
        journal_refusal(self.req, status, message)
