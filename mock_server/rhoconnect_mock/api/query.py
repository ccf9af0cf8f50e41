"""Query (pull a page): ``GET /app/v1/<Source>`` and classic ``GET <prefix>?source_name=<Source>``.

Login (401), then the client (500 ``Unknown client``), then the source (classic route without
``source_name``: 500 ``Unknown source``). The page itself comes from ``MockState.query_page``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from ..errors import UnknownSource
from .common import info, json_response, operation, p_size, params, require_client, state

bp = Blueprint("query", __name__)
classic_bp = Blueprint("classic_query", __name__)


def _answer(source: str) -> Response:
    client = require_client()
    token = params().get("token")
    page = state().query_page(client, source, str(token) if token not in (None, "") else None, p_size())
    return json_response(page.body, page.token, page.count)


@operation("query")
def rest_query(source: str) -> Response:
    info().source = source
    return _answer(source)


@operation("query")
def classic_query() -> Response:
    require_client()
    source = params().get("source_name")
    if not source:
        raise UnknownSource()
    info().source = str(source)
    return _answer(str(source))


bp.add_url_rule("/app/v1/<source>", "query", rest_query, methods=["GET"])
classic_bp.add_url_rule("", "query", classic_query, methods=["GET"])
