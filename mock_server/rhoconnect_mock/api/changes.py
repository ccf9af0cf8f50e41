"""Create / update / delete: ``POST /app/v1/<Source>``, ``PUT|DELETE /app/v1/<Source>/<id>`` and
classic ``POST <prefix>`` (``source_name`` in the body or the multipart ``cud`` part).

An empty 200 (``text/html;charset=utf-8``), even when the adapter fails: results come in the
client's next page. The single-object ``DELETE`` deletes the client's own copy of the object, so
deleting one the client does not hold is a 500. Multipart pushes carry blobs as parts named
``<attr>-<object id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request

from ..errors import ProtocolError
from ..store import Client
from .common import classic_source_client, empty_ok, operation, params, source_client, state

bp = Blueprint("changes", __name__)
classic_bp = Blueprint("classic_changes", __name__)


def _section(p: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = p.get(key)
    return {str(k): v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}


def _blobs() -> dict[str, tuple[str, bytes]]:
    return {
        name: (f.filename or name, f.read()) for name, f in request.files.items(multi=True) if name != "cud"
    }


def _member(p: Mapping[str, Any], key: str) -> dict[str, Any]:
    # PUT/DELETE of one object: its attributes (if any) under "update"/"delete".
    value = p.get(key)
    return value if isinstance(value, dict) else {}


def _push(client: Client, source: str) -> Response:
    p = params()
    sections = (_section(p, "create"), _section(p, "update"), _section(p, "delete"))
    state().push(client, source, *sections, _blobs())
    return empty_ok()


@operation("cud")
def rest_push(source: str) -> Response:
    return _push(source_client(source), source)


@operation("cud")
def rest_update(source: str, oid: str) -> Response:
    client = source_client(source)
    state().push(client, source, update={oid: _member(params(), "update")}, blobs=_blobs())
    return empty_ok()


@operation("cud")
def rest_delete(source: str, oid: str) -> Response:
    """Deletes the client's copy of the object (a body is ignored, as RhoConnect does); an object
    the client does not hold is RhoConnect's 500 from storing a ``nil`` object."""
    client = source_client(source)
    if not state().delete_held(client, source, oid):
        raise ProtocolError("Invalid value object: nil. Hash is expected.")
    return empty_ok()


@operation("cud")
def classic_push() -> Response:
    return _push(*classic_source_client())


bp.add_url_rule("/app/v1/<source>", "push", rest_push, methods=["POST"])
bp.add_url_rule("/app/v1/<source>/<oid>", "update", rest_update, methods=["PUT"])
bp.add_url_rule("/app/v1/<source>/<oid>", "delete", rest_delete, methods=["DELETE"])
classic_bp.add_url_rule("", "push", classic_push, methods=["POST"])
