"""Shared plumbing of the protocol blueprints: request classification, parameters, answers.

* The request pipeline calls ``classify()`` before any handler (``flask.g.rc = RequestInfo(...)``,
  so the fault engine and journal see every request in protocol terms) and ``decorate()`` on
  every answer: the headers RhoConnect always sends (``Cache-Control``/``pragma``,
  Rack::Protection's ``X-Content-Type-Options`` and, on HTML, ``X-Frame-Options``/
  ``X-XSS-Protection``, the deprecation ``Warning`` on classic routes).
* ``install(app)`` sets the session cookie without ``Vary`` (and none on bulk files) and the error
  handlers: ``ProtocolError`` as the real server's status and body, Sinatra's 404 for unrouted
  requests, and RhoConnect's ``catch_all`` 500 for an unexpected exception (still journaled).
* A view declares its protocol operation with ``@operation("query")``. Blueprints whose registered
  name starts with ``classic`` are the classic family (``/application/...``), others are REST.
* ``params()`` merges query string, form, JSON body and the multipart ``cud`` part, as RhoConnect's
  parameter parser does; ``client_id()`` prefers the ``X-RhoConnect-CLIENT-ID`` header; numbers are
  read like Ruby's ``to_i`` (``ruby_to_i``) and ``sources`` lists of any shape by ``source_names``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from flask import Flask, Response, current_app, g, request, session
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from ..errors import MalformedBody, NotAuthenticated, ProtocolError, RubyException, UnknownSource, not_a_hash
from ..request_info import Operation, RequestInfo, is_admin_path
from ..state import MockState, state_of
from ..store import Client
from .session_cookie import SessionCookie

F = TypeVar("F", bound=Callable[..., Any])

HTML = "text/html;charset=utf-8"
JSON = "application/json"
CLIENT_ID_HEADER = "X-RhoConnect-CLIENT-ID"
SESSION_USER_KEY = "login"
#: A random id in every session, like Rack's ``session_id``: it makes an anonymous session non-empty.
SESSION_ID_KEY = "sid"
#: Sinatra's body for a path no route serves (RhoConnect answers it as ``text/html;charset=utf-8``).
NOT_FOUND_BODY = "<h1>Not Found</h1>"


def operation(name: Operation) -> Callable[[F], F]:
    """Mark a view with the protocol operation it serves (read by the request classifier)."""

    def mark(view: F) -> F:
        view._rc_operation = name  # type: ignore[attr-defined]
        return view

    return mark


def state() -> MockState:
    """The state of the app handling this request."""
    return state_of(current_app)


def info() -> RequestInfo:
    """This request's ``RequestInfo`` (a bare one outside the classifier, e.g. in unit tests)."""
    rc: RequestInfo | None = g.get("rc")
    if rc is None:
        rc = g.rc = RequestInfo(operation="other")
    return rc


# --------------------------------------------------------------------------- parameters


def _rack_nested(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Rack-style parsing of ``sources[][name]=A&sources[][token]=T&search[k]=v`` keys.

    A new element of ``x[]`` starts when a key repeats inside the current one, as in Rack.
    """
    out: dict[str, Any] = {}
    for key, value in items:
        if "[" not in key or not key.endswith("]"):
            out[key] = value
            continue
        head, _, rest = key.partition("[")
        parts = rest[:-1].split("][")
        if parts[0] == "" and len(parts) == 2:
            seq = out.setdefault(head, [])
            if not isinstance(seq, list):
                continue
            if not seq or not isinstance(seq[-1], dict) or parts[1] in seq[-1]:
                seq.append({})
            seq[-1][parts[1]] = value
        elif parts[0] == "" and len(parts) == 1:
            seq = out.setdefault(head, [])
            if isinstance(seq, list):
                seq.append(value)
        elif len(parts) == 1:
            table = out.setdefault(head, {})
            if isinstance(table, dict):
                table[parts[0]] = value
        else:
            out[key] = value
    return out


def params() -> dict[str, Any]:
    """All request parameters merged (body wins over query string); cached per request.

    Raises ``MalformedBody`` for a JSON body that does not parse (only when the content type
    starts with ``application/json``, like RhoConnect), and Rack's ``TypeError`` for JSON that
    parses to something other than an object (``[null,null]``, ``7``), which it cannot merge.
    On the classic CUD route an empty multipart ``cud`` part is the JSON parser's own message,
    as RhoConnect's source lookup parses that part before anything else.
    """
    cached: dict[str, Any] | None = g.get("_rc_params")
    if cached is not None:
        return cached
    # parse_qsl keeps the query's order; MultiDict.items(multi=True) groups values by key, which
    # would pair sources[][name]=A&sources[][token]=T&sources[][name]=B... wrongly (Rack pairs in order).
    merged = _rack_nested(parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True))
    ctype = request.headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        raw = request.get_data(cache=True)
        if raw.strip():
            body = _json_value(raw)
            if not isinstance(body, dict):
                raise not_a_hash(body)
            merged.update(body)
    elif ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
        merged.update(_rack_nested(list(request.form.items(multi=True))))
        cud = request.form.get("cud")
        if cud is None and "cud" in request.files:
            part = request.files["cud"]
            part.stream.seek(0)  # the classifier may have read it already
            cud = part.read().decode("utf-8", "replace")
        if cud is not None:
            if not cud.strip() and info().family == "classic":
                raise RubyException(f"unexpected token at '{cud}'")
            body = _json_value(cud)
            if not isinstance(body, dict):
                raise MalformedBody()
            merged.update(body)
    g._rc_params = merged
    return merged


def _json_value(raw: bytes | str) -> Any:
    """Pushed JSON, or ``MalformedBody`` (RhoConnect's answer to client data it cannot read).

    Besides JSON that does not parse, this refuses JSON nested too deeply for the parser and
    strings holding a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON): stored, such a string
    could never be encoded as UTF-8 again, so every page that carries it would fail, for every
    client that shares the data. Whether the value must be an object, and what answers it when it
    is not, is the caller's: RhoConnect answers differently for a body and for a ``cud`` part.
    """
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedBody() from None
    if not utf8_encodable(body, raw):
        raise MalformedBody()
    return body


def utf8_encodable(value: Any, raw: bytes | str) -> bool:
    """Whether ``value``, parsed from the JSON text ``raw``, encodes as UTF-8 again.

    A lone surrogate can only come from a ``\\u`` escape, or from UTF-8-style bytes ``ED A0..BF``
    that Python's JSON parser lets through: text with neither skips the check.
    """
    if isinstance(raw, bytes):
        if b"\\u" not in raw and b"\xed" not in raw:
            return True
    elif "\\u" not in raw:
        try:
            raw.encode("utf-8")
            return True
        except UnicodeEncodeError:
            return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def source_names(raw: Any) -> list[str] | None:
    """Source names from a ``sources`` parameter; ``None`` when it is absent (meaning "all").

    Accepts what the clients send (``"A,B"``, ``["A"]``, ``[{"name": "A"}]``, Rack's
    ``sources[][name]``); elements of any other shape are skipped rather than failing the request.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return [n for n in (s.strip() for s in raw.split(",")) if n]
    if isinstance(raw, dict):
        raw = [raw]
    names: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str | int) and not isinstance(name, bool) and str(name):
            names.append(str(name))
    return names


def client_id() -> str | None:
    """The client id: ``X-RhoConnect-CLIENT-ID`` header first, then the ``client_id`` parameter."""
    header = request.headers.get(CLIENT_ID_HEADER)
    if header:
        return header
    value = params().get("client_id")
    return str(value) if value not in (None, "") else None


_RUBY_INT = re.compile(r"\s*([+-]?\d+(?:_\d+)*)")


def ruby_to_i(value: Any, default: int) -> int:
    """``value.to_i`` as RhoConnect (Ruby) reads a numeric parameter; ``default`` when absent.

    A string gives its leading integer (``"12abc"`` -> 12, ``"1e3"`` -> 1, ``"abc"`` -> 0); a JSON
    number its integer part; anything else (a list, a table, ``true``) counts as absent, where
    Ruby would raise and the real server would answer an unhelpful 500.
    """
    if value is None or value == "" or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        m = _RUBY_INT.match(value)
        return int(m.group(1).replace("_", "")) if m else 0
    return default


def p_size(default: int = 500) -> int:
    """The page size parameter (objects per page); RhoConnect's default is 500, read with ``to_i``.

    Zero or less gives an empty page that changes nothing (recorded exchanges errors-18 to errors-20).
    """
    return ruby_to_i(params().get("p_size"), default)


def current_user() -> str:
    """The logged-in user of this session, or ``NotAuthenticated`` (401 text/plain).

    The body is read first: RhoConnect parses it in a middleware, before any route's checks.
    """
    params()
    user = session.get(SESSION_USER_KEY)
    if not user:
        raise NotAuthenticated()
    info().user = str(user)
    return str(user)


def require_client() -> Client:
    """The session user's client named by this request, or 401/500 as the real server answers."""
    user = current_user()
    cid = client_id()
    info().client_id = cid
    return state().client(cid, user)


#: A name Ruby's ``Object.const_get`` accepts: RhoConnect looks a model class up by the source name.
_RUBY_CONSTANT = re.compile(r"[A-Z][A-Za-z0-9_]*\Z")


def check_source_name(name: str) -> None:
    """A source the mock does not serve must at least be a valid Ruby constant name.

    RhoConnect 7.8 looks the source's model class up by its name, so a name such as ``nosuch``,
    ``null,null`` or a non-ASCII one is a 500 ``wrong constant name <name>``; a valid unknown
    name (``Nosuch``) gets the page with a source error.
    """
    if name not in state().sources and not is_ruby_constant(name):
        raise RubyException(f"wrong constant name {name}")


def is_ruby_constant(name: str) -> bool:
    """Whether ``name`` is a valid Ruby constant name (ASCII capital first)."""
    return _RUBY_CONSTANT.match(name) is not None


def source_client(source: str) -> Client:
    """A REST route naming ``source`` in its path: login, then the source name, then the client."""
    info().source = source
    current_user()
    check_source_name(source)
    return require_client()


def classic_source_client() -> tuple[Client, str]:
    """A classic route naming the source in ``source_name``: the client, then the source.

    Login (401) and client (500 ``Unknown client``) are checked first; a missing ``source_name``
    is RhoConnect's 500 ``Unknown source`` (recorded exchange errors-26), an empty one ``wrong constant
    name `` (Ruby's empty string is a name, but no constant).
    """
    client = require_client()
    source = params().get("source_name")
    if source is None:
        raise UnknownSource()
    info().source = str(source)
    check_source_name(str(source))
    return client, str(source)


# --------------------------------------------------------------------------- answers


def empty_ok() -> Response:
    """RhoConnect's empty 200 (``text/html;charset=utf-8``)."""
    return text_response("", 200)


def text_response(body: str, status: int, content_type: str = HTML) -> Response:
    # exact bytes: given as ``content_type``, werkzeug adds no "; charset=utf-8" (a mimetype would)
    return Response(body, status=status, content_type=content_type)


def json_response(body: bytes, token: str | None = None, count: int | None = None) -> Response:
    """A JSON answer (``application/json``, no charset), with page headers when given."""
    resp = Response(body, status=200, content_type=JSON)
    if token:
        resp.headers["X-Rhoconnect-PAGE-TOKEN"] = token
        info().token_issued = token
    if count is not None:
        resp.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] = str(count)
    return resp


# --------------------------------------------------------------------------- app hooks


def classify() -> RequestInfo:
    """This request in protocol terms (also kept on ``flask.g.rc`` for the handlers to fill in)."""
    view = current_app.view_functions.get(request.endpoint or "")
    op: Operation = getattr(view, "_rc_operation", "other")
    if is_admin_path(request.path):
        op = "admin"
    blueprint = request.blueprint or ""
    rc = RequestInfo(operation=op)
    if op not in ("admin", "other"):
        rc.family = "classic" if blueprint.startswith("classic") else "rest"
    g.rc = rc
    if op in ("admin", "other"):
        return rc
    try:
        p = params()
    except ProtocolError:  # answered by the handler; the classification goes without parameters
        p = {}
    sent_id = p.get("client_id")
    rc.client_id = request.headers.get(CLIENT_ID_HEADER) or (str(sent_id) if sent_id else None)
    if request.view_args and request.view_args.get("client_id"):
        rc.client_id = str(request.view_args["client_id"])
    src = (request.view_args or {}).get("source") or p.get("source_name")
    rc.source = str(src) if src else None
    token = p.get("token")
    rc.token_sent = str(token) if token not in (None, "") else None
    sources = p.get("sources")
    if isinstance(sources, list):
        rc.sources = [str(s.get("name")) if isinstance(s, dict) else str(s) for s in sources]
        if op == "search" and sources and isinstance(sources[0], dict) and sources[0].get("token"):
            rc.token_sent = str(sources[0]["token"])
    elif isinstance(sources, str):
        rc.sources = [s for s in sources.split(",") if s]
    rc.user = session.get(SESSION_USER_KEY)
    return rc


def decorate(resp: Response, rc: RequestInfo | None) -> Response:
    """The headers every RhoConnect answer carries (see the module docstring)."""
    bulk_file = rc is not None and rc.operation == "bulk_file"
    if not bulk_file:  # the files are served as static files, without the server's before filter
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["pragma"] = "no-cache"
    # Rack::Protection on every answer of RhoConnect 7.8: nosniff everywhere, the frame and XSS
    # headers only on HTML answers (the empty 200s, 500s and login 401s; not JSON, not text/plain).
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if (resp.headers.get("Content-Type") or "").startswith("text/html"):
        resp.headers["X-Frame-Options"] = "SAMEORIGIN"
        resp.headers["X-XSS-Protection"] = "1; mode=block"
    # Only answers that got through the route's checks carry it: RhoConnect's 401/500 from its
    # login/client/source conditions do not (recorded exchange errors-26).
    if rc is not None and rc.family == "classic" and resp.status_code < 400:
        resp.headers["Warning"] = (
            f"Use of the {request.method} {request.path} is deprecated. Use Rhoconnect API v1 instead."
        )
    return resp


def _protocol_error(exc: ProtocolError) -> Response:
    return text_response(exc.body, exc.status, exc.content_type)


def _unexpected(exc: InternalServerError) -> Response:
    """An exception nobody expected: RhoConnect's ``catch_all`` answers 500 with its message.

    The request pipeline has already recorded it (the journal's error list, which makes the pytest
    plugin fail the test); this only replaces Flask's HTML error page with the real server's shape.
    """
    original = exc.original_exception
    message = str(original) if original is not None and str(original) else "Internal server error"
    return text_response(message, 500)


def _no_route(exc: HTTPException) -> Response:
    """Sinatra's answer for a path (or a method on a path) no route serves: 404 ``<h1>Not Found</h1>``.

    Flask would answer 405 for a known path with another method; RhoConnect has no 405. Under
    ``/_mock/`` the admin API answers in its own JSON error shape.
    """
    if is_admin_path(request.path):
        what = "no such admin route" if exc.code == 404 else f"{request.method} not allowed here"
        resp = Response(json.dumps({"error": what, "field": "path"}), status=exc.code or 404)
        resp.headers["Content-Type"] = "application/json"
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 asks it of a 405
        return resp
    return text_response(NOT_FOUND_BODY, 404)


def install(app: Flask) -> None:
    """Attach the session interface and the protocol's error handlers (the request pipeline
    calls ``classify`` and ``decorate`` itself)."""
    app.session_interface = SessionCookie()
    app.register_error_handler(ProtocolError, _protocol_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(404, _no_route)
    app.register_error_handler(405, _no_route)
