"""Client ids: create, register (device fields), reset; REST and classic routes.

REST: ``POST /rc/v1/clients``, ``POST /rc/v1/clients/<id>/register``, ``POST
/rc/v1/clients/<id>/reset``. Classic: ``GET|POST <prefix>/clientcreate``, ``POST
<prefix>/clientregister``, ``GET|POST <prefix>/clientreset``. Register creates an unknown id on the
fly; reset of an unknown id is a 500 ``Unknown client``, and a ``sources`` element without a name
RhoConnect's 500 ``Invalid Source Name For Client``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from ..errors import RubyException, UnknownClient
from .common import (
    client_id,
    current_user,
    empty_ok,
    info,
    json_response,
    operation,
    params,
    source_names,
    state,
    text_response,
)

bp = Blueprint("clients", __name__)
classic_bp = Blueprint("classic_clients", __name__)


@operation("clientcreate")
def create() -> Response:
    user = current_user()
    client = state().create_client(user, params())
    info().client_id = client.id
    return json_response(json.dumps({"client": {"client_id": client.id}}, separators=(",", ":")).encode())


@operation("clientregister")
def register(client_id_in_path: str | None = None) -> Response:
    user = current_user()
    cid = client_id_in_path or client_id()
    if not cid:
        raise UnknownClient()
    info().client_id = cid
    state().register_client(cid, user, params())
    return empty_ok()


def _reset_sources(p: dict[str, Any]) -> list[str] | None:
    # No usable name (absent, empty, or nothing but odd elements): the whole client is reset.
    return source_names(p.get("sources")) or None


def _unnamed_at(sources: Any) -> int | None:
    """The position of the first ``{"name": null}`` (or name-less) element of a ``sources`` list."""
    if not isinstance(sources, list):
        return None
    for i, item in enumerate(sources):
        if isinstance(item, dict) and item.get("name") is None:
            return i
    return None


@operation("clientreset")
def reset(client_id_in_path: str | None = None) -> Response:
    current_user()
    cid = client_id_in_path or client_id()
    info().client_id = cid
    p = params()
    bad = _unnamed_at(p.get("sources"))
    if bad is not None:
        # RhoConnect resets the listed sources in order and fails at the one without a name:
        # the ones before it are reset, then the client's document key cannot be built.
        named = source_names(p["sources"][:bad])
        if named:
            state().reset_client(cid, named)
        else:
            state().client(cid, current_user())  # still 500 Unknown client for an unknown id
        raise RubyException("Invalid Source Name For Client")
    state().reset_client(cid, _reset_sources(p))
    return empty_ok()


def _rest_register(client_id: str) -> Response:
    return register(client_id)


def _rest_reset(client_id: str) -> Response:
    return reset(client_id)


_rest_register._rc_operation = "clientregister"  # type: ignore[attr-defined]
_rest_reset._rc_operation = "clientreset"  # type: ignore[attr-defined]


def show(client_id: str) -> Response:
    """Reading a client needs RhoConnect's admin API token, which the mock does not offer."""
    return text_response("No API token provided", 422, "text/plain")


bp.add_url_rule("/rc/v1/clients", "create", create, methods=["POST"])
bp.add_url_rule("/rc/v1/clients/<client_id>/register", "register", _rest_register, methods=["POST"])
bp.add_url_rule("/rc/v1/clients/<client_id>/reset", "reset", _rest_reset, methods=["POST"])
bp.add_url_rule("/rc/v1/clients/<client_id>", "show", show, methods=["GET"])
classic_bp.add_url_rule("/clientcreate", "create", create, methods=["GET", "POST"])
classic_bp.add_url_rule("/clientregister", "register", register, methods=["POST"])
classic_bp.add_url_rule("/clientreset", "reset", reset, methods=["GET", "POST"])
