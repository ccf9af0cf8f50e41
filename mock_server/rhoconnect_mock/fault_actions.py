"""What fault rules do: the actions, in the three places they can act.

* ``before_handler``: answers instead of the handler (``status``, ``bulk``), or prepares the
  state so the real handler produces the failure itself (``adapter_error`` arms the simulated
  adapter, ``schema_changed`` bumps the schema version, ``expire_session`` empties the session),
  so the error pages are the protocol layer's own, byte for byte.
* ``after_handler``: rewrites the real response (``headers``, ``status`` with ``run_handler``,
  ``wrong_version``, ``empty_array``, ``out_of_order``, ``malformed_json``, ``corrupt_file``) or
  changes the backend between pages (``backend_change``).
* ``network``: runs in the WSGI middleware with the raw connection (``delay``, ``trickle``,
  ``reset``, ``truncate``).

A reset drops the connection with ``SO_LINGER`` (on, 0) so the kernel sends RST (not FIN), and
leaves the WSGI server a harmless spare socket under the same descriptor (see ``_reset``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import flask
from flask import Flask, Response

from .fault_rules import FaultRule
from .request_info import RequestInfo
from .state import MockState, state_of

logger = logging.getLogger(__name__)

NETWORK_ACTIONS = frozenset({"delay", "trickle", "reset", "truncate"})
SOCKET_KEY = "rhoconnect_mock.socket"
HTML = "text/html;charset=utf-8"

# The bodies the real server sends with these statuses (errors transcript); others are empty.
DEFAULT_BODIES: dict[int, tuple[str, str]] = {
    401: ("Not authenticated", "text/plain"),
    500: ("Unknown client", HTML),
}


def _state(app: Flask) -> MockState:
    return state_of(app)


# -- before the handler ----------------------------------------------------------------------------


def before_handler(app: Flask, rc: RequestInfo, fired: list[FaultRule]) -> Response | None:
    """Apply the before-handler actions; return a response to send instead of the handler's."""
    answer: Response | None = None
    for rule in fired:
        action = rule.action
        kind = action.type
        if kind == "status" and not action.get("run_handler", False):
            answer = answer or status_response(action.params)
        elif kind == "bulk":
            result = action.get("result")
            payload = {"result": "url", "url": ""} if result == "empty_url" else {"result": result}
            answer = answer or Response(_json(payload), 200, content_type="application/json")
        elif kind == "adapter_error":
            _arm_adapter(app, rc, rule)
        elif kind == "schema_changed":
            source = action.get("source") or rc.source
            if source is None:
                logger.warning("rule %s: schema_changed needs a source (none in the request)", rule.id)
            else:
                _state(app).bump_schema_version(source)
        elif kind == "expire_session":
            _expire_session(rc)
        elif kind == "delay" and action.get("before_handler", False):
            time.sleep(delay_seconds(rule))
    return answer


def status_response(params: Any) -> Response:
    """A response with the rule's status, body, content type and headers."""
    status: int = params["status"]
    default_body, default_type = DEFAULT_BODIES.get(status, ("", HTML))
    body = params.get("body", default_body)
    if isinstance(body, str):
        data = body.encode("utf-8")
        content_type = params.get("content_type", HTML if "body" in params else default_type)
    else:
        data = _json(body)
        content_type = params.get("content_type", "application/json")
    response = Response(data, status, content_type=content_type)
    for name, value in params.get("headers", {}).items():
        response.headers[name] = value
    return response


def _arm_adapter(app: Flask, rc: RequestInfo, rule: FaultRule) -> None:
    action = rule.action
    stage: str = action.get("stage")
    # The source the rule names (in its action, else in its match) wins over the request's: a search
    # lists several sources, and a rule matched on one of them must fail that one only.
    named = action.get("source") or rule.match.source
    sources = [named] if named else ([rc.source] if rc.source else rc.sources)
    if not sources:
        logger.warning("rule %s: adapter_error needs a source (none in the request)", rule.id)
        return
    objects: list[str] | None = action.get("objects")
    count = action.get("count") or (len(objects) if objects else 1)
    message = action.get("message", f"{stage} error injected by rhoconnect-mock")
    user = rc.user or rule.match.user
    for source in sources:
        _state(app).fail_adapter(stage, source, message, user=user, objects=objects, times=count)


def _expire_session(rc: RequestInfo) -> None:
    # An emptied session makes the protocol layer answer its own 401 "Not authenticated".
    # modified=False keeps Flask from sending a cookie deletion the real server would not send.
    flask.session.clear()
    flask.session.modified = False
    rc.user = None


# -- after the handler -------------------------------------------------------------------------------


def after_handler(app: Flask, rc: RequestInfo, fired: list[FaultRule], response: Response) -> Response:
    """Apply the response-rewriting actions in rule order."""
    for rule in fired:
        action = rule.action
        kind = action.type
        if kind == "status" and action.get("run_handler", False):
            response = status_response(action.params)
        elif kind == "headers":
            for name in action.get("remove", []):
                del response.headers[name]
            for name, value in action.get("set", {}).items():
                response.headers[name] = value
        elif kind in ("wrong_version", "empty_array", "out_of_order"):
            _rewrite_page(response, rule)
        elif kind == "malformed_json":
            data = response.get_data()
            response.set_data(action.get("body") or (data[:-1] if len(data) > 1 else b"{"))
        elif kind == "corrupt_file":
            _corrupt(response, rule)
        elif kind == "backend_change":
            _backend_change(app, rc, rule)
    return response


def _rewrite_page(response: Response, rule: FaultRule) -> None:
    kind = rule.action.type
    if kind == "empty_array":
        response.set_data(b"[]")
        response.content_type = "application/json"
        return
    try:
        page = json.loads(response.get_data())
    except ValueError:
        logger.warning("rule %s: %s needs a JSON response; left unchanged", rule.id, kind)
        return
    if not isinstance(page, list):
        return
    # A search answer is an array of per-source arrays: rewrite each of them.
    arrays = page if page and all(isinstance(p, list) for p in page) else [page]
    for array in arrays:
        if kind == "wrong_version":
            if array and isinstance(array[0], dict) and "version" in array[0]:
                array[0] = {"version": rule.action.get("version", 2)}
        else:
            order: list[int] = rule.action.get("order") or list(range(len(array)))[::-1]
            picked = [array[i] for i in order if i < len(array)]
            rest = [item for i, item in enumerate(array) if i not in order]
            array[:] = picked + rest
    response.set_data(_json(page))


def _corrupt(response: Response, rule: FaultRule) -> None:
    response.direct_passthrough = False  # files are streamed; we need the bytes
    data = bytearray(response.get_data())
    limit = rule.action.get("bytes")
    if rule.action.get("mode", "corrupt") == "truncate":
        data = data[: len(data) // 2 if limit is None else limit]
    else:
        start = len(data) // 3
        for i in range(start, min(len(data), start + (32 if limit is None else limit))):
            data[i] ^= 0xFF
    response.set_data(bytes(data))
    for name in ("ETag", "Content-MD5", "Accept-Ranges"):
        response.headers.pop(name, None)


def _backend_change(app: Flask, rc: RequestInfo, rule: FaultRule) -> None:
    action = rule.action
    source = action.get("source") or rc.source
    user = action.get("user") or rc.user or rule.match.user
    if source is None:
        logger.warning("rule %s: backend_change needs a source (none in the request)", rule.id)
        return
    state = _state(app)
    for oid, attrs in action.get("insert", {}).items():
        state.backend_insert(source, user, oid, attrs)
    for oid, attrs in action.get("update", {}).items():
        state.backend_update(source, user, oid, attrs)
    for oid in action.get("delete", []):
        state.backend_delete(source, user, oid)


# -- on the wire -------------------------------------------------------------------------------------


def delay_seconds(rule: FaultRule) -> float:
    """The delay of a ``delay`` rule: fixed, or drawn from its own seeded generator."""
    params = rule.action.params
    if "seconds" in params:
        return float(params["seconds"])
    rng: random.Random = rule.scratch.setdefault("delay_rng", random.Random(params.get("seed", 0)))
    return rng.uniform(params["min"], params["max"])


def network(
    environ: dict[str, Any],
    start_response: Any,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    rules: list[FaultRule],
) -> Any:
    """Deliver ``status``/``headers``/``body`` the way the network rules say."""
    for rule in rules:
        if rule.action.type == "delay" and not rule.action.get("before_handler", False):
            time.sleep(delay_seconds(rule))
    for rule in rules:
        kind = rule.action.type
        if kind == "reset":
            if rule.action.get("at", "before_headers") == "after_headers":
                write = start_response(status, headers)
                write(b"")  # cheroot sends the status line and headers now
            _reset(environ)
        if kind == "truncate":
            keep = rule.action.get("bytes")
            part = body[: len(body) // 2 if keep is None else keep]
            return _truncated(start_response(status, headers), part)
        if kind == "trickle":
            start_response(status, headers)
            return _trickle(body, rule.action.get("chunk_size", 64), rule.action.get("interval", 0.05))
    start_response(status, headers)
    return [body]


def _reset(environ: dict[str, Any]) -> None:
    sock: socket.socket | None = environ.get(SOCKET_KEY)
    if sock is None:
        raise RuntimeError("connection faults need the rhoconnect-mock WSGI server (no raw socket)")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Swap a fresh, unconnected socket in under the same descriptor number: the connection's last
    # reference goes away with linger (on, 0), so the kernel sends RST right now, while the server
    # keeps a valid descriptor to shut down and close later (a plain close() would let it shut
    # the real connection down with FIN first, or touch a descriptor number reused elsewhere).
    with socket.socket(sock.family, socket.SOCK_STREAM) as spare:
        os.dup2(spare.fileno(), sock.fileno())
    # cheroot treats ECONNRESET as a client going away: no log, no 500, connection dropped.
    raise ConnectionResetError(errno.ECONNRESET, "connection reset by a fault rule")


def _truncated(write: Any, part: bytes) -> Iterator[bytes]:
    if part:
        yield part
    else:
        write(b"")
    # Stop short of Content-Length; cheroot then closes the connection normally (FIN).
    raise ConnectionAbortedError(errno.ECONNABORTED, "body truncated by a fault rule")


def _trickle(body: bytes, size: int, interval: float) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        if i:
            time.sleep(interval)
        yield body[i : i + size]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
