"""Admin endpoints for the dashboard (``/_mock/ui/``), on the admin blueprint, scriptable like the rest.

One snapshot of the whole mock (``/_mock/overview``), the fault actions' parameters as JSON Schema
(``/_mock/fault_actions``) from which the dashboard builds its form, pausing a rule, a client's
pages over time (``/_mock/timeline``) and a searchable window of a source's records
(``.../browse``). They live on ``admin.bp``, so the admin token check and error shape apply; they
only read the state, except the pause flag. Described in ``specs/mock-admin.openapi.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..fault_rules import (
    ACTION_PARAMS,
    FAMILIES,
    MATCH_KEYS,
    MATCHABLE_OPERATIONS,
    REQUIRED_PARAMS,
    WHEN_KEYS,
    Validator,
)
from ..faults import engine_of
from ..journal import JournalEntry, journal_of
from ..state import MockState
from .admin import AdminError, bp

#: A page's record count as the protocol writes it (``{"count":N}``, the third element).
_PAGE_COUNT = re.compile(r'\{"count":(\d+)\}')
_PAGE_TOTAL = re.compile(r'\{"total_count":(\d+)\}')
_PAGED_OPERATIONS = ("query", "search")
MAX_BROWSE = 1000
DEFAULT_TIMELINE = 500
MAX_TIMELINE = 10_000


def _fail(status: int, message: str, field: str) -> NoReturn:
    raise AdminError(status, message, field)


def _state() -> MockState:
    state: MockState = current_app.extensions["rhoconnect_mock"]
    return state


def _json_body() -> Any:
    try:
        return request.get_json(force=True)
    except HTTPException:
        _fail(400, "the body is not valid JSON", "body")


def _known_source(name: str) -> str:
    if name not in _state().sources:
        _fail(404, f"unknown source {name!r}", "source")
    return name


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


def _client_paging(state: MockState, client: Mapping[str, Any]) -> dict[str, Any]:
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


def _users(state: MockState, clients: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
    body = _json_body()
    if not isinstance(body, Mapping) or set(body) != {"paused"} or not isinstance(body["paused"], bool):
        _fail(400, 'must be {"paused": true} or {"paused": false}', "paused")
    rule.paused = body["paused"]
    return jsonify(rule.describe())


@bp.get("/timeline")
def timeline() -> Response:
    """A client's newest pages (queries and searches), from the journal, oldest first.

    Each page: when, which source, status, records in it (``count``), ``total_count``, the
    tokens, the server time and the faults that fired. ``client_id`` is required; ``limit``
    (default 500) bounds the answer, since a looping client can fill the whole journal;
    ``total`` says how many pages the journal holds for the client.
    """
    client_id = request.args.get("client_id", "")
    if not client_id:
        _fail(400, "is required", "client_id")
    unknown = sorted(set(request.args) - {"client_id", "limit"})
    if unknown:
        _fail(400, "unknown parameter; expected client_id, limit", unknown[0])
    raw_limit = request.args.get("limit", str(DEFAULT_TIMELINE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_TIMELINE:
        _fail(400, f"must be an integer between 1 and {MAX_TIMELINE}", "limit")
    entries = [
        e for e in journal_of(current_app).entries(client_id=client_id) if e.operation in _PAGED_OPERATIONS
    ]
    shown = entries[-int(raw_limit) :]
    return jsonify({"client_id": client_id, "total": len(entries), "pages": [_page(e) for e in shown]})


def _page(entry: JournalEntry) -> dict[str, Any]:
    """One page request as the timeline shows it; the counts are read from the recorded body."""
    body = entry.response_body or ""
    count = _PAGE_COUNT.search(body) if entry.status == 200 else None
    total = _PAGE_TOTAL.search(body) if entry.status == 200 else None
    return {
        "seq": entry.seq,
        "time": entry.time,
        "operation": entry.operation,
        "source": entry.source,
        "status": entry.status,
        "count": int(count.group(1)) if count else None,
        "total_count": int(total.group(1)) if total else None,
        "token_sent": entry.token_sent,
        "token_issued": entry.token_issued,
        "duration_ms": entry.duration_ms,
        "faults": list(entry.faults),
        "actions": list(entry.actions),
    }


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
    records = _state().records(_known_source(source), user)
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


__all__ = ["param_schema"]
