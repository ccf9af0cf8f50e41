"""Login: ``POST /rc/v1/app/login`` and classic ``POST <prefix>/clientlogin``.

JSON (only with a JSON content type) or form bodies. The previous login is cleared first; an empty
login or one the configured users reject is a 401 ``Unable to authenticate '<login>'`` (with a new,
anonymous session cookie, as recorded); a JSON boolean is RhoConnect's 500 ``undefined
method 'empty?'``; success is an empty 200 that sets the signed
``rhoconnect_session`` cookie.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, Response, session

from ..errors import AuthenticationFailed, no_method
from .common import SESSION_ID_KEY, SESSION_USER_KEY, empty_ok, info, operation, params, state

bp = Blueprint("auth", __name__)
classic_bp = Blueprint("classic_auth", __name__)


def _text(value: Any) -> str | None:
    """A login field as text: strings as they are, numbers as their digits, absent as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


@operation("login")
def login() -> Response:
    """Authenticate and start a session (never logs the password)."""
    # A fresh anonymous session even when the login fails: RhoConnect answers its 401 with a new
    # session cookie (recorded exchange main-01), it does not delete the cookie.
    session.clear()
    session.permanent = True
    session[SESSION_ID_KEY] = secrets.token_hex(32)
    p = params()
    raw = p.get("login")
    if isinstance(raw, bool):
        # RhoConnect asks the login whether it is ``empty?``: a JSON boolean has no such
        # method, so the real server answers the NoMethodError's message.
        raise no_method("empty?", raw)
    name, password = _text(raw), _text(p.get("password"))
    info().user = name or None
    if name is None or password is None:
        # A table or a list is no login: refused like a wrong password.
        raise AuthenticationFailed(json.dumps(p.get("login"), separators=(",", ":")))
    if not name or not state().accepts(name, password):
        raise AuthenticationFailed(name)
    session[SESSION_USER_KEY] = name
    return empty_ok()


bp.add_url_rule("/rc/v1/app/login", "login", login, methods=["POST"])
classic_bp.add_url_rule("/clientlogin", "login", login, methods=["POST"])
