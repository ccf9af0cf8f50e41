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
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..fault_rules import (
    ACTION_PARAMS,
    ACTION_TYPES,
    FAMILIES,
    MATCH_KEYS,
    MATCHABLE_OPERATIONS,
    REQUIRED_PARAMS,
    WHEN_KEYS,
    FaultRuleError,
    Validator,
)
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


# ==================================================================================================
# Dashboard support: endpoints the dashboard (``/_mock/ui/``) needs, usable from any script too.
# Everything the dashboard shows or does goes through these or the endpoints above.
# ==================================================================================================

#: A page's record count as the protocol writes it (``{"count":N}``, the third element).
_PAGE_COUNT = re.compile(r'\{"count":(\d+)\}')
_PAGE_TOTAL = re.compile(r'\{"total_count":(\d+)\}')
_PAGED_OPERATIONS = ("query", "search")
MAX_BROWSE = 1000


@bp.get("/overview")
def overview() -> Response:
    """One snapshot of the whole mock: sources, users, clients' paging positions, bulk jobs, rules."""
    state = _state()
    with state.lock:
        sources = [
            {
                "name": spec.name,
                "partition": spec.partition,
                "priority": spec.priority,
                "poll_interval": spec.poll_interval,
                "records": state.loaded_count(spec.name),
                "attributes": list(spec.attributes),
            }
            for spec in state.sources.values()
        ]
        clients = [_client_paging(state, client) for client in state.clients()]
    return jsonify(
        {
            "sources": sources,
            "users": _users(state, clients),
            "any_login": state.config.users is None,
            "clients": clients,
            "bulk_jobs": _bulk_jobs(),
            "faults": engine_of(current_app).describe(),
            "journal": journal_of(current_app).summary(),
        }
    )


def _client_paging(state: Any, client: Mapping[str, Any]) -> dict[str, Any]:
    """A client and, per source, where it stands in the paging."""
    paging = {}
    for source, position in client["sources"].items():
        pending = state.pending_page(client["id"], source)
        paging[source] = {
            "acknowledged": position["cursor"],
            "pending_token": position["pending_token"],
            "pending_count": pending["count"] if pending else None,
            "pending_kind": pending["kind"] if pending else None,
            "queued": position["queued"],
        }
    device = {k: v for k, v in client.items() if k not in ("id", "user", "sources")}
    return {"id": client["id"], "user": client["user"], "device": device, "sources": paging}


def _users(state: Any, clients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Configured logins (never their passwords) and every user that has a client."""
    names = dict.fromkeys(sorted(state.config.users or ()))
    for client in clients:
        names.setdefault(client["user"])
    return [
        {
            "name": name,
            "configured": name in (state.config.users or {}),
            "clients": sum(1 for c in clients if c["user"] == name),
        }
        for name in names
    ]


def _bulk_jobs() -> list[dict[str, Any]]:
    registry = current_app.extensions.get("rhoconnect_mock.bulk")
    if registry is None:
        return []
    with registry.lock:
        jobs = list(registry.jobs.items())
    return [
        {
            "partition": partition,
            "owner": owner,
            "url": job.url,
            "sources": list(job.requested),
            "built_at": job.built_at,
            "waits_left": job.waits_left,
            "files": [path.name for path in job.files],
            "errors": sorted(job.build_errors),
        }
        for (partition, owner), job in jobs
    ]


@bp.get("/fault_actions")
def fault_actions() -> Response:
    """What a rule can say, as JSON Schema fragments: the form the dashboard builds is this."""
    return jsonify(
        {
            "operations": list(MATCHABLE_OPERATIONS),
            "families": list(FAMILIES),
            "match_keys": list(MATCH_KEYS),
            "when_keys": list(WHEN_KEYS),
            "actions": {
                kind: {
                    "required": list(REQUIRED_PARAMS.get(kind, ())),
                    "params": {name: param_schema(check) for name, check in params.items()},
                }
                for kind, params in sorted(ACTION_PARAMS.items())
            },
        }
    )


def param_schema(check: Validator) -> dict[str, Any]:
    """A JSON Schema fragment for one parameter validator of ``fault_rules``.

    The validators are plain functions or closures made by ``_int``, ``_number`` and ``_choice``;
    their bounds and choices are read from the closure, so the schema cannot drift from them.
    """
    name = check.__qualname__.split(".")[0]
    cells = {
        var: cell.cell_contents
        for var, cell in zip(check.__code__.co_freevars, check.__closure__ or (), strict=True)
    }
    if name in ("_int", "_number"):
        out: dict[str, Any] = {"type": "integer" if name == "_int" else "number", "minimum": cells["lo"]}
        if cells["hi"] is not None:
            out["maximum"] = cells["hi"]
        return out
    if name == "_choice":
        return {"type": "string", "enum": list(cells["choices"])}
    plain: dict[str, dict[str, Any]] = {
        "_str": {"type": "string"},
        "_nonempty_str": {"type": "string", "minLength": 1},
        "_bool": {"type": "boolean"},
        "_str_list": {"type": "array", "items": {"type": "string"}},
        "_str_map": {"type": "object", "additionalProperties": {"type": "string"}},
        "_records": {"type": "object", "additionalProperties": {"type": "object"}},
        "_body": {"description": "a string sent as is, or any JSON value"},
        "_permutation": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    }
    if name not in plain:
        raise LookupError(f"no schema for fault parameter validator {check.__qualname__}")
    return dict(plain[name])


@bp.put("/faults/<rule_id>/paused")
def pause_fault(rule_id: str) -> Response:
    """Pause (``{"paused": true}``) or resume a rule: a paused rule neither counts nor fires."""
    rule = engine_of(current_app).get(rule_id)
    if rule is None:
        _fail(404, f"no fault rule {rule_id!r}", "id")
    body = _body()
    if not isinstance(body, Mapping) or set(body) != {"paused"} or not isinstance(body["paused"], bool):
        _fail(400, 'must be {"paused": true} or {"paused": false}', "paused")
    rule.paused = body["paused"]
    return jsonify(rule.describe())


@bp.get("/timeline")
def timeline() -> Response:
    """A client's pages over time (queries and searches), from the journal, oldest first.

    Each page: when, which source, status, records in it (``count``), ``total_count``, the
    tokens, the server time and the faults that fired. ``client_id`` is required.
    """
    client_id = request.args.get("client_id", "")
    if not client_id:
        _fail(400, "is required", "client_id")
    unknown = sorted(set(request.args) - {"client_id"})
    if unknown:
        _fail(400, "unknown parameter; expected client_id", unknown[0])
    pages = []
    for entry in journal_of(current_app).entries(client_id=client_id):
        if entry.operation not in _PAGED_OPERATIONS:
            continue
        body = entry.response_body or ""
        count = _PAGE_COUNT.search(body)
        total = _PAGE_TOTAL.search(body)
        pages.append(
            {
                "seq": entry.seq,
                "time": entry.time,
                "operation": entry.operation,
                "source": entry.source,
                "status": entry.status,
                "count": int(count.group(1)) if count and entry.status == 200 else None,
                "total_count": int(total.group(1)) if total and entry.status == 200 else None,
                "token_sent": entry.token_sent,
                "token_issued": entry.token_issued,
                "duration_ms": entry.duration_ms,
                "faults": list(entry.faults),
                "actions": list(entry.actions),
            }
        )
    return jsonify({"client_id": client_id, "pages": pages})


@bp.get("/sources/<source>/users/<user>/browse")
def browse_records(source: str, user: str) -> Response:
    """A window of the records, optionally only those whose id or a value contains ``q``.

    Query: ``q`` (case-insensitive), ``offset`` (default 0), ``limit`` (default 50, at most 1000).
    Records keep the master document's order.
    """
    args = request.args
    unknown = sorted(set(args) - {"q", "offset", "limit"})
    if unknown:
        _fail(400, "unknown parameter; expected q, offset, limit", unknown[0])
    bounds = {}
    for key, default, top in (("offset", 0, None), ("limit", 50, MAX_BROWSE)):
        raw = args.get(key, str(default))
        if not raw.isdigit() or (top is not None and int(raw) > top):
            _fail(400, "must be a non-negative integer" + (f" up to {top}" if top else ""), key)
        bounds[key] = int(raw)
    needle = args.get("q", "").casefold()
    records = _state().records(_source(source), user)
    if needle:
        matched = [
            (oid, attrs)
            for oid, attrs in records.items()
            if needle in oid.casefold() or any(needle in str(v).casefold() for v in attrs.values())
        ]
    else:
        matched = list(records.items())
    window = matched[bounds["offset"] : bounds["offset"] + bounds["limit"]]
    return jsonify(
        {
            "source": source,
            "user": user,
            "total": len(records),
            "matched": len(matched),
            "offset": bounds["offset"],
            "records": [{"id": oid, "attributes": dict(attrs)} for oid, attrs in window],
        }
    )
