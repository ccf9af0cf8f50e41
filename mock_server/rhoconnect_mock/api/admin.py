"""The mock's admin API under ``/_mock/``: test control over HTTP (not part of the protocol).

Reset the state; add, list and clear fault rules; set, seed or change a source's records for a
user; read and clear the request journal and the unexpected-error list; inspect clients,
pending pages and client documents. JSON in and out; a bad request gets a 400 whose body names
the field (``{"error": "...", "field": "action.status"}``). When the server has an admin token
(``--admin-token``) every admin request must carry ``Authorization: Bearer <token>`` or
``X-Admin-Token: <token>``, else 401. Described in ``specs/mock-admin.openapi.yaml``.

Every operation is the control service's (``control.ControlService``); this module only reads
requests and writes answers. Admin requests are classified as operation ``admin``: the fault
engine never faults them and the journal does not record them, so reading the journal does not
change it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, NoReturn, get_args

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..control import EXTENSION, ControlError, ControlService
from ..faults import MATCHABLE_OPERATIONS, FaultRuleError, action_types
from ..faults.registry import Ending
from ..request_info import ADMIN_PREFIX, Family, is_admin_path
from ..state import MockState, state_of
from .common import utf8_encodable

bp = Blueprint("rhoconnect_mock_admin", __name__, url_prefix=ADMIN_PREFIX)

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
    "outcome",
)

#: Filters whose values are a closed set: anything else is a mistake, not a filter matching nothing.
JOURNAL_ENUMS: dict[str, tuple[str, ...]] = {
    "family": get_args(Family),
    "outcome": ("complete", *get_args(Ending)),
}


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


@bp.errorhandler(ControlError)
def _control_error(exc: ControlError) -> tuple[Response, int]:
    return jsonify({"error": exc.message, "field": exc.field}), exc.status


@bp.errorhandler(FaultRuleError)
def _rule_error(exc: FaultRuleError) -> tuple[Response, int]:
    return jsonify({"error": str(exc), "field": exc.field}), 400


def _control() -> ControlService:
    control: ControlService = current_app.extensions[EXTENSION]
    return control


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


def _state() -> MockState:
    return state_of(current_app)


def _body(default: Any = None) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if default is None:
            _fail(400, "a JSON body is required", "body")
        return default
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        _fail(400, "the body is not valid JSON", "body")
    except RecursionError:
        _fail(400, "the body is nested too deeply", "body")
    if not utf8_encodable(body, raw):
        _fail(400, "the body holds a lone UTF-16 surrogate, which UTF-8 cannot carry", "body")
    return body


def _object(body: Any, allowed: tuple[str, ...], what: str) -> Mapping[str, Any]:
    """``body`` as an object with only the ``allowed`` keys."""
    if not isinstance(body, Mapping):
        _fail(400, f"must be an object with {what}", "body")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        _fail(400, "unknown key; expected " + ", ".join(allowed), unknown[0])
    return body


# -- index and reset -----------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """What the admin API offers (also a cheap liveness check)."""
    return jsonify(
        {
            "service": "rhoconnect-mock admin",
            "endpoints": sorted(r.rule for r in current_app.url_map.iter_rules() if is_admin_path(r.rule)),
            "operations": list(MATCHABLE_OPERATIONS),
            "action_types": list(action_types()),
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
    _object(body, ("data", "faults", "journal"), "data, faults, journal")
    _control().reset(**parts)
    return jsonify({"reset": [k for k, v in parts.items() if v]})


# -- fault rules ---------------------------------------------------------------------------------


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify({"faults": _control().faults()})


@bp.post("/faults")
def add_faults() -> tuple[Response, int]:
    """Add one rule (an object) or several (``{"faults": [...]}`` or a list); all or nothing."""
    body = _body()
    control = _control()
    if isinstance(body, list):
        rules = control.add_faults(body)
    elif isinstance(body, Mapping) and set(body) == {"faults"}:
        rules = control.add_faults(body["faults"])
    else:
        rules = [control.fault(control.add_fault(body))]
    return jsonify({"faults": rules}), 201


@bp.delete("/faults")
def clear_faults() -> Response:
    return jsonify({"cleared": _control().clear_faults()})


@bp.get("/faults/<rule_id>")
def get_fault(rule_id: str) -> Response:
    return jsonify(_control().fault(rule_id))


@bp.delete("/faults/<rule_id>")
def delete_fault(rule_id: str) -> Response:
    if not _control().remove_fault(rule_id):
        _fail(404, f"no fault rule {rule_id!r}", "id")
    return jsonify({"cleared": 1})


@bp.delete("/adapter_failures")
def clear_adapter_failures() -> Response:
    """Every simulated adapter works again (armed by ``adapter_error`` rules or Python)."""
    _control().clear_adapter_failures()
    return jsonify({"cleared": True})


# -- data ------------------------------------------------------------------------------------------


@bp.get("/sources")
def list_sources() -> Response:
    return jsonify({"sources": _control().sources()})


@bp.get("/sources/<source>/users/<user>/records")
def get_records(source: str, user: str) -> Response:
    records = _control().records(source, user)
    return jsonify({"source": source, "user": user, "count": len(records), "records": records})


@bp.put("/sources/<source>/users/<user>/records")
def set_records(source: str, user: str) -> Response:
    """Make the records exactly the body (``{"id": {"attr": "value"}}`` or ``{"records": {...}}``)."""
    body = _body()
    if isinstance(body, Mapping) and set(body) == {"records"}:
        body = body["records"]
    count = _control().set_records(source, user, body)
    return jsonify({"source": source, "user": user, "count": count})


@bp.post("/sources/<source>/users/<user>/seed")
def seed_records(source: str, user: str) -> Response:
    """Replace the records by ``count`` generated ones (``{"count": 100, "seed": 7}``)."""
    body = _object(_body(), ("count", "seed"), "count (and seed)")
    count = _control().seed_records(source, user, body.get("count"), body.get("seed"))
    return jsonify({"source": source, "user": user, "count": count})


@bp.post("/sources/<source>/users/<user>/changes")
def push_changes(source: str, user: str) -> Response:
    """Backend changes every client gets on its next query.

    Body: ``{"insert": {id: attrs}, "update": {id: attrs}, "delete": [id, ...]}`` (any of them).
    """
    body = _body()
    if not isinstance(body, Mapping) or not body:
        _fail(400, "must be an object with insert, update and/or delete", "body")
    _object(body, ("insert", "update", "delete"), "insert, update and/or delete")
    deletes = body.get("delete", [])
    if not isinstance(deletes, list):
        _fail(400, "must be a list of object ids", "delete")
    counts = _control().push_changes(
        source, user, insert=body.get("insert", {}), update=body.get("update", {}), delete=deletes
    )
    return jsonify(counts)


@bp.post("/sources/<source>/schema_version")
def bump_schema(source: str) -> Response:
    """Change a fixed-schema source's version (``{"version": "2.0"}``, or bumped by one)."""
    body = _body(default={})
    version = body.get("version") if isinstance(body, Mapping) else None
    new = _control().bump_schema_version(source, version)
    return jsonify({"source": source, "version": new})


# -- journal and errors ------------------------------------------------------------------------------


@bp.get("/journal")
def read_journal() -> Response:
    """Entries oldest first; filters: any of ``JOURNAL_FILTERS``, ``status``, ``since``, ``limit``."""
    filters: dict[str, Any] = {}
    since = limit = None
    for key, value in request.args.items():
        if key in JOURNAL_FILTERS:
            allowed = JOURNAL_ENUMS.get(key)
            if allowed is not None and value not in allowed:
                _fail(400, "must be one of " + ", ".join(allowed), key)
            filters[key] = value
        elif key in JOURNAL_NUMBERS:
            if not (value.isascii() and value.isdigit()):
                _fail(400, "must be a non-negative integer", key)
            if key == "status":
                filters["status"] = int(value)
            elif key == "since":
                since = int(value)
            else:
                limit = int(value)
        else:
            _fail(400, "unknown filter; expected " + ", ".join((*JOURNAL_FILTERS, *JOURNAL_NUMBERS)), key)
    control = _control()
    entries = control.journal(since=since, limit=limit, **filters)
    return jsonify({**control.journal_summary(), "entries": entries.to_json()})


@bp.delete("/journal")
def clear_journal() -> Response:
    _control().clear_journal()
    return jsonify({"cleared": True})


@bp.get("/errors")
def read_errors() -> Response:
    """Unexpected exceptions the mock raised while handling protocol requests."""
    return jsonify({"errors": _control().mock_errors()})


@bp.delete("/errors")
def clear_errors() -> Response:
    _control().clear_errors()
    return jsonify({"cleared": True})


# -- clients -------------------------------------------------------------------------------------------


@bp.get("/clients")
def list_clients() -> Response:
    return jsonify({"clients": _control().clients()})


@bp.get("/clients/<client_id>/sources/<source>")
def client_source(client_id: str, source: str) -> Response:
    """A client's view of a source: its pending page and its materialised document."""
    return jsonify(_control().client_source(client_id, source))


__all__ = ["bp"]
