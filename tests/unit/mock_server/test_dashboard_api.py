"""Over HTTP: the admin endpoints the dashboard uses, its static files, and the landing page ``GET /``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from rhoconnect_mock import MockServer
from rhoconnect_mock.api.ui import ASSETS, STATIC
from rhoconnect_mock.control import ControlError
from rhoconnect_mock.faults import ACTIONS, action_types
from test_faults_support import Rc


@contextmanager
def _no_error() -> Iterator[None]:
    yield


def admin(server: MockServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, server.admin_url + path, timeout=10, **kwargs)


# -- overview ------------------------------------------------------------------------------------


def test_overview_shows_sources_users_paging_bulk_and_rules(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"Product": {"p1": {"name": "only"}}, "Extra": {"e1": {"x": "1"}}}))
    config = {
        "data": str(data),
        "users": {"alice": "secret", "bob": "pw"},
        "sources": {"Product": {"poll_interval": 60, "priority": 2}, "Customer": {"records": 4}},
        "faults": [{"id": "f", "match": {"operation": "cud"}, "action": {"type": "reset"}}],
    }
    with MockServer(config) as mock:
        rc = Rc(mock.base_url)
        first = rc.query("Customer", p_size=3)
        token = first.json()[1]["token"]
        assert rc.bulk_data().status_code == 200
        body = admin(mock, "GET", "overview").json()
        mock_overview = mock.overview()

    sources = {s["name"]: s for s in body["sources"]}
    assert sources["Product"] == {
        "name": "Product",
        "partition": "user",
        "priority": 2,
        "poll_interval": 60,
        "records": 1,  # what the data file holds, not the configured default of 25
        "attributes": ["name", "brand", "price", "quantity", "sku"],
    }
    assert sources["Extra"]["records"] == 1 and sources["Customer"]["records"] == 4
    assert body["any_login"] is False
    assert body["users"] == [
        {"name": "alice", "configured": True, "clients": 1},
        {"name": "bob", "configured": True, "clients": 0},
    ]
    assert "secret" not in json.dumps(body) and "pw" not in json.dumps(body["users"])
    (client,) = body["clients"]
    assert client["id"] == rc.client_id and client["user"] == "alice"
    assert client["sources"]["Customer"] == {
        "acknowledged": 0,
        "pending_token": token,
        "pending_count": 3,
        "pending_kind": "data",
        "queued": 0,
    }
    assert [(j["partition"], j["owner"]) for j in body["bulk_jobs"]] == [("user", "alice")]
    assert [r["id"] for r in body["faults"]] == ["f"]
    assert body["journal"]["count"] >= 3
    assert mock_overview == {**body, "journal": mock_overview["journal"]}


def test_acknowledged_position_moves_when_the_client_acknowledges(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    token = rc.query(p_size=10).json()[1]["token"]
    rc.query(token=token, p_size=10)
    paging = admin(rhoconnect_mock, "GET", "overview").json()["clients"][0]["sources"]["Product"]
    assert paging["acknowledged"] == 10 and paging["pending_count"] == 10


# -- fault action schemas and pause ------------------------------------------------------------------


def test_fault_actions_describe_every_parameter(rhoconnect_mock: MockServer) -> None:
    body = admin(rhoconnect_mock, "GET", "fault_actions").json()
    assert sorted(body["actions"]) == sorted(action_types())
    for kind, registered in ACTIONS.items():
        assert set(body["actions"][kind]["params"]) == set(registered.params)
    status = body["actions"]["status"]
    assert status["required"] == ["status"]
    assert status["params"]["status"] == {"type": "integer", "minimum": 100, "maximum": 599}
    assert status["params"]["run_handler"] == {"type": "boolean"}
    stage = body["actions"]["adapter_error"]["params"]["stage"]
    assert stage["type"] == "string" and "create" in stage["enum"]
    assert body["actions"]["delay"]["params"]["seconds"]["type"] == "number"
    assert "query" in body["operations"] and "admin" not in body["operations"]
    assert body["when_keys"] == ["nth", "first", "every", "after", "probability"]


def test_fault_action_schemas_are_the_registrys(rhoconnect_mock: MockServer) -> None:
    """The form's schemas are the ones every rule is validated against: they cannot drift apart."""
    body = admin(rhoconnect_mock, "GET", "fault_actions").json()
    for kind, registered in ACTIONS.items():
        published = registered.schema()
        assert body["actions"][kind]["required"] == published["required"][1:]
        params = {k: v for k, v in published["properties"].items() if k != "type"}
        assert body["actions"][kind]["params"] == params
    assert body == rhoconnect_mock.fault_actions()


def test_a_paused_rule_neither_counts_nor_fires(rhoconnect_mock: MockServer) -> None:
    rule = {"id": "q500", "match": {"operation": "query"}, "action": {"type": "status", "status": 500}}
    assert admin(rhoconnect_mock, "POST", "faults", json=rule).status_code == 201
    rc = Rc(rhoconnect_mock.base_url)
    paused = admin(rhoconnect_mock, "PUT", "faults/q500/paused", json={"paused": True})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert rc.query().status_code == 200
    assert admin(rhoconnect_mock, "GET", "faults/q500").json()["hits"] == 0
    resumed = admin(rhoconnect_mock, "PUT", "faults/q500/paused", json={"paused": False}).json()
    assert "paused" not in resumed
    assert rc.query().status_code == 500
    assert admin(rhoconnect_mock, "GET", "faults/q500").json()["fired"] == 1


def test_mock_server_pauses_rules_as_the_admin_api_does(rhoconnect_mock: MockServer) -> None:
    rule_id = rhoconnect_mock.fail("query", status=500)
    assert rhoconnect_mock.pause_fault(rule_id)["paused"] is True
    rc = Rc(rhoconnect_mock.base_url)
    assert rc.query().status_code == 200
    assert "paused" not in rhoconnect_mock.pause_fault(rule_id, False)
    assert rc.query().status_code == 500
    with pytest.raises(ControlError) as refused:
        rhoconnect_mock.pause_fault("nope")
    assert (refused.value.status, refused.value.field) == (404, "id")


@pytest.mark.parametrize("body", [{}, {"paused": "yes"}, {"paused": True, "x": 1}, [True]])
def test_pause_refuses_a_bad_body(rhoconnect_mock: MockServer, body: Any) -> None:
    admin(rhoconnect_mock, "POST", "faults", json={"id": "r", "action": {"type": "reset"}})
    answer = admin(rhoconnect_mock, "PUT", "faults/r/paused", json=body)
    assert answer.status_code == 400 and answer.json()["field"] == "paused"


def test_pause_of_an_unknown_rule_is_404(rhoconnect_mock: MockServer) -> None:
    answer = admin(rhoconnect_mock, "PUT", "faults/nope/paused", json={"paused": True})
    assert answer.status_code == 404 and answer.json()["field"] == "id"


# -- timeline ----------------------------------------------------------------------------------------


def test_timeline_lists_a_clients_pages_with_counts(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    other = Rc(rhoconnect_mock.base_url, login="bob")
    records = rc.sync_all(p_size=10)
    other.query(p_size=5)
    admin(
        rhoconnect_mock,
        "POST",
        "faults",
        json={"match": {"operation": "query"}, "times": 1, "action": {"type": "status", "status": 500}},
    )
    assert rc.query(p_size=10).status_code == 500
    pages = admin(rhoconnect_mock, "GET", "timeline", params={"client_id": rc.client_id}).json()["pages"]
    assert len(records) == 25
    ok = [p for p in pages if p["status"] == 200]
    assert [p["count"] for p in ok] == [10, 10, 5, 0]
    assert {p["total_count"] for p in ok} == {25} and {p["source"] for p in pages} == {"Product"}
    assert [p["seq"] for p in pages] == sorted(p["seq"] for p in pages)
    assert ok[1]["token_sent"] == ok[0]["token_issued"]
    failed = pages[-1]
    assert (failed["status"], failed["count"], failed["actions"]) == (500, None, ["status"])
    assert all(p["duration_ms"] >= 0 for p in pages)
    newest = admin(rhoconnect_mock, "GET", "timeline", params={"client_id": rc.client_id, "limit": 2}).json()
    assert newest["total"] == len(pages) == 5 and newest["pages"] == pages[-2:]
    assert rhoconnect_mock.timeline(rc.client_id, limit=2) == newest


@pytest.mark.parametrize(
    ("action", "status", "outcome"),
    [
        ({"type": "reset", "at": "before_headers"}, None, "reset_before_headers"),
        ({"type": "reset", "at": "after_headers"}, 200, "reset_after_headers"),
        ({"type": "truncate", "bytes": 20}, 200, "truncated"),
        ({"type": "delay", "seconds": 0.05}, 200, "complete"),
    ],
)
def test_timeline_marks_how_a_page_reached_the_client(
    rhoconnect_mock: MockServer, action: dict[str, Any], status: int | None, outcome: str
) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    rhoconnect_mock.add_fault({"match": {"operation": "query"}, "times": 1, "action": action})
    with pytest.raises(requests.RequestException) if action["type"] != "delay" else _no_error():
        rc.query(p_size=10)
    assert rc.query(p_size=10).status_code == 200
    faulted, clean = rhoconnect_mock.timeline(rc.client_id)["pages"]
    assert (faulted["status"], faulted["outcome"], faulted["actions"]) == (status, outcome, [action["type"]])
    if action["type"] == "delay":
        assert faulted["delay_ms"] >= 50 and faulted["count"] == 10
    else:  # the client never got the whole page: its records are not counted as received
        assert faulted["count"] is None and faulted["delay_ms"] is None
    if action["type"] == "truncate":
        assert faulted["bytes_sent"] == 20
    assert (clean["outcome"], clean["count"], clean["delay_ms"]) == ("complete", 10, None)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"client_id": ""},
        {"client_id": "x", "source": "Product"},
        {"client_id": "x", "limit": "0"},
        {"client_id": "x", "limit": "10001"},
        {"client_id": "x", "limit": "many"},
    ],
)
def test_timeline_needs_a_client_id_and_nothing_else(rhoconnect_mock: MockServer, params: Any) -> None:
    assert admin(rhoconnect_mock, "GET", "timeline", params=params).status_code == 400


# -- browsing records ------------------------------------------------------------------------------------


def test_browse_windows_and_searches_the_records(rhoconnect_mock: MockServer) -> None:
    rhoconnect_mock.state.set_records(
        "Product", "alice", {f"id{n}": {"name": "Widget" if n % 3 == 0 else "Gadget"} for n in range(10)}
    )
    url = "sources/Product/users/alice/browse"
    page = admin(rhoconnect_mock, "GET", url, params={"offset": 8, "limit": 5}).json()
    assert (page["total"], page["matched"], page["offset"]) == (10, 10, 8)
    assert [r["id"] for r in page["records"]] == ["id8", "id9"]
    found = admin(rhoconnect_mock, "GET", url, params={"q": "widGET"}).json()
    assert [r["id"] for r in found["records"]] == ["id0", "id3", "id6", "id9"] and found["matched"] == 4
    assert found["records"][0] == {"id": "id0", "attributes": {"name": "Widget"}}
    assert admin(rhoconnect_mock, "GET", url, params={"q": "id7"}).json()["matched"] == 1
    assert rhoconnect_mock.browse("Product", "alice", "widget", offset=3) == {
        **found,
        "offset": 3,
        "records": found["records"][3:],
    }


@pytest.mark.parametrize(
    ("params", "field"), [({"limit": "1001"}, "limit"), ({"offset": "-1"}, "offset"), ({"x": "1"}, "x")]
)
def test_browse_refuses_bad_parameters(rhoconnect_mock: MockServer, params: Any, field: str) -> None:
    answer = admin(rhoconnect_mock, "GET", "sources/Product/users/alice/browse", params=params)
    assert answer.status_code == 400 and answer.json()["field"] == field


def test_browse_of_an_unknown_source_is_404(rhoconnect_mock: MockServer) -> None:
    assert admin(rhoconnect_mock, "GET", "sources/Nope/users/alice/browse").status_code == 404


# -- token, static files, landing page -------------------------------------------------------------------


def test_dashboard_files_are_public_but_its_data_needs_the_token() -> None:
    with MockServer({"admin_token": "t"}) as mock:
        page = requests.get(mock.base_url + "/_mock/ui/", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert 'src="app.js"' in page.text
        script = requests.get(mock.base_url + "/_mock/ui/app.js", timeout=10)
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
        assert requests.get(mock.base_url + "/_mock/ui/style.css", timeout=10).status_code == 200
        assert requests.get(mock.base_url + "/_mock/ui/../app.py", timeout=10).status_code == 404
        assert requests.get(mock.base_url + "/_mock/ui/secret.txt", timeout=10).status_code == 404
        for path in ("overview", "fault_actions", "timeline?client_id=x"):
            assert admin(mock, "GET", path).status_code == 401
            assert admin(mock, "GET", path, headers={"Authorization": "Bearer t"}).status_code == 200


def test_dashboard_loads_nothing_from_the_internet(rhoconnect_mock: MockServer) -> None:
    for name in ("", "app.js", "style.css"):
        text = requests.get(rhoconnect_mock.base_url + "/_mock/ui/" + name, timeout=10).text
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text


def test_dashboard_files_are_in_the_package() -> None:
    """Shipped as package data (the wheel's contents are checked in tests/test_packaging.py)."""
    assert STATIC.parent.parent.name == "rhoconnect_mock"
    assert {p.name for p in STATIC.iterdir()} == set(ASSETS)


def test_landing_page_is_text_for_curl_and_html_for_browsers(rhoconnect_mock: MockServer) -> None:
    base = rhoconnect_mock.base_url
    text = requests.get(base + "/", headers={"Accept": "*/*"}, timeout=10)
    assert text.status_code == 200 and text.headers["Content-Type"] == "text/plain"
    for url in (base + "/application", base + "/rc/v1/app/login", base + "/_mock/", base + "/_mock/ui/"):
        assert url in text.text
    html = requests.get(
        base + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=10
    )
    assert html.status_code == 200 and html.headers["Content-Type"] == "text/html;charset=utf-8"
    assert f'<a href="{base}/_mock/ui/">' in html.text and f"{base}/application" in html.text


def test_other_unknown_paths_keep_the_real_404(rhoconnect_mock: MockServer) -> None:
    for path in ("/index.html", "/nope", "/app"):
        answer = requests.get(rhoconnect_mock.base_url + path, timeout=10)
        assert (answer.status_code, answer.text) == (404, "<h1>Not Found</h1>")
