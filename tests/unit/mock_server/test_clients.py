"""Client create / register / reset and client id resolution (header wins over parameter)."""

from __future__ import annotations

import re

import requests
from mock_rc import RC
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"


def test_create_rest_and_classic(rc: RC) -> None:
    r = rc.http.post(rc.base + "/rc/v1/clients", json={})
    assert r.headers["Content-Type"] == "application/json"
    assert re.fullmatch(rb'\{"client":\{"client_id":"[0-9a-f]{32}"\}\}', r.content)
    r = rc.http.get(rc.base + "/application/clientcreate")
    assert r.status_code == 200
    assert (
        r.headers["Warning"]
        == "Use of the GET /application/clientcreate is deprecated. Use Rhoconnect API v1 instead."
    )
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["client"]["client_id"])


def test_register_rest_classic_and_unknown_id(rc: RC, server: MockServer) -> None:
    body = {
        "client_id": rc.client_id,
        "device_pin": "PIN-123",
        "device_port": "100",
        "device_type": "ANDROID",
        "device_push_type": "rhoconnect_push",
    }
    r = rc.http.post(f"{rc.base}/rc/v1/clients/{rc.client_id}/register", json=body)
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"", HTML)
    r = rc.http.post(rc.base + "/application/clientregister", json={**body, "device_pin": "PIN-456"})
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["Warning"].startswith("Use of the POST /application/clientregister is deprecated")
    unknown = "00000000000000000000000000000abc"
    r = rc.http.post(
        f"{rc.base}/rc/v1/clients/{unknown}/register", json={"device_pin": "PIN-9", "device_type": "APPLE"}
    )
    assert r.status_code == 200
    clients = {c["id"]: c for c in server.state.clients()}
    assert clients[rc.client_id]["device_pin"] == "PIN-456"
    assert clients[rc.client_id]["device_push_type"] == "rhoconnect_push"
    assert clients[unknown]["device_type"] == "APPLE" and clients[unknown]["user"] == "alice"
    # The created-on-the-fly id works for queries.
    rc.client_id = unknown
    assert rc.query().status_code == 200


def test_reading_a_client_needs_admin_token(rc: RC) -> None:
    r = rc.http.get(f"{rc.base}/rc/v1/clients/{rc.client_id}")
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (422, "No API token provided", "text/plain")


def test_unknown_or_missing_client_is_500(rc: RC) -> None:
    for cid in ("ffffffffffffffffffffffffffffffff", None):
        rc.client_id = cid
        for r in (
            rc.query(),
            rc.query(classic=True),
            rc.push(create={"t": {"a": "b"}}),
            rc.http.post(
                rc.base + "/rc/v1/app/search", json={"client_id": cid, "sources": [{"name": "Product"}]}
            ),
        ):
            assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, "Unknown client", HTML)


def test_header_wins_over_parameter(rc: RC) -> None:
    good = rc.client_id
    r = rc.http.get(
        f"{rc.base}/app/v1/Product",
        params={"client_id": good, "p_size": 3},
        headers={"X-RhoConnect-CLIENT-ID": "ffffffffffffffffffffffffffffffff"},
    )
    assert (r.status_code, r.text) == (500, "Unknown client")
    r = rc.http.get(
        f"{rc.base}/app/v1/Product", params={"p_size": 3}, headers={"X-RhoConnect-CLIENT-ID": good}
    )
    assert r.status_code == 200 and r.json()[2] == {"count": 3}


def test_reset_all_and_one_source(rc: RC) -> None:
    first = rc.page(p_size=3)
    rc.page(token=first[1]["token"], p_size=3)
    r = rc.http.post(f"{rc.base}/rc/v1/clients/{rc.client_id}/reset", json={})
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"", HTML)
    again = rc.page(p_size=3)
    assert list(again[5]["insert"]) == list(first[5]["insert"])  # from the first page again
    r = rc.http.get(
        f"{rc.base}/application/clientreset", params={"client_id": rc.client_id, "sources[][name]": "Product"}
    )
    assert r.status_code == 200 and r.headers["Warning"].startswith("Use of the GET /application/clientreset")
    # A stale token is ignored: nothing is pending after a reset.
    after = rc.page(token=again[1]["token"], p_size=3)
    assert list(after[5]["insert"]) == list(first[5]["insert"])


def test_reset_named_source_keeps_others(rc: RC) -> None:
    rc.sync_all("Product")
    rc.sync_all("Broken")
    r = rc.http.post(f"{rc.base}/rc/v1/clients/{rc.client_id}/reset", json={"sources": [{"name": "Broken"}]})
    assert r.status_code == 200
    assert rc.page("Product")[2] == {"count": 0}
    assert rc.page("Broken")[2] == {"count": 3}


def test_reset_unknown_client_is_500(rc: RC) -> None:
    r = rc.http.post(f"{rc.base}/rc/v1/clients/ffffffffffffffffffffffffffffffff/reset", json={})
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, "Unknown client", HTML)


def test_client_of_another_user_is_rebound_and_wiped(server: MockServer) -> None:
    a = RC(server)
    a.login("alice")
    a.create_client()
    a.sync_all()
    a.login("bob")
    page = a.page()
    assert page[2]["count"] == 25  # bob's documents start empty
    assert requests.get(server.base_url + "/app/v1/Product").status_code == 401
