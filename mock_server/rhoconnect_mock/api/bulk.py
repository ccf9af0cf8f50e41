"""Bulk sync over HTTP: ``bulk_data`` in both URL families and the bulk file downloads under ``/data/``.

The answers (``wait``, ``nop``, ``url``) and the files come from ``bulk_engine`` through
``MockState.bulk_data``; this module only reads the request and writes the response.

Downloads need no login (as recorded) and are confined to the bulk folder: any path that does
not resolve to a regular file inside it is Rack's text/plain 404 ``File not found: <path>``,
whatever encoding or symlink it uses.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, request
from werkzeug.http import http_date
from werkzeug.wsgi import wrap_file

from ..bulk_engine import requested_sources
from ..errors import no_method
from .common import (
    info,
    json_response,
    operation,
    params,
    require_client,
    source_names,
    state,
    text_response,
)

_CONTENT_TYPES = {
    ".data": "application/octet-stream",
    ".rzip": "text/plain",
    ".gzip": "text/plain",
}

bp = Blueprint("bulk", __name__)
classic_bp = Blueprint("classic_bulk", __name__)


def _respond(answer: dict[str, str]) -> Response:
    # Compact, and in the recorded key order: result first, then url.
    return json_response(json.dumps(answer, separators=(",", ":")).encode("utf-8"))


@operation("bulk_data")
def bulk_data() -> Response:
    """``POST /rc/v1/app/bulk_data`` with ``{"client_id", "partition", "sources": [...]}``, or
    classic ``GET <prefix>/bulk_data?client_id=..&partition=user|app[&sources=A,B]``."""
    client = require_client()
    p = params()
    st = state()
    raw = p.get("partition")
    if not isinstance(raw, str):
        # RhoConnect turns the partition into a symbol with ``to_sym``, which only text has.
        raise no_method("to_sym", raw, "application/json")
    partition = raw
    asked = source_names(p.get("sources"))
    info().sources = requested_sources(st.sources, partition, asked)
    return _respond(st.bulk_data(client, partition, asked))


bp.add_url_rule("/rc/v1/app/bulk_data", "bulk_data", bulk_data, methods=["POST"])
classic_bp.add_url_rule("/bulk_data", "bulk_data", bulk_data, methods=["GET"])


# --------------------------------------------------------------------------- downloads


def confined_file(folder: Path, subpath: str) -> Path | None:
    """The regular file ``subpath`` names inside ``folder``, or ``None`` for anything else.

    ``subpath`` arrives percent-decoded. Dot segments, empty segments, backslashes and NULs are
    refused outright; what remains is resolved (following symlinks) and must still lie inside
    the folder, so a symlink pointing out is refused too.
    """
    parts = subpath.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    root = folder.resolve()
    try:
        target = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


@bp.get("/data/<path:subpath>")
@operation("bulk_file")
def download(subpath: str) -> Response:
    """A bulk file: ``.data`` (SQLite), ``.data.rzip`` (zip), ``.data.gzip``; no login needed."""
    target = confined_file(state().bulk.folder, subpath)
    content_type = _CONTENT_TYPES.get(target.suffix) if target is not None else None
    if target is None or content_type is None:
        # Rack's static file server: a text/plain 404 naming the path, marked for the next app.
        resp = text_response(f"File not found: {request.path}", 404, "text/plain")
        resp.headers["X-Cascade"] = "pass"
        return resp
    # Built by hand rather than with send_file: RhoConnect sends no Content-Disposition or
    # Cache-Control on these, and text/plain must not gain a charset.
    stat = target.stat()
    handle = target.open("rb")
    resp = Response(wrap_file(request.environ, handle), direct_passthrough=True)
    resp.headers["Content-Type"] = content_type
    resp.headers["Content-Length"] = str(stat.st_size)
    resp.headers["Last-Modified"] = http_date(stat.st_mtime)
    return resp
