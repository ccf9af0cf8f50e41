"""The landing page ``GET /`` and the dashboard's static files under ``/_mock/ui/``.

The real server has nothing at ``/`` (a 404); the mock answers there with the addresses a
developer needs, as HTML for a browser and as plain text for curl (chosen by ``Accept``). Every
other unrouted path keeps the real 404.

The dashboard is plain HTML, CSS and JavaScript shipped in the package (no CDN, no build step).
Its files hold no data, so they are served without the admin token; everything it shows comes
from the admin API, which asks for the token when the server has one (the page asks for it once).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_from_directory
from werkzeug.exceptions import NotFound

from ..state import state_of

STATIC = Path(__file__).resolve().parent.parent / "ui" / "static"
#: The files the dashboard consists of: nothing else in the folder is ever served.
ASSETS = frozenset({"index.html", "app.js", "style.css"})

ui_bp = Blueprint("rhoconnect_mock_ui", __name__, url_prefix="/_mock/ui")
landing_bp = Blueprint("rhoconnect_mock_landing", __name__)


@ui_bp.get("/")
def dashboard() -> Response:
    return asset("index.html")


@ui_bp.get("/<asset_name>")
def asset(asset_name: str) -> Response:
    if asset_name not in ASSETS:
        raise NotFound()
    response = send_from_directory(STATIC, asset_name, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _addresses(base: str) -> list[tuple[str, str, str]]:
    """(label, URL, note) of what a developer points things at."""
    prefix = state_of(current_app).config.classic_prefix
    return [
        ("classic URL", base + prefix, "Rhodes syncserver setting"),
        ("REST login", base + "/rc/v1/app/login", "POST {login, password}"),
        ("admin API", base + "/_mock/", "JSON; see specs/mock-admin.openapi.yaml"),
        ("dashboard", base + "/_mock/ui/", "open in a browser"),
    ]


@landing_bp.get("/")
def landing() -> Response:
    """What this server is and where its parts are: HTML for browsers, text for curl."""
    base = request.host_url.rstrip("/")
    rows = _addresses(base)
    if request.accept_mimetypes.best_match(["text/plain", "text/html"]) == "text/html":
        items = "".join(
            f'<tr><th>{escape(label)}</th><td><a href="{escape(url)}">{escape(url)}</a></td>'
            f"<td>{escape(note)}</td></tr>"
            for label, url, note in rows
        )
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>rhoconnect-mock</title>"
            "<style>body{font:15px system-ui,sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
            "td{padding:.2em 1em .2em 0}</style></head><body>"
            "<h1>rhoconnect-mock</h1><p>A mock RhoConnect 7.8 server.</p>"
            f"<table>{items}</table></body></html>"
        )
        return Response(html, 200, content_type="text/html;charset=utf-8")
    width = max(len(label) for label, _, _ in rows)
    text = "rhoconnect-mock: a mock RhoConnect 7.8 server\n" + "".join(
        f"  {label:<{width}}  {url}   ({note})\n" for label, url, note in rows
    )
    # Plain ``text/plain`` like the server's other text answers; the text is ASCII (a host name
    # that is not comes out escaped rather than in an undeclared charset).
    return Response(text.encode("ascii", "backslashreplace"), 200, content_type="text/plain")


__all__ = ["ASSETS", "landing_bp", "ui_bp"]
