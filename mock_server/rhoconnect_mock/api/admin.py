"""The mock's admin API under ``/_mock/``: test control over HTTP (not part of the protocol).

Reset the state; add, list and clear fault rules; set, seed or change a source's records for a
user; read and clear the request journal and the unexpected-error list; inspect clients,
pending pages and client documents. JSON in and out; a bad request gets a 400 whose body names
the field (``{"error": "...", "field": "action.status"}``). When the server has an admin token
(``--admin-token``) every admin request must carry ``Authorization: Bearer <token>`` or
``X-Admin-Token: <token>``, else 401. Described in ``specs/mock-admin.openapi.yaml``.

Admin requests are classified as operation ``admin``: the fault engine never faults them and the
journal does not record them, so reading the journal does not change it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..fault_rules import ACTION_TYPES, MATCHABLE_OPERATIONS, FaultRuleError
from ..faults import engine_of
from ..journal import journal_of

bp = Blueprint("rhoconnect_mock_admin", __name__, url_prefix="/_mock")

MAX_SEED = 1_000_000  # larger datasets belong in the start-up config (--records)
JOURNAL_NUMBERS = ("status", "since", "limit")
JOURNAL_FILTERS = (
    "operation",
    "family",
    "source",
    "user",
    "client_id",
    "token_sent",
    "token_issued",
    "method",
    "path",
    "faults",
)


class AdminError(HTTPException):
    """An admin request we refuse: status, message and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = status
        self.message = message
        self.field = field


def _fail(status: int, message: str, field: str | None = None) -> NoReturn:
    raise AdminError(status, message, field)


@bp.errorhandler(AdminError)
def _admin_error(exc: AdminError) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    return jsonify(body), exc.code or 400


@bp.before_request
def _check_token() -> Response | None:
    token = getattr(_state().config, "admin_token", None)
    if not token:
        return None
    given = request.headers.get("X-Admin-Token")
    auth = request.headers.get("Authorization", "")
    if given is None and auth.startswith("Bearer "):
        given = auth[len("Bearer ") :]
    if given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return None
    response = jsonify({"error": "admin token required: send Authorization: Bearer <token>"})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="rhoconnect-mock admin"'
    return response


def _state() -> Any:
    return current_app.extensions["rhoconnect_mock"]


def _body(default: Any = None) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if default is None:
            _fail(400, "a JSON body is required", "body")
        return default
    try:
        return request.get_json(force=True)
    except HTTPException:
        _fail(400, "the body is not valid JSON", "body")


def _source(name: str) -> str:
    if name not in _state().sources:
        _fail(404, f"unknown source {name!r}", "source")
    return name


# -- index and reset -----------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """What the admin API offers (also a cheap liveness check)."""
    return jsonify(
        {
            "service": "rhoconnect-mock admin",
            "endpoints": sorted(
                r.rule for r in current_app.url_map.iter_rules() if r.rule.startswith("/_mock")
            ),
            "operations": list(MATCHABLE_OPERATIONS),
            "action_types": list(ACTION_TYPES),
        }
    )


@bp.post("/reset")
def reset() -> Response:
    """Fresh state: data as configured, no clients; start-up rules back; empty journal.

    Body (optional): ``{"data": bool, "faults": bool, "journal": bool}`` to reset only some parts.
    """
    body = _body(default={})
    if not isinstance(body, Mapping):
        _fail(400, "must be an object", "body")
    parts = {}
    for key in ("data", "faults", "journal"):
        value = body.get(key, True)
        if not isinstance(value, bool):
            _fail(400, "must be true or false", key)
        parts[key] = value
    unknown = sorted(set(body) - set(parts))
    if unknown:
        _fail(400, "unknown key; expected data, faults, journal", unknown[0])
    if parts["data"]:
        _state().reset()
    if parts["faults"]:
        engine_of(current_app).reset()
    if parts["journal"]:
        journal_of(current_app).clear()
    return jsonify({"reset": [k for k, v in parts.items() if v]})


# -- fault rules ---------------------------------------------------------------------------------


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify({"faults": engine_of(current_app).describe()})


@bp.post("/faults")
def add_faults() -> tuple[Response, int]:
    """Add one rule (an object) or several (``{"faults": [...]}`` or a list); all or nothing."""
    body = _body()
    engine = engine_of(current_app)
    try:
        if isinstance(body, list):
            rules = engine.add_many(body, "faults")
        elif isinstance(body, Mapping) and set(body) == {"faults"}:
            rules = engine.add_many(body["faults"], "faults")
        else:
            rules = [engine.add(body)]
    except FaultRuleError as exc:
        _fail(400, str(exc), exc.field)
    return jsonify({"faults": [r.describe() for r in rules]}), 201


@bp.delete("/faults")
def clear_faults() -> Response:
    engine = engine_of(current_app)
    count = len(engine.rules)
    engine.clear()
    _state().clear_adapter_failures()  # failures the rules armed go with them
    return jsonify({"cleared": count})


@bp.get("/faults/<rule_id>")
def get_fault(rule_id: str) -> Response:
    rule = engine_of(current_app).get(rule_id)
    if rule is None:
        _fail(404, f"no fault rule {rule_id!r}", "id")
    return jsonify(rule.describe())


@bp.delete("/faults/<rule_id>")
def delete_fault(rule_id: str) -> Response:
    if not engine_of(current_app).remove(rule_id):
        _fail(404, f"no fault rule {rule_id!r}", "id")
    return jsonify({"cleared": 1})


@bp.delete("/adapter_failures")
def clear_adapter_failures() -> Response:
    """Every simulated adapter works again (armed by ``adapter_error`` rules or Python)."""
    _state().clear_adapter_failures()
    return jsonify({"cleared": True})


# -- data ------------------------------------------------------------------------------------------


@bp.get("/sources")
def list_sources() -> Response:
    return jsonify(
        {
            "sources": [
                {
                    "name": s.name,
                    "partition": s.partition,
                    "priority": s.priority,
                    "attributes": list(s.attributes),
                    "schema": s.schema,
                }
                for s in _state().sources.values()
            ]
        }
    )


@bp.get("/sources/<source>/users/<user>/records")
def get_records(source: str, user: str) -> Response:
    records = _state().records(_source(source), user)
    return jsonify(
        {
            "source": source,
            "user": user,
            "count": len(records),
            "records": {k: dict(v) for k, v in records.items()},
        }
    )


@bp.put("/sources/<source>/users/<user>/records")
def set_records(source: str, user: str) -> Response:
    """Make the records exactly the body (``{"id": {"attr": "value"}}`` or ``{"records": {...}}``)."""
    body = _body()
    if isinstance(body, Mapping) and set(body) == {"records"}:
        body = body["records"]
    records = _records(body, "records")
    _state().set_records(_source(source), user, records)
    return jsonify({"source": source, "user": user, "count": len(records)})


@bp.post("/sources/<source>/users/<user>/seed")
def seed_records(source: str, user: str) -> Response:
    """Replace the records by ``count`` generated ones (``{"count": 100, "seed": 7}``)."""
    body = _body()
    if not isinstance(body, Mapping):
        _fail(400, "must be an object with count (and seed)", "body")
    unknown = sorted(set(body) - {"count", "seed"})
    if unknown:
        _fail(400, "unknown key; expected count, seed", unknown[0])
    count = body.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SEED:
        _fail(400, f"must be an integer between 0 and {MAX_SEED}", "count")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        _fail(400, "must be an integer", "seed")
    _state().seed_records(_source(source), user, count, seed)
    return jsonify({"source": source, "user": user, "count": len(_state().records(source, user))})


@bp.post("/sources/<source>/users/<user>/changes")
def push_changes(source: str, user: str) -> Response:
    """Backend changes every client gets on its next query.

    Body: ``{"insert": {id: attrs}, "update": {id: attrs}, "delete": [id, ...]}`` (any of them).
    """
    body = _body()
    if not isinstance(body, Mapping) or not body:
        _fail(400, "must be an object with insert, update and/or delete", "body")
    unknown = sorted(set(body) - {"insert", "update", "delete"})
    if unknown:
        _fail(400, "unknown key; expected insert, update, delete", unknown[0])
    inserts = _records(body.get("insert", {}), "insert")
    updates = _records(body.get("update", {}), "update")
    deletes = body.get("delete", [])
    if not isinstance(deletes, list) or not all(isinstance(d, str) for d in deletes):
        _fail(400, "must be a list of object ids", "delete")
    state = _state()
    _source(source)
    for oid, attrs in inserts.items():
        state.backend_insert(source, user, oid, attrs)
    for oid, attrs in updates.items():
        state.backend_update(source, user, oid, attrs)
    deleted = sum(1 for oid in deletes if state.backend_delete(source, user, oid))
    return jsonify({"inserted": len(inserts), "updated": len(updates), "deleted": deleted})


@bp.post("/sources/<source>/schema_version")
def bump_schema(source: str) -> Response:
    """Change a fixed-schema source's version (``{"version": "2.0"}``, or bumped by one)."""
    body = _body(default={})
    version = body.get("version") if isinstance(body, Mapping) else None
    if version is not None and not isinstance(version, str):
        _fail(400, "must be a string", "version")
    try:
        new = _state().bump_schema_version(_source(source), version)
    except ValueError as exc:
        _fail(400, str(exc), "source")
    return jsonify({"source": source, "version": new})


def _records(value: Any, field: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        _fail(400, "must be an object of object id -> attributes", field)
    out: dict[str, dict[str, str]] = {}
    for oid, attrs in value.items():
        if not isinstance(attrs, Mapping):
            _fail(400, "must be an object of attribute -> value", f"{field}.{oid}")
        for name, item in attrs.items():
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                _fail(400, "must be a string or number", f"{field}.{oid}.{name}")
        out[str(oid)] = {str(k): str(v) for k, v in attrs.items()}
    return out


# -- journal and errors ------------------------------------------------------------------------------


@bp.get("/journal")
def read_journal() -> Response:
    """Entries oldest first; filters: any of ``JOURNAL_FILTERS``, ``status``, ``since``, ``limit``."""
    filters: dict[str, Any] = {}
    since = limit = None
    for key, value in request.args.items():
        if key in JOURNAL_FILTERS:
            filters[key] = value
        elif key in JOURNAL_NUMBERS:
            if not value.isdigit():
                _fail(400, "must be a non-negative integer", key)
            if key == "status":
                filters["status"] = int(value)
            elif key == "since":
                since = int(value)
            else:
                limit = int(value)
        else:
            _fail(400, "unknown filter; expected " + ", ".join((*JOURNAL_FILTERS, *JOURNAL_NUMBERS)), key)
    journal = journal_of(current_app)
    entries = journal.entries(since=since, limit=limit, **filters)
    return jsonify({**journal.summary(), "entries": entries.to_json()})


@bp.delete("/journal")
def clear_journal() -> Response:
    journal_of(current_app).clear(errors=False)
    return jsonify({"cleared": True})


@bp.get("/errors")
def read_errors() -> Response:
    """Unexpected exceptions the mock raised while handling protocol requests."""
    return jsonify({"errors": journal_of(current_app).errors()})


@bp.delete("/errors")
def clear_errors() -> Response:
    journal = journal_of(current_app)
    journal.clear_errors()
    return jsonify({"cleared": True})


# -- clients -------------------------------------------------------------------------------------------


@bp.get("/clients")
def list_clients() -> Response:
    return jsonify({"clients": _state().clients()})


@bp.get("/clients/<client_id>/sources/<source>")
def client_source(client_id: str, source: str) -> Response:
    """A client's view of a source: its pending page and its materialised document."""
    state = _state()
    if not any(c["id"] == client_id for c in state.clients()):
        _fail(404, f"unknown client {client_id!r}", "client_id")
    _source(source)
    return jsonify(
        {
            "client_id": client_id,
            "source": source,
            "pending_page": state.pending_page(client_id, source),
            "document": state.client_document(client_id, source),
        }
    )


__all__ = ["bp"]
