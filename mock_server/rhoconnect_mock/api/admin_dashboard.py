"""Admin endpoints for the dashboard (``/_mock/ui/``), on the admin blueprint, scriptable like the rest.

One snapshot of the whole mock (``/_mock/overview``), the fault actions' parameters as JSON Schema
(``/_mock/fault_actions``) from which the dashboard builds its form, pausing a rule, a client's
pages over time (``/_mock/timeline``) and a searchable window of a source's records
(``.../browse``). They live on ``admin.bp``, so the admin token check and error shapes apply. Each
is one operation of the control service; this module only reads requests and writes answers.
Described in ``specs/mock-admin.openapi.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, jsonify, request

from ..control import DEFAULT_TIMELINE
from .admin import _body, _control, _fail, bp


def _only(allowed: tuple[str, ...]) -> None:
    """Refuse a query parameter not in ``allowed``, naming it."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        _fail(400, "unknown parameter; expected " + ", ".join(allowed), unknown[0])


def _count(name: str, default: int) -> int:
    """A non-negative integer query parameter (the control service checks its bounds)."""
    raw = request.args.get(name, str(default))
    if not raw.isdigit():
        _fail(400, "must be a non-negative integer", name)
    return int(raw)


@bp.get("/overview")
def overview() -> Response:
    """Sources, users, clients' paging positions, bulk jobs, rules and the journal's size."""
    return jsonify(_control().overview())


@bp.get("/fault_actions")
def fault_actions() -> Response:
    """What a rule can say, as JSON Schema fragments: the form the dashboard builds is this."""
    return jsonify(_control().fault_actions())


@bp.put("/faults/<rule_id>/paused")
def pause_fault(rule_id: str) -> Response:
    """Pause (``{"paused": true}``) or resume a rule: a paused rule neither counts nor fires."""
    body = _body()
    if not isinstance(body, Mapping) or set(body) != {"paused"} or not isinstance(body["paused"], bool):
        _fail(400, 'must be {"paused": true} or {"paused": false}', "paused")
    return jsonify(_control().pause_fault(rule_id, body["paused"]))


@bp.get("/timeline")
def timeline() -> Response:
    """A client's newest pages, oldest first: ``client_id`` (required), ``limit`` (default 500)."""
    _only(("client_id", "limit"))
    return jsonify(_control().timeline(request.args.get("client_id", ""), _count("limit", DEFAULT_TIMELINE)))


@bp.get("/sources/<source>/users/<user>/browse")
def browse_records(source: str, user: str) -> Response:
    """A window of the records: ``q`` (case-insensitive), ``offset`` (0), ``limit`` (50, at most 1000)."""
    _only(("q", "offset", "limit"))
    return jsonify(
        _control().browse(source, user, request.args.get("q", ""), _count("offset", 0), _count("limit", 50))
    )


__all__: list[str] = []
