"""One request on its way through the pipeline: the journal entry while it is still open.

The pipeline opens an ``Exchange`` when a request arrives and fills it in step by step: the
classification, the fault rules that fired, the answer the app produced, and finally how that
answer went out on the wire (complete, reset, truncated, delayed). ``close`` turns it into the
``JournalEntry``; it is called exactly once whatever happened, so an exception at any step still
leaves a complete entry.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from flask import Request, Response

from .faults import FaultContext, FaultRule
from .journal import Journal, JournalEntry
from .request_info import RequestInfo

#: Where the pipeline keeps the exchange of a request (in its WSGI environ).
ENVIRON_KEY = "rhoconnect_mock.exchange"


def _text(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="replace")


def _has_body(environ: dict[str, Any]) -> bool:
    """Whether the request may carry a body: werkzeug reads none without a ``Content-Length``
    (or with 0) unless the server says the input ends by itself (a chunked body)."""
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or bool(environ.get("wsgi.input_terminated"))


def _head(response: Response, limit: int) -> bytes:
    """The first ``limit`` bytes of a buffered body, without joining a large page into a copy."""
    head = b""
    for chunk in response.iter_encoded():
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit]


@dataclass
class Exchange:
    """What is known so far about one request and its answer."""

    method: str
    path: str
    query_string: str
    started: float = field(default_factory=time.perf_counter)
    rc: RequestInfo | None = None
    #: The fault rules that fired on the request, and what their actions see of it.
    fired: list[FaultRule] = field(default_factory=list)
    fault_context: FaultContext | None = None
    request_body: str | None = None
    status: int | None = None
    content_type: str | None = None
    response_bytes: int | None = None
    response_body: bytes | None = None
    handled_ms: float | None = None
    outcome: str = "complete"
    bytes_sent: int | None = None
    delay_seconds: float = 0.0
    error: str | None = None
    closed: bool = False

    @classmethod
    def open(cls, environ: dict[str, Any]) -> Exchange:
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")),
            path=str(environ.get("PATH_INFO", "")),
            query_string=str(environ.get("QUERY_STRING", "")),
        )

    @property
    def journaled(self) -> bool:
        """Admin requests (and requests that never got classified) stay out of the journal."""
        return self.rc is not None and self.rc.operation != "admin"

    def answered(self, request: Request, response: Response, body_limit: int) -> None:
        """The app's answer is final (inside the request context, so the bodies are readable)."""
        self.handled_ms = (time.perf_counter() - self.started) * 1000
        self.path = request.path
        self.status = response.status_code
        self.content_type = response.content_type
        self.response_bytes = response.content_length
        self.bytes_sent = response.content_length
        if not self.journaled:
            return
        # login bodies carry passwords; most requests (queries) carry no body to read
        if self.rc is not None and self.rc.operation != "login" and _has_body(request.environ):
            self.request_body = _text(request.get_data(cache=True), body_limit) or None
        if not response.direct_passthrough and response.is_sequence:
            self.response_body = _head(response, body_limit)

    def failed(self, exc: BaseException) -> str:
        """An unexpected exception: its message (what the client gets in the 500)."""
        self.error = str(exc) or "Internal server error"
        return self.error

    def delivered(self, outcome: str, status: int | None, body: bytes, delay_seconds: float) -> None:
        """How a network fault delivered the answer: ``body`` is what the client gets of it."""
        self.outcome = outcome
        self.status = status
        self.bytes_sent = len(body)
        self.response_body = body
        self.delay_seconds += delay_seconds

    def close(self, journal: Journal) -> JournalEntry | None:
        """Record the entry (once); ``None`` for a request the journal does not keep."""
        if self.closed:
            return None
        self.closed = True
        if not self.journaled:
            return None
        rc = self.rc
        assert rc is not None
        handled = (
            self.handled_ms if self.handled_ms is not None else (time.perf_counter() - self.started) * 1000
        )
        body = self.response_body
        return journal.record(
            time=time.time(),
            method=self.method,
            path=self.path,
            query_string=self.query_string,
            operation=rc.operation,
            family=rc.family,
            source=rc.source,
            sources=list(rc.sources),
            user=rc.user,
            client_id=rc.client_id,
            token_sent=rc.token_sent,
            token_issued=rc.token_issued,
            status=self.status,
            content_type=self.content_type,
            response_bytes=self.response_bytes,
            duration_ms=round(handled, 3),
            faults=[rule.id for rule in self.fired],
            actions=[rule.action.type for rule in self.fired],
            request_body=self.request_body,
            response_body=None if body is None else _text(body, journal.body_limit),
            outcome=self.outcome,
            bytes_sent=self.bytes_sent,
            delay_ms=round(self.delay_seconds * 1000, 3) if self.delay_seconds else None,
            error=self.error,
        )


def error_record(exchange: Exchange, exc: BaseException, operation: str | None) -> dict[str, Any]:
    """The entry of the unexpected-error list for ``exc`` (with its traceback)."""
    return {
        "time": time.time(),
        "method": exchange.method,
        "path": exchange.path,
        "operation": operation,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
