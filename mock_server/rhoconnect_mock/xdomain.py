"""Sessions for browser clients on another origin, on the ``/api`` alias of the classic routes.

A page on another origin cannot read or send the ``rhoconnect_session`` cookie, so RhoConnect's
cross-domain session wrapper (on paths under ``/api<classic prefix>``) answers a successful
login with the cookie in the body, ``{"rhoconnect_session": "<rhoconnect_session=...; url-encoded>"}``,
and takes a ``rhoconnect_session`` query parameter carrying that text as the request's cookie
when the request has no ``Cookie`` header.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from flask import Response

COOKIE = "rhoconnect_session"
_IN_SET_COOKIE = re.compile(COOKIE + r"=\S*")


def alias_prefix(classic_prefix: str) -> str:
    return "/api" + classic_prefix


def session_from_query(environ: MutableMapping[str, Any], classic_prefix: str) -> None:
    """On the alias, a request without ``Cookie`` uses the ``rhoconnect_session`` parameter."""
    if not str(environ.get("PATH_INFO", "")).startswith(alias_prefix(classic_prefix)):
        return
    if environ.get("HTTP_COOKIE") is not None:
        return
    query = str(environ.get("QUERY_STRING", ""))
    at = query.find(COOKIE + "=")
    value = ""
    if at >= 0:
        pair = query[at:].split("&", 1)[0].split("=")
        value = pair[1] if len(pair) > 1 else ""
    environ["HTTP_COOKIE"] = unquote_plus(value)


def login_body(path: str, classic_prefix: str, response: Response) -> None:
    """A successful login on the alias answers the session cookie in its body."""
    if response.status_code != 200 or not path.startswith(alias_prefix(classic_prefix) + "/clientlogin"):
        return
    found = _IN_SET_COOKIE.search("\n".join(response.headers.getlist("Set-Cookie")))
    cookie = found.group(0) if found else ""
    # CGI.escape: letters, digits and "*-._" stay, a space is "+", everything else %XX.
    escaped = quote_plus(cookie, safe="*").replace("~", "%7E")
    response.set_data(f'{{"{COOKIE}": "{escaped}"}}')
