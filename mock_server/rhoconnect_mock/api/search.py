"""Search: ``POST /rc/v1/app/search`` (JSON ``sources``, ``search``, ``p_size``) and classic
``GET <prefix>/search?sources[][name]=A&sources[][token]=T&search[k]=v&p_size=N``.

One sub-array per listed source; see ``MockState.search`` for tokens and acknowledgement.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..errors import no_method
from .common import JSON, is_ruby_constant, json_response, operation, p_size, params, require_client, state

bp = Blueprint("search", __name__)
classic_bp = Blueprint("classic_search", __name__)


def _sources(value: Any) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    if isinstance(value, str):
        value = [{"name": n} for n in value.split(",") if n]
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("name"):
            token = item.get("token")
            out.append((str(item["name"]), str(token) if token not in (None, "") else None))
        elif isinstance(item, str) and item:
            out.append((item, None))
    return out


def _check_ruby_failures(p: dict[str, Any], sources: list[tuple[str, str | None]]) -> None:
    """What makes RhoConnect's search raise once it has set ``application/json``: a source name
    that names no source and no class (``0``), then a ``p_size`` without ``to_i`` (``{}``)."""
    for name, _ in sources:
        if name not in state().sources and not is_ruby_constant(name):
            raise no_method("is_pass_through?", None, JSON)
    raw = p.get("p_size")
    if sources and isinstance(raw, bool | list | dict):
        raise no_method("to_i", raw, JSON)


@operation("search")
def search() -> Response:
    client = require_client()
    p = params()
    _check_ruby_failures(p, _sources(p.get("sources")))
    wanted = p.get("search")
    criteria = {str(k): str(v) for k, v in wanted.items()} if isinstance(wanted, dict) else {}
    resend = str(p.get("resend", "")).lower() in {"1", "true"}
    answer = state().search(client, _sources(p.get("sources")), criteria, p_size(), resend)
    return json_response(answer.body, answer.token or None, answer.count if answer.token else None)


bp.add_url_rule("/rc/v1/app/search", "search", search, methods=["POST"])
classic_bp.add_url_rule("/search", "search", search, methods=["GET", "POST"])
