"""A TLS front for the server under test: the certificate scenarios need an HTTPS endpoint.

The proxy terminates TLS with a throw-away certificate on a local port and relays the bytes, as
they are, to the plain HTTP server under test. So the scenarios work the same whether that server
runs in this process or was started separately. A handshake the client refuses (the point of
the "certificate refused" scenario) just closes that connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

CHUNK = 65536


class TlsProxy:
    """``https://127.0.0.1:<port>`` in front of ``http://<host>:<port>``; ``close`` stops it."""

    def __init__(self, backend: tuple[str, int], cert: Path, key: Path) -> None:
        self.backend = backend
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="tls-proxy", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets = list(self._open)
        # shutdown() wakes a thread blocked in accept() or recv(); close() alone may not.
        for sock in [self.listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                sock.close()
                return False
            self._open.add(sock)
            return True

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self._track(conn):
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()  # the client refused the certificate, or went away
            return
        try:
            upstream = socket.create_connection(self.backend, timeout=30)
        except OSError:
            secure.close()
            return
        upstream.settimeout(None)
        if not (self._track(secure) and self._track(upstream)):
            return
        threading.Thread(target=self._pump, args=(upstream, secure), daemon=True).start()
        self._pump(secure, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` until either ends, then close both."""
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                with self._lock:
                    self._open.discard(sock)
