"""Login on both routes: bodies, status codes, content types, the session cookie."""

from __future__ import annotations

from collections.abc import Callable

import requests
from mock_rc import RC
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"


def test_login_json_sets_signed_session_cookie(server: MockServer) -> None:
    rc = RC(server)
    r = rc.login("alice", "secret")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Type"] == HTML
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["pragma"] == "no-cache"
    assert "Vary" not in r.headers
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("rhoconnect_session=")
    assert "HttpOnly" in cookie and "Expires=" in cookie
    assert "secret" not in cookie


def test_login_form_body_on_both_routes(server: MockServer) -> None:
    for path in ("/rc/v1/app/login", "/application/clientlogin"):
        s = requests.Session()
        r = s.post(server.base_url + path, data={"login": "dave", "password": "secret"})
        assert r.status_code == 200
        assert r.headers["Content-Type"] == HTML
        assert s.post(server.base_url + "/rc/v1/clients", json={}).status_code == 200


def test_classic_login_has_deprecation_warning(server: MockServer) -> None:
    r = RC(server).login("bob", "x", classic=True)
    assert r.status_code == 200
    assert r.headers["Warning"] == (
        "Use of the POST /application/clientlogin is deprecated. Use Rhoconnect API v1 instead."
    )


def test_rest_login_has_no_warning(server: MockServer) -> None:
    assert "Warning" not in RC(server).login().headers


def test_empty_login_is_401_with_real_body(server: MockServer) -> None:
    r = requests.post(server.base_url + "/rc/v1/app/login", json={"login": "", "password": "x"})
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (401, "Unable to authenticate ''", HTML)
    r = requests.post(server.base_url + "/rc/v1/app/login", json={})
    assert (r.status_code, r.text) == (401, "Unable to authenticate ''")


def test_default_rejects_empty_password(server: MockServer) -> None:
    r = requests.post(server.base_url + "/rc/v1/app/login", json={"login": "carl", "password": ""})
    assert (r.status_code, r.text) == (401, "Unable to authenticate 'carl'")


def test_configured_users_only(mock: Callable[..., MockServer]) -> None:
    server = mock({"users": {"alice": "pw1"}})
    ok = requests.post(server.base_url + "/rc/v1/app/login", json={"login": "alice", "password": "pw1"})
    assert ok.status_code == 200
    for login, password in (("alice", "wrong"), ("baduser", "pw1")):
        r = requests.post(server.base_url + "/rc/v1/app/login", json={"login": login, "password": password})
        assert (r.status_code, r.text, r.headers["Content-Type"]) == (
            401,
            f"Unable to authenticate '{login}'",
            HTML,
        )


def test_malformed_json_is_500_with_real_body(server: MockServer) -> None:
    r = requests.post(
        server.base_url + "/rc/v1/app/login", data=b'{"login":', headers={"Content-Type": "application/json"}
    )
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (
        500,
        "Server error while processing client data",
        "text/plain",  # the body parser answers before any route, as RhoConnect's does
    )


def test_json_not_parsed_without_json_content_type(server: MockServer) -> None:
    r = requests.post(
        server.base_url + "/rc/v1/app/login",
        data=b'{"login":"a","password":"b"}',
        headers={"Content-Type": "text/plain"},
    )
    assert (r.status_code, r.text) == (401, "Unable to authenticate ''")


def test_new_login_replaces_previous_user(server: MockServer) -> None:
    rc = RC(server)
    rc.login("alice")
    cid = rc.create_client()
    assert server.state.clients()[0]["user"] == "alice"
    # A failed login clears the previous one first: the session is no longer authenticated.
    rc.login("", "")
    r = rc.query()
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (401, "Not authenticated", "text/plain")
    rc.login("bob")
    assert rc.query().status_code == 200
    assert [c["user"] for c in server.state.clients() if c["id"] == cid] == ["bob"]


def test_routes_need_a_session(server: MockServer) -> None:
    base = server.base_url
    calls = [
        ("GET", "/app/v1/Product?p_size=10&version=3"),
        ("POST", "/rc/v1/clients"),
        ("GET", "/application/clientcreate"),
        ("POST", "/app/v1/Product"),
        ("POST", "/rc/v1/app/search"),
        ("GET", "/application?source_name=Product"),
    ]
    for method, path in calls:
        r = requests.request(method, base + path, json={} if method == "POST" else None)
        assert (r.status_code, r.text, r.headers["Content-Type"]) == (
            401,
            "Not authenticated",
            "text/plain",
        ), path
        assert r.headers["Cache-Control"] == "no-cache"


def test_forged_cookie_is_not_a_session(server: MockServer) -> None:
    s = requests.Session()
    s.cookies.set("rhoconnect_session", "eyJsb2dpbiI6ImV2ZSJ9.forged.sig")
    assert s.post(server.base_url + "/rc/v1/clients", json={}).status_code == 401
