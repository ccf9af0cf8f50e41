"""The request pipeline: every request goes through the same explicit sequence of steps.

1. open the request's journal entry (an ``Exchange``), at the WSGI level; answer a CORS
   preflight when cross-origin requests are enabled (``cors``), and take the session from the
   URL on the ``/api`` alias (``xdomain``);
2. classify the request in protocol terms (``api.common.classify``);
3. let the fault rules decide which of them fire;
4. run the handler, or the answer a fault gives instead (with the fault actions that act
   before the handler);
5. shape the answer: the protocol's common headers, then the fault rewrites, then the session,
   then the cross-domain login body and the CORS headers;
6. apply network faults (delay, trickle, reset, truncation) while writing it to the socket;
7. close the journal entry with what the client actually received.

Classifying, deciding, handling and shaping need Flask's request context, so ``MockFlask`` routes
its two documented override points (``full_dispatch_request`` and ``process_response``) to the
pipeline; opening the entry, the network faults and closing the entry wrap the Flask app as a WSGI
callable. An exception at any step still closes the entry: Flask's
own error handling turns it into RhoConnect's 500 with the message (recorded as ``error``), and
an exception outside Flask is answered the same way here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request, request_started
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from . import xdomain
from .api import common
from .cors import CorsPolicy
from .errors import ProtocolError
from .exchange import ENVIRON_KEY, Exchange, error_record
from .faults import FaultContext, FaultEngine, FaultRule, network
from .journal import Journal, JournalEntry
from .request_info import RequestInfo, is_admin_path
from .state import MockState

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class MockFlask(Flask):
    """Flask with its dispatch and response processing handed to the app's ``Pipeline``."""

    pipeline: Pipeline

    def full_dispatch_request(self) -> Response:
        self._got_first_request = True
        return self.pipeline.dispatch()

    def process_response(self, response: Response) -> Response:
        response = self.pipeline.shape(response)
        response = super().process_response(response)
        self.pipeline.cross_origin(response)
        self.pipeline.answered(response)
        return response

    def handle_exception(self, e: Exception) -> Response:
        self.pipeline.failed(e)
        return super().handle_exception(e)


class Pipeline:
    """The steps one request goes through, for one app (installed as ``app.wsgi_app``)."""

    def __init__(self, app: MockFlask, state: MockState, faults: FaultEngine, journal: Journal) -> None:
        self.app = app
        self.state = state
        self.faults = faults
        self.journal = journal
        self._flask_wsgi: WSGIApp = app.wsgi_app
        self._observers: list[Callable[[JournalEntry], None]] = []
        self.cors = CorsPolicy(state.config.cors)
        self.classic_prefix = state.config.classic_prefix
        app.pipeline = self
        app.wsgi_app = self  # type: ignore[method-assign]

    def observe(self, observer: Callable[[JournalEntry], None]) -> None:
        """Call ``observer`` with every journal entry as it is recorded (e.g. a console log)."""
        self._observers.append(observer)

    def _close(self, exchange: Exchange) -> None:
        entry = exchange.close(self.journal)
        if entry is None:
            return
        for observer in self._observers:
            try:
                observer(entry)
            except Exception:  # an observer's failure must not change the answer
                log.exception("request observer %r failed", observer)

    # -- open, network faults, close: the WSGI level ---------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        exchange = Exchange.open(environ)
        environ[ENVIRON_KEY] = exchange
        preflight = self.cors.preflight(environ) if self.cors.enabled else None
        if preflight is not None:
            return self._preflight(exchange, preflight, start_response)
        xdomain.session_from_query(environ, self.classic_prefix)
        try:
            try:
                status, headers, result = self._run_app(environ)
                plan = self.faults.plan(exchange.fired)
                body = b"" if plan is None else _drain(result)
            except Exception as exc:  # a failure outside Flask's own handling (a bug in a step here)
                log.exception("request pipeline failed on %s %s", exchange.method, exchange.path)
                return self._internal_error(exchange, exc, start_response)
            if plan is None:  # the common case: the answer goes out as it is
                self._close(exchange)
                start_response(status, headers)
                return result
            reached = None if plan.ending == "reset_before_headers" else int(status.split(" ", 1)[0])
            exchange.delivered(plan.ending or "complete", reached, network.body_sent(plan, body), plan.delay)
            self._close(exchange)  # before the wire actions: a reset ends the request
            return network.deliver(plan, environ, start_response, status, headers, body)
        finally:
            self._close(exchange)  # every path leaves the entry recorded (once)

    def refused(self, method: str, target: str, status: int, body: bytes) -> None:
        """A request the server answered itself, before the app (malformed, too large, too slow).

        The app never saw it, but its client got an answer: the journal and the console log show it
        like any other request (operation ``other``, the answer's ``text/plain`` message as body).
        """
        path, _, query = target.partition("?")
        exchange = Exchange(method=method, path=path, query_string=query)
        # an admin request stays out of the journal, as always
        exchange.rc = RequestInfo(operation="admin" if is_admin_path(path) else "other")
        exchange.status, exchange.content_type = status, "text/plain"
        exchange.response_body, exchange.bytes_sent, exchange.response_bytes = body, len(body), len(body)
        self._close(exchange)

    def _run_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return _no_write

        result = self._flask_wsgi(environ, capture)
        return captured["status"], captured["headers"], result

    def _preflight(
        self, exchange: Exchange, headers: list[tuple[str, str]], start_response: StartResponse
    ) -> list[bytes]:
        """A CORS preflight, answered before the server as the middleware does (journaled)."""
        exchange.rc = RequestInfo(operation="other")
        exchange.status, exchange.content_type = 200, dict(headers)["Content-Type"]
        exchange.response_body, exchange.bytes_sent, exchange.response_bytes = b"", 0, 0
        self._close(exchange)
        start_response("200 OK", headers)
        return [b""]

    def _internal_error(
        self, exchange: Exchange, exc: Exception, start_response: StartResponse
    ) -> list[bytes]:
        """RhoConnect's ``catch_all`` 500 with the message, for a failure outside Flask."""
        self.failed(exc, exchange)
        message = (exchange.error or "").encode("utf-8")
        exchange.status, exchange.content_type = 500, common.HTML
        exchange.response_body, exchange.bytes_sent = message, len(message)
        self._close(exchange)
        start_response("500 Internal Server Error", [("Content-Type", common.HTML)])
        return [message]

    # -- classify, decide, handle: in Flask's request context ------------------------------------------------

    def dispatch(self) -> Response:
        """Classify, let the rules decide, then the handler or the fault's answer; then finalise."""
        app = self.app
        exchange = _exchange()
        rc = exchange.rc = common.classify()
        if isinstance(request.routing_exception, RequestRedirect):
            # Werkzeug redirects ``/x`` to a route ``/x/`` (308); Sinatra has no such rule: not found.
            request.routing_exception = NotFound()
        try:
            fired = self._decide(exchange, rc)
            answer = None
            if fired:
                exchange.fault_context = FaultContext(self.state, rc)
                answer = self.faults.before(exchange.fault_context, fired)
            rv: ResponseReturnValue | None = answer
            request_started.send(app, _async_wrapper=app.ensure_sync)
            if rv is None:
                rv = app.preprocess_request()  # blueprint checks (the admin token)
            if rv is None:
                rv = app.dispatch_request()
        except Exception as exc:
            rv = app.handle_user_exception(exc)
        return app.finalize_request(rv)

    def _decide(self, exchange: Exchange, rc: RequestInfo) -> list[FaultRule]:
        if not self.faults.rules or rc.operation == "admin":
            return []
        fired = self.faults.fire(rc, _login_name() if rc.operation == "login" else None)
        exchange.fired = fired
        return fired

    # -- shape: the answer's headers and rewrites ------------------------------------------------------------

    def shape(self, response: Response) -> Response:
        """The protocol's common headers, then the fault rewrites (once, even on an error path)."""
        exchange = _exchange()
        response = common.decorate(response, exchange.rc)
        ctx, exchange.fault_context = exchange.fault_context, None  # rewrite once, even on an error path
        if ctx is not None:
            exchange.delay_seconds += ctx.delay_before
            response = self.faults.after(ctx, exchange.fired, response)
        return response

    def cross_origin(self, response: Response) -> None:
        """The cross-domain login body on the ``/api`` alias, then the CORS headers (after the
        session is saved: the body carries its cookie)."""
        xdomain.login_body(request.path, self.classic_prefix, response)
        if self.cors.enabled:
            response.headers.update(self.cors.headers(request.environ))

    def answered(self, response: Response) -> None:
        """The final answer of the app, seen inside the request context."""
        _exchange().answered(request, response, self.journal.body_limit)

    def failed(self, exc: BaseException, exchange: Exchange | None = None) -> None:
        """An unexpected exception: on the entry as ``error``, and in the journal's error list."""
        exchange = exchange or _exchange()
        exchange.failed(exc)
        operation = exchange.rc.operation if exchange.rc is not None else None
        self.journal.record_error(error_record(exchange, exc, operation))


def pipeline_of(app: Flask) -> Pipeline:
    """The request pipeline of an app made by ``create_app``."""
    if not isinstance(app, MockFlask):
        raise TypeError("not an app made by create_app (no request pipeline)")
    return app.pipeline


def _exchange() -> Exchange:
    exchange: Exchange | None = request.environ.get(ENVIRON_KEY)
    if exchange is None:  # the Flask app called without its pipeline (e.g. a test client on wsgi_app)
        exchange = request.environ[ENVIRON_KEY] = Exchange.open(request.environ)
    return exchange


def _login_name() -> str | None:
    """The login a login request carries (JSON or form), or ``None`` if it cannot be read."""
    try:
        login = common.params().get("login")
    except ProtocolError:
        return None
    return str(login) if login is not None else None


def _no_write(data: bytes) -> None:  # pragma: no cover - Flask never uses the legacy write callable
    raise RuntimeError("write() is not supported through the request pipeline")


def _drain(result: Iterable[bytes]) -> bytes:
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
