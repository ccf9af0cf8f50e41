"""Query (pull a page): ``GET /app/v1/<Source>`` and classic ``GET <prefix>?source_name=<Source>``.

Login (401), then the client (500 ``Unknown client``), then the source (classic route without
``source_name``: 500 ``Unknown source``). The page itself comes from ``MockState.query_page``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from ..store import Client
from .common import classic_source_client, json_response, operation, p_size, params, source_client, state

bp = Blueprint("query", __name__)
classic_bp = Blueprint("classic_query", __name__)


def _answer(client: Client, source: str) -> Response:
    token = params().get("token")
    page = state().query_page(client, source, str(token) if token not in (None, "") else None, p_size())
    return json_response(page.body, page.token, page.count)


@operation("query")
def rest_query(source: str) -> Response:
    return _answer(source_client(source), source)


@operation("query")
def classic_query() -> Response:
    return _answer(*classic_source_client())


bp.add_url_rule("/app/v1/<source>", "query", rest_query, methods=["GET"])
classic_bp.add_url_rule("", "query", classic_query, methods=["GET"])
