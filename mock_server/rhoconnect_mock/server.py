"""Serving the app: a production-grade threaded WSGI server (cheroot) and ``MockServer``.

``MockServer`` runs a ``create_app`` app on 127.0.0.1 and a free port in a background thread,
for tests and embedding (``with MockServer() as server: ... server.url``). It is the app's
``ControlService`` (faults, journal, data, reset) plus the server's lifecycle. The WSGI environ
of every request carries the raw client socket as ``environ["rhoconnect_mock.socket"]`` so
network faults can reset connections.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType, TracebackType
from typing import Any

from cheroot import connections, wsgi
from flask import Flask

from .app import create_app
from .config import MockConfig
from .connection import SOCKET_ENVIRON_KEY, BodyFirstGateway, BoundedConnection
from .control import ControlService
from .faults import engine_of
from .journal import journal_of
from .state import state_of

log = logging.getLogger(__name__)

__all__ = ["SOCKET_ENVIRON_KEY", "MockServer", "WSGIServer", "make_server", "serve_until_stopped"]


#: At most this many connections are taken from the listen backlog per wake-up of the serve loop,
#: so connections already open (whose next requests wait in the same loop) still get their turn.
ACCEPT_BATCH = 64


class BacklogConnections(connections.ConnectionManager):
    """cheroot's connection manager, taking every waiting connection when the listen socket wakes.

    cheroot accepts one connection per turn of its serve loop, and under load that loop waits for
    the interpreter behind the worker threads before each turn: when 200 clients connect at
    once, the last ones waited a second or more for ``accept()`` while the connections already
    open were served many times over (the first page of a fresh connection was the slowest
    answer by far). Here one turn takes the whole backlog (the listen socket is non-blocking,
    so an empty backlog ends the turn), up to ``ACCEPT_BATCH``, in arrival order.
    """

    def _from_server_socket(self, server_socket: Any) -> Any:
        conn = super()._from_server_socket(server_socket)  # type: ignore[misc]
        for _ in range(ACCEPT_BATCH - 1):
            if conn is None:
                break
            following = super()._from_server_socket(server_socket)  # type: ignore[misc]
            if following is None:
                break
            self.server.process_conn(conn)
            conn = following
        return conn


class WSGIServer(wsgi.Server):
    """cheroot's threaded server with bounded request reading (see ``connection``) and the
    listen backlog taken in batches (``BacklogConnections``)."""

    ConnectionClass = BoundedConnection

    def __init__(self, bind_addr: tuple[str, int], app: Flask, cfg: MockConfig) -> None:
        # cheroot's defaults (listen backlog 5, 10 idle keep-alive connections) reset the
        # connections of the 11th client that keeps one open: sync clients all do.
        super().__init__(
            bind_addr,
            app,
            numthreads=cfg.threads,
            server_name="rhoconnect-mock",
            request_queue_size=256,
            accepted_queue_size=-1,
        )
        self.max_request_header_size = cfg.max_header_size
        self.max_request_body_size = cfg.max_body_size
        self.keep_alive_conn_limit = 4096
        self.gateway = BodyFirstGateway
        #: Seconds a client has to send a whole request once a worker takes its connection.
        self.request_read_timeout: float = cfg.request_timeout

    def prepare(self) -> None:
        """Bind and listen as cheroot does, then accept through ``BacklogConnections``."""
        super().prepare()
        # accept() on an empty backlog must return at once (cheroot treats EAGAIN as "none");
        # accepted sockets get their own timeout from cheroot either way.
        self.socket.setblocking(False)
        own: connections.ConnectionManager = self._connections
        own.close()  # cheroot's own manager: nothing is registered on it but the listen socket
        self._connections: connections.ConnectionManager = BacklogConnections(self)


def make_server(app: Flask, host: str, port: int) -> WSGIServer:
    """A ready-to-start server for ``app`` with its configured limits (``prepare()`` binds)."""
    return WSGIServer((host, port), app, state_of(app).config)


def serve_until_stopped(
    server: WSGIServer,
    stop_signals: tuple[int, ...] = (signal.SIGTERM,),
    announce: Callable[[], None] | None = None,
) -> None:
    """Serve a prepared server until Ctrl-C or one of ``stop_signals``, then stop it cleanly.

    ``announce`` (the banner) runs once the stop handlers are in place, so whoever waits for it may
    stop the server at once and still get a clean stop.

    The serve loop runs in its own thread and the main thread only waits. A stop request (the
    signal handler, or Ctrl-C's ``KeyboardInterrupt``) therefore lands in that wait, never inside
    cheroot's own code: an exception raised there at an arbitrary point (e.g. while a worker queue's
    lock is held) could leave the shutdown path waiting forever. ``stop()`` then runs in a normal
    context and joins the worker threads.
    """
    stopping = threading.Event()

    def serve() -> None:
        try:
            server.serve()
        finally:
            stopping.set()  # the loop ended on its own (an error): stop too

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in stop_signals}
    thread = threading.Thread(target=serve, name="rhoconnect-mock-serve", daemon=True)
    thread.start()
    try:
        if announce is not None:
            announce()
        while not stopping.wait(0.5):  # a timed wait keeps Ctrl-C responsive on every platform
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        thread.join(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class MockServer(ControlService):
    """A mock RhoConnect server on a free loopback port, in a thread.

    ``MockServer(config=None)``; ``start()``/``stop()`` or ``with``; ``.url`` (classic application
    URL), ``.base_url``, ``.admin_url``, ``.app``, ``.state``; and every ``ControlService``
    operation (``fail``, ``journal``, ``reset``...) on its app.
    """

    def __init__(
        self,
        config: MockConfig | Mapping[str, Any] | None = None,
        *,
        app: Flask | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app: Flask = app if app is not None else create_app(config)
        super().__init__(state_of(self.app), engine_of(self.app), journal_of(self.app))
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (kept after ``stop()`` so URLs stay printable)."""
        if self._bound_port is None:
            raise RuntimeError("server not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def admin_url(self) -> str:
        """The admin API root, ``<base_url>/_mock/``."""
        return self.base_url + "/_mock/"

    @property
    def url(self) -> str:
        """The classic application URL clients use as ``syncserver``."""
        return self.base_url + self.state.config.classic_prefix

    def start(self) -> MockServer:
        """Bind and serve in a daemon thread; returns once the port accepts connections."""
        if self._server is not None:
            return self
        server = make_server(self.app, self._host, self._port)
        # The serve loop notices stop() within this many seconds; short keeps test teardown fast.
        server.expiration_interval = 0.05
        server.prepare()
        self._server = server
        self._bound_port = int(server.bind_addr[1])
        self._thread = threading.Thread(target=server.serve, name="rhoconnect-mock", daemon=True)
        self._thread.start()
        log.info("mock RhoConnect server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.stop()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
