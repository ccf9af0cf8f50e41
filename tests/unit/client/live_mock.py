"""The real mock server for the client's unit tests, with what a test needs around it.

The engine talks HTTP to a ``MockServer`` running in this process (one per test module, reset
before each test), so every answer it gets is the mock's own, byte for byte. Failures come from
the mock's fault rules (``server.fail(...)``); what the client sent is read from the mock's journal.

Two things the mock has no rule for are done here, around its WSGI app:

* ``Gates``: hold chosen requests before the mock sees them until the test lets them go, so a
  test can act while a request is in flight (``stop_sync``, ``close``, a second command) knowing
  that it is, instead of sleeping and hoping;
* ``CallbackReceiver``: a small HTTP server standing for an app's notification URL.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from rhoconnect_mock import MockServer
from rhoconnect_mock.journal import JournalEntry

WAIT = 10.0
USERS = {"alice": "secret", "bob": "secret"}
# The network timeout of an engine that must see a request time out (``lose_answer``).
SHORT_TIMEOUT = 1.5

Records = dict[str, dict[str, str]]
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def mock_config(data: dict[str, Records], folder: Path, **options: Any) -> dict[str, Any]:
    """A mock config serving exactly ``data`` (for every user) to the users in ``USERS``.

    Bulk files are ready at the first ``bulk_data`` poll; a test that wants ``wait`` answers says
    so with a fault rule.
    """
    path = folder / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return {"data": str(path), "users": dict(USERS), "bulk_wait_polls": 0, **options}


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds.

    For outcomes that no event announces (a row written by another thread, a file closed); where
    an event exists, wait for the event instead.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def lose_answer(server: MockServer, operation: str, **match: Any) -> None:
    """The next ``operation`` request is not processed, and no answer comes within ``SHORT_TIMEOUT``.

    A request lost on the way: the handler does not run (a ``status`` rule answers instead) and
    that answer is held back (a ``delay`` rule) until the client has given up.
    """
    server.fail(operation, status=503, times=1, **match)
    server.fail(operation, "delay", seconds=SHORT_TIMEOUT + 0.5, times=1, **match)


# ---------------------------------------------------------------------------- reading the mock


def records(server: MockServer, source: str, user: str | None = "alice") -> Records:
    """What the server holds of ``source`` for ``user`` now."""
    return {oid: dict(attrs) for oid, attrs in server.state.records(source, user).items()}


def requests_of(server: MockServer, operation: str, source: str | None = None) -> list[JournalEntry]:
    """The journal's requests of one operation (``query``, ``cud``, ``login``...), oldest first."""
    filters: dict[str, Any] = {"operation": operation}
    if source is not None:
        filters["source"] = source
    return list(server.journal(**filters))


def pushed_bodies(server: MockServer, source: str | None = None) -> list[dict[str, Any]]:
    """The JSON bodies of the CUD posts, in order (keys in the order they were sent)."""
    return [json.loads(entry.request_body or "{}") for entry in requests_of(server, "cud", source)]


def query_params(entry: JournalEntry) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(entry.query_string, keep_blank_values=True)


def searched(entry: JournalEntry) -> list[tuple[str, str | None]]:
    """The ``(source, token)`` pairs of a classic search request, in order."""
    pairs: list[tuple[str, str | None]] = []
    for key, value in query_params(entry):
        if key == "sources[][name]":
            pairs.append((value, None))
        elif key == "sources[][token]":
            pairs[-1] = (pairs[-1][0], value)
    return pairs


# ---------------------------------------------------------------------------- holding requests


@dataclass
class Gate:
    """One held kind of request: ``arrived`` is set when the first one reaches the gate, ``done``
    when the mock has answered it after ``release``. Later matching requests pass freely."""

    method: str
    path: str
    query: str
    hold: bool
    arrived: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def matches(self, environ: dict[str, Any]) -> bool:
        return (
            environ.get("REQUEST_METHOD") == self.method
            and environ.get("PATH_INFO") == self.path
            and self.query in urllib.parse.unquote(environ.get("QUERY_STRING", ""))
        )

    def release(self) -> None:
        self.opened.set()

    def wait_arrived(self, timeout: float = WAIT) -> None:
        assert self.arrived.wait(timeout), f"no {self.method} {self.path} request arrived"


class Gates:
    """WSGI middleware in front of the mock's app: see the module docstring."""

    def __init__(self, app: Flask) -> None:
        self._inner: WSGIApp = app.wsgi_app
        app.wsgi_app = self  # type: ignore[method-assign]
        self._lock = threading.Condition()
        self._gates: list[Gate] = []
        self._active = 0

    def hold(self, method: str, path: str, query: str = "") -> Gate:
        """Hold the next request ``method path`` (whose decoded query contains ``query``)."""
        gate = Gate(method, path, query, hold=True)
        with self._lock:
            self._gates.append(gate)
        return gate

    def watch(self, method: str, path: str, query: str = "") -> Gate:
        """Like ``hold`` but never holds: only ``arrived`` and ``done`` are of use."""
        gate = Gate(method, path, query, hold=False)
        gate.opened.set()
        with self._lock:
            self._gates.append(gate)
        return gate

    def reset(self, timeout: float = WAIT) -> None:
        """Let every held request go, wait until none is in flight, forget the gates.

        Between tests: a request a test abandoned (stopped, closed) must reach the mock before the
        next test's reset, or it would land in that test's journal.
        """
        with self._lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release()
        with self._lock:
            assert self._lock.wait_for(lambda: self._active == 0, timeout), "requests still in flight"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        with self._lock:
            gate = next((g for g in self._gates if not g.arrived.is_set() and g.matches(environ)), None)
            self._active += 1
        try:
            if gate is not None:
                gate.arrived.set()
                gate.opened.wait(WAIT * 3)
            answer = self._inner(environ, start_response)
            try:
                yield from answer
            finally:
                close = getattr(answer, "close", None)
                if close is not None:  # WSGI: the server closes what the app returned, through us
                    close()
        finally:
            if gate is not None:
                gate.done.set()
            with self._lock:
                self._active -= 1
                self._lock.notify_all()


# ---------------------------------------------------------------------------- notification URLs


class CallbackReceiver:
    """An app's notification URL: records every form POSTed to it and answers ``""`` (200)."""

    def __init__(self) -> None:
        self.posted: list[list[tuple[str, str]]] = []
        received = self.posted

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                received.append(urllib.parse.parse_qsl(body, keep_blank_values=True))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/notify"

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT)
