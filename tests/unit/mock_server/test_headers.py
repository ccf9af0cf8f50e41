"""Response headers as RhoConnect 7.8 sends them, beyond the transcript replay: fault answers,
unknown routes, a failed login's cookie and the bulk file downloads (live server, real HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import requests
from mock_rc import RC
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"
TRANSPORT = {"date", "server", "content-length", "connection", "transfer-encoding", "keep-alive"}
#: The header set of an HTML error answer with a session cookie (recorded exchanges errors-23 to errors-26).
HTML_ERROR = {
    "cache-control",
    "pragma",
    "content-type",
    "set-cookie",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
}


def names(r: requests.Response) -> set[str]:
    return {n.lower() for n in r.headers} - TRANSPORT


def test_a_faulted_500_has_the_same_headers_as_a_real_one(rc: RC, server: MockServer) -> None:
    real = rc.query(client_id="ffffffffffffffffffffffff")
    server.fail("query", status=500, times=1)
    faulted = rc.query()
    assert (real.status_code, faulted.status_code) == (500, 500)
    assert real.text == faulted.text == "Unknown client"
    assert names(real) == names(faulted) == HTML_ERROR
    assert "Vary" not in faulted.headers


def test_a_faulted_401_is_text_plain_with_only_nosniff(rc: RC, server: MockServer) -> None:
    server.fail("query", status=401, times=1)
    r = rc.query()
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (401, "Not authenticated", "text/plain")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in r.headers and "Vary" not in r.headers


def test_json_answers_carry_nosniff_but_no_html_protection_headers(rc: RC) -> None:
    r = rc.query(p_size=2)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in r.headers and "X-XSS-Protection" not in r.headers


def test_empty_200s_carry_the_html_protection_headers(rc: RC) -> None:
    r = rc.push(create={"t1": {"name": "x"}})
    assert (r.status_code, r.headers["Content-Type"]) == (200, HTML)
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert r.headers["X-XSS-Protection"] == "1; mode=block"


def test_failed_login_gives_a_fresh_session_cookie_not_a_deletion(server: MockServer) -> None:
    http = requests.Session()
    r = http.post(server.base_url + "/rc/v1/app/login", json={"login": "", "password": "x"})
    assert (r.status_code, r.text) == (401, "Unable to authenticate ''")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("rhoconnect_session=") and not cookie.startswith("rhoconnect_session=;")
    assert "Max-Age=0" not in cookie and "1970" not in cookie
    assert names(r) == HTML_ERROR
    # The anonymous session is not a login.
    assert http.post(server.base_url + "/rc/v1/clients", json={}).status_code == 401


def test_failed_login_ends_the_previous_login(rc: RC, server: MockServer) -> None:
    assert rc.http.post(server.base_url + "/rc/v1/app/login", json={"login": "x"}).status_code == 401
    assert rc.query().status_code == 401


def test_unknown_routes_are_sinatra_404s(server: MockServer, rc: RC) -> None:
    for method, path in (
        ("GET", "/nosuch"),
        ("GET", "/rc/v1/nosuch"),
        ("POST", "/application/nosuch"),
        ("PUT", "/application"),  # a known path with a method no route serves: 404, not 405
        ("GET", "/rc/v1/app/login"),
        ("PATCH", "/app/v1/Product/1"),
        ("OPTIONS", "/app/v1/Product"),  # Flask would answer 200 with Allow by itself
        ("OPTIONS", "/application/clientlogin"),
    ):
        r = rc.http.request(method, server.base_url + path)
        assert (r.status_code, r.text, r.headers["Content-Type"]) == (404, "<h1>Not Found</h1>", HTML), path
        assert "Allow" not in r.headers and "Warning" not in r.headers
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_unknown_admin_routes_answer_in_the_admin_json_shape(server: MockServer) -> None:
    r = requests.get(server.base_url + "/_mock/nosuch", timeout=10)
    assert (r.status_code, r.headers["Content-Type"]) == (404, "application/json")
    assert r.json()["field"] == "path"
    r = requests.delete(server.base_url + "/_mock/reset", timeout=10)
    assert r.status_code == 405 and r.json()["field"] == "path"


def test_api_alias_of_the_classic_routes(server: MockServer) -> None:
    http = requests.Session()
    base = server.base_url + "/api/application"
    assert http.post(base + "/clientlogin", json={"login": "a", "password": "b"}).status_code == 200
    r = http.get(base + "/clientcreate")
    assert r.status_code == 200
    assert r.headers["Warning"] == (
        "Use of the GET /api/application/clientcreate is deprecated. Use Rhoconnect API v1 instead."
    )
    cid = r.json()["client"]["client_id"]
    page = http.get(base, params={"client_id": cid, "source_name": "Product", "p_size": 1})
    assert page.status_code == 200 and page.json()[2] == {"count": 1}


def test_bulk_downloads_have_no_cache_headers_and_no_cookie(rc: RC, server: MockServer) -> None:
    url = ""
    for _ in range(10):
        answer = rc.http.post(
            server.base_url + "/rc/v1/app/bulk_data",
            json={"partition": "user", "sources": ["Product"]},
            headers={"X-RhoConnect-CLIENT-ID": rc.client_id or ""},
        ).json()
        if answer["result"] == "url":
            url = answer["url"]
            break
    assert url
    for suffix, ctype in (("", "application/octet-stream"), (".rzip", "text/plain")):
        r = rc.http.get(server.base_url + url + suffix)  # the session cookie is sent
        assert (r.status_code, r.headers["Content-Type"]) == (200, ctype)
        assert names(r) == {"content-type", "last-modified", "x-content-type-options"}


def test_an_unexpected_exception_is_recorded_and_answered_like_catch_all(
    mock: Callable[..., MockServer],
) -> None:
    server = mock()
    rc = RC(server)
    rc.login()
    rc.create_client()

    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("adapter store exploded")

    server.state.query_page = broken  # type: ignore[method-assign]
    r = rc.query()
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, "adapter store exploded", HTML)
    assert "Traceback" not in r.text
    assert names(r) == HTML_ERROR
    errors = server.mock_errors()
    assert [(e["type"], e["message"], e["operation"]) for e in errors] == [
        ("RuntimeError", "adapter store exploded", "query")
    ]
