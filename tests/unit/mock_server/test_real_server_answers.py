"""Answers RhoConnect 7.8 gives where a tidier server would answer otherwise, reproduced over HTTP.

Each case was seen side by side against a real RhoConnect 7.8 server: empty creates, the
single-object DELETE, the 500s whose body is the message of the Ruby exception the input makes
the server raise, bulk file details and the cross-domain session of the ``/api`` alias. The
status, content type, body and header set are pinned as the real server sends them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
from mock_rc import RC
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"

CONFIG: dict[str, Any] = {
    "id_template": "new-{n}",
    "sources": {
        "Product": {"records": 5, "generator": "sequence"},
        "Catalog": {"partition": "app", "records": 3, "generator": "sequence"},
    },
}


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    with MockServer(CONFIG) as server:
        yield server


@pytest.fixture
def rc(live: MockServer) -> RC:
    return RC.signed_in(live)


def _second(live: MockServer) -> RC:
    other = RC(live)
    other.login()
    other.create_client()
    return other


def _ruby_500(r: requests.Response, body: str, content_type: str = "text/plain") -> None:
    text = r.content.decode("utf-8")  # no charset is declared: the message's bytes are UTF-8
    assert (r.status_code, r.headers["Content-Type"], text) == (500, content_type, body)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Warning" not in r.headers


# -- creates without attributes ----------------------------------------------------------------


def test_a_create_without_attributes_creates_nothing(rc: RC, live: MockServer) -> None:
    other = _second(live)
    other.sync_all()
    rc.sync_all()
    assert rc.push(create={"t1": {}}).status_code == 200
    page = rc.page(p_size=100)
    assert page[4] == {"total_count": 5} and "links" not in page[5]  # no link, not counted
    assert len(live.state.records("Product", "alice")) == 5
    assert other.page(p_size=100)[2:] == [{"count": 0}, {"progress_count": 0}, {"total_count": 5}, {}]


def test_a_create_with_attributes_beside_an_empty_one_is_linked(rc: RC) -> None:
    rc.sync_all()
    rc.push(create={"t1": {}, "t2": {"name": "kept"}})
    page = rc.page(p_size=100)
    assert page[5]["links"] == {"t2": {"l": "new-1"}} and page[4] == {"total_count": 6}


# -- the single-object DELETE ------------------------------------------------------------------


def test_deleting_an_object_the_client_does_not_hold_is_a_500(rc: RC, live: MockServer) -> None:
    r = rc.http.delete(f"{rc.base}/app/v1/Product/1", params={"client_id": rc.client_id})
    assert (r.status_code, r.headers["Content-Type"], r.text) == (
        500,
        HTML,
        "Invalid value object: nil. Hash is expected.",
    )
    assert "1" in live.state.records("Product", "alice")  # nothing was deleted


def test_the_single_object_delete_ignores_a_body_and_deletes_the_clients_copy(live: MockServer) -> None:
    with MockServer(
        {**CONFIG, "sources": {"Product": {"records": 5, "generator": "sequence", "poll_interval": 300}}}
    ) as polled:
        a, b = RC(polled), RC(polled)
        for c in (a, b):
            c.login()
            c.create_client()
        a.sync_all()
        r = a.http.delete(
            f"{a.base}/app/v1/Product/2",
            json={"client_id": a.client_id, "delete": {"name": "Product 2"}},  # a few attributes only
        )
        assert (r.status_code, r.text) == (200, "")
        assert a.page(p_size=100)[4] == {"total_count": 4}
        assert "2" not in b.sync_all()  # other clients lose it too, within the poll interval
        assert "2" not in polled.state.records("Product", "alice")


# -- 500s with the message of the exception the real server raises ----------------------------


@pytest.mark.parametrize("path", ["/rc/v1/app/login", "/application/clientlogin"])
def test_a_boolean_login_is_the_no_method_error(live: MockServer, path: str) -> None:
    r = requests.post(live.base_url + path, json={"login": False, "password": "x"}, timeout=10)
    _ruby_500(r, "undefined method 'empty?' for false:FalseClass")
    r = requests.post(live.base_url + path, json={"login": True, "password": "x"}, timeout=10)
    _ruby_500(r, "undefined method 'empty?' for true:TrueClass")


def test_reset_with_a_source_without_a_name(rc: RC) -> None:
    rc.sync_all()
    r = rc.http.post(f"{rc.base}/rc/v1/clients/{rc.client_id}/reset", json={"sources": [{"name": None}]})
    _ruby_500(r, "Invalid Source Name For Client")
    assert rc.page(p_size=100)[2] == {"count": 0}  # nothing was reset
    # The sources listed before the bad one are reset, as the real server does them in order.
    r = rc.http.post(
        f"{rc.base}/rc/v1/clients/{rc.client_id}/reset", json={"sources": [{"name": "Product"}, {}]}
    )
    _ruby_500(r, "Invalid Source Name For Client")
    assert rc.page(p_size=100)[2] == {"count": 5}


@pytest.mark.parametrize("name", ["nosuch", "null,null", "\u00e9t\u00e9", "0", "Bad-Name"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_a_source_name_that_is_no_ruby_constant(rc: RC, live: MockServer, name: str, method: str) -> None:
    path = f"/app/v1/{quote(name, safe=',')}" + ("/1" if method in ("PUT", "DELETE") else "")
    r = rc.http.request(method, rc.base + path, params={"client_id": rc.client_id}, json={})
    _ruby_500(r, f"wrong constant name {name}")
    assert name not in live.state.sources


def test_a_valid_unknown_source_name_keeps_the_source_error_page(rc: RC) -> None:
    r = rc.query("Nosuch", p_size=10)
    assert (r.status_code, r.headers["Content-Type"]) == (200, "application/json")


def test_a_configured_source_is_served_whatever_its_name() -> None:
    with MockServer({"sources": {"products": {"records": 2, "generator": "sequence"}}}) as server:
        rc = RC(server)
        rc.login()
        rc.create_client()
        assert rc.page("products", p_size=10)[2] == {"count": 2}


def test_an_empty_classic_source_name(rc: RC) -> None:
    r = rc.http.get(rc.base + "/application", params={"client_id": rc.client_id, "source_name": ""})
    _ruby_500(r, "wrong constant name ")
    r = rc.http.get(rc.base + "/application", params={"client_id": rc.client_id})
    assert (r.status_code, r.text) == (500, "Unknown source")  # absent: as recorded


@pytest.mark.parametrize(("value", "receiver"), [({}, "an instance of Hash"), ([], "an instance of Array")])
def test_search_page_size_without_to_i(rc: RC, value: Any, receiver: str) -> None:
    r = rc.http.post(
        rc.base + "/rc/v1/app/search",
        json={"client_id": rc.client_id, "sources": [{"name": "Product"}], "search": {}, "p_size": value},
    )
    _ruby_500(r, f"undefined method 'to_i' for {receiver}", "application/json")


def test_bulk_data_without_a_partition(rc: RC) -> None:
    r = rc.http.post(rc.base + "/rc/v1/app/bulk_data", json={"client_id": rc.client_id})
    _ruby_500(r, "undefined method 'to_sym' for nil", "application/json")
    r = rc.http.get(rc.base + "/application/bulk_data", params={"client_id": rc.client_id})
    _ruby_500(r, "undefined method 'to_sym' for nil", "application/json")
    for partition, receiver in ((["user"], "an instance of Array"), (5, "an instance of Integer")):
        r = rc.http.post(
            rc.base + "/rc/v1/app/bulk_data", json={"client_id": rc.client_id, "partition": partition}
        )
        _ruby_500(r, f"undefined method 'to_sym' for {receiver}", "application/json")


def test_classic_search_for_a_source_that_is_no_class(rc: RC) -> None:
    r = rc.http.get(
        rc.base + "/application/search",
        params={"client_id": rc.client_id, "sources[][name]": "0", "search[name]": "x"},
    )
    _ruby_500(r, "undefined method 'is_pass_through?' for nil", "application/json")


def test_an_empty_cud_part_on_the_classic_route(rc: RC) -> None:
    r = rc.http.post(
        rc.base + "/application",
        data={"client_id": rc.client_id, "source_name": "Product"},
        files={"cud": ("cud", b"")},
    )
    _ruby_500(r, "unexpected token at ''")


@pytest.mark.parametrize(
    "path", ["/application", "/application/clientregister", "/rc/v1/clients/{cid}/reset"]
)
def test_a_json_array_body_is_racks_type_error(rc: RC, path: str) -> None:
    r = rc.http.post(
        rc.base + path.format(cid=rc.client_id),
        data=b"[null,null]",
        headers={"Content-Type": "application/json", "X-RhoConnect-CLIENT-ID": rc.client_id or ""},
    )
    _ruby_500(r, "no implicit conversion of Array into Hash")


@pytest.mark.parametrize(
    "path", ["/application", "/app/v1/Product", "/rc/v1/clients", "/application/clientlogin"]
)
def test_a_malformed_json_body_is_text_plain_in_both_families(live: MockServer, path: str) -> None:
    # Answered before any route's checks, so even without a session.
    r = requests.post(
        live.base_url + path, data=b"{broken", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert (r.status_code, r.headers["Content-Type"], r.text) == (
        500,
        "text/plain",
        "Server error while processing client data",
    )
    assert "X-Frame-Options" not in r.headers and "Warning" not in r.headers


# -- bulk files ---------------------------------------------------------------------------------


def _bulk_url(rc: RC) -> str:
    for _ in range(50):
        answer = rc.http.post(
            rc.base + "/rc/v1/app/bulk_data",
            json={"client_id": rc.client_id, "partition": "user", "sources": ["Product"]},
        ).json()
        if answer["result"] == "url":
            return str(answer["url"])
        time.sleep(0.05)
    raise AssertionError("no bulk url")


def test_bulk_file_content_types_and_the_missing_file(rc: RC) -> None:
    url = _bulk_url(rc)
    assert url
    types = {
        ext: requests.get(rc.base + url + ext, timeout=10).headers["Content-Type"]
        for ext in ("", ".rzip", ".gzip")
    }
    assert types == {"": "application/octet-stream", ".rzip": "text/plain", ".gzip": "text/plain"}
    missing = url.rsplit("/", 1)[0] + "/no%20such.data"
    r = requests.get(rc.base + missing, timeout=10)
    assert (r.status_code, r.headers["Content-Type"], r.text) == (
        404,
        "text/plain",
        f"File not found: {unquote(missing)}",
    )
    assert r.headers["X-Cascade"] == "pass" and r.headers["Content-Length"] == str(len(r.content))
    assert "Set-Cookie" not in r.headers and "Cache-Control" not in r.headers


def test_bulk_data_with_a_stored_source_error_and_a_finished_file(rc: RC, live: MockServer) -> None:
    assert _bulk_url(rc)
    live.state.fail_adapter("query", "Product", message="query exploded")
    rc.query(p_size=1)  # stores the source error
    r = rc.http.post(
        rc.base + "/rc/v1/app/bulk_data",
        json={"client_id": rc.client_id, "partition": "user", "sources": ["Product"]},
    )
    assert r.json() == {"result": "url", "url": ""}  # at once, not "wait" first


# -- the /api alias: cross-domain sessions -------------------------------------------------------


def test_api_alias_login_answers_the_session_in_the_body(live: MockServer) -> None:
    http = requests.Session()
    r = http.post(live.base_url + "/api/application/clientlogin", json={"login": "alice", "password": "x"})
    assert (r.status_code, r.headers["Content-Type"]) == (200, HTML)
    assert r.headers["Content-Length"] == str(len(r.content))
    cookie = r.headers["Set-Cookie"].split(" ", 1)[0]  # "rhoconnect_session=...;" as the server slices it
    assert r.text == json.dumps({"rhoconnect_session": quote(cookie, safe="*-._")}).replace("%20", "+")
    # A browser on another origin cannot send the cookie: it sends the body's value in the URL.
    token = json.loads(r.text)["rhoconnect_session"]
    url = f"{live.base_url}/api/application/clientcreate?rhoconnect_session={token}"
    created = requests.get(url, timeout=10)
    assert created.status_code == 200 and created.json()["client"]["client_id"]
    # Only on the /api alias, and a Cookie header wins over the parameter.
    plain = f"{live.base_url}/application/clientcreate?rhoconnect_session={token}"
    assert requests.get(plain, timeout=10).status_code == 401
    assert requests.get(url, headers={"Cookie": "other=1"}, timeout=10).status_code == 401


def test_other_logins_keep_an_empty_body(live: MockServer) -> None:
    for path in ("/application/clientlogin", "/rc/v1/app/login"):
        r = requests.post(live.base_url + path, json={"login": "alice", "password": "x"}, timeout=10)
        assert (r.status_code, r.text) == (200, "")
    r = requests.post(
        live.base_url + "/api/application/clientlogin", json={"login": "", "password": "x"}, timeout=10
    )
    assert (r.status_code, r.text) == (401, "Unable to authenticate ''")
