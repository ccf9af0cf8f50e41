"""The admin API under /_mock/ over HTTP: rules, reset, data, journal, clients, token protection."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from rhoconnect_mock import MockServer
from test_faults_support import Rc


def admin(server: MockServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, server.admin_url + path, timeout=10, **kwargs)


def test_index_lists_the_endpoints(rhoconnect_mock: MockServer) -> None:
    body = admin(rhoconnect_mock, "GET", "").json()
    assert "/_mock/faults" in body["endpoints"] and "/_mock/journal" in body["endpoints"]
    assert "reset" in body["action_types"] and "admin" not in body["operations"]


def test_add_list_get_delete_rules(rhoconnect_mock: MockServer) -> None:
    rule = {"id": "a", "action": {"type": "status", "status": 502}}
    one = admin(rhoconnect_mock, "POST", "faults", json=rule)
    assert one.status_code == 201
    assert one.json()["faults"][0] == {
        "id": "a",
        "match": {},
        "when": {},
        "times": None,
        "action": {"type": "status", "status": 502},
        "hits": 0,
        "fired": 0,
        "exhausted": False,
    }
    many = admin(
        rhoconnect_mock,
        "POST",
        "faults",
        json={
            "faults": [
                {"match": {"operation": "cud"}, "action": {"type": "reset"}},
                {"match": {"operation": "search"}, "times": 1, "action": {"type": "empty_array"}},
            ]
        },
    )
    assert many.status_code == 201 and len(many.json()["faults"]) == 2
    listed = admin(rhoconnect_mock, "GET", "faults").json()["faults"]
    assert listed[0]["id"] == "a" and len(listed) == 3
    assert admin(rhoconnect_mock, "GET", "faults/a").json()["action"]["status"] == 502
    assert admin(rhoconnect_mock, "DELETE", "faults/a").json() == {"cleared": 1}
    missing = admin(rhoconnect_mock, "GET", "faults/a")
    assert missing.status_code == 404 and missing.json() == {"error": "no fault rule 'a'", "field": "id"}
    assert admin(rhoconnect_mock, "DELETE", "faults/a").status_code == 404
    assert admin(rhoconnect_mock, "DELETE", "faults").json() == {"cleared": 2}
    assert admin(rhoconnect_mock, "GET", "faults").json() == {"faults": []}


def test_rule_counters_are_visible(rhoconnect_mock: MockServer) -> None:
    admin(
        rhoconnect_mock,
        "POST",
        "faults",
        json={
            "id": "q",
            "match": {"operation": "query"},
            "when": {"every": 2},
            "action": {"type": "status", "status": 503},
        },
    )
    rc = Rc(rhoconnect_mock.base_url)
    assert [rc.query(p_size=0).status_code for _ in range(5)] == [200, 503, 200, 503, 200]
    rule = admin(rhoconnect_mock, "GET", "faults/q").json()
    assert (rule["hits"], rule["fired"], rule["exhausted"]) == (5, 2, False)


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        (
            {"action": {"type": "status", "status": 700}},
            "action.status",
            "action.status: must be an integer between 100 and 599",
        ),
        (
            {"faults": [{"action": {"type": "reset"}}, {"match": {"user": ""}, "action": {"type": "reset"}}]},
            "faults[1].match.user",
            "faults[1].match.user: must be a non-empty string",
        ),
        ([{"action": {"type": "reset"}}, {"action": {}}], "faults[1].action.type", None),
        ({"when": {"nth": 1}}, "action", "action: is required"),
        ("reset", "", "must be a table (a rule with match, when, times and action)"),
    ],
)
def test_bad_rules_get_400_naming_the_field_and_nothing_is_added(
    rhoconnect_mock: MockServer, body: Any, field: str, error: str | None
) -> None:
    response = admin(rhoconnect_mock, "POST", "faults", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    if error is not None:
        assert response.json()["error"] == error
    assert rhoconnect_mock.faults() == []


def test_bad_json_and_duplicate_ids(rhoconnect_mock: MockServer) -> None:
    response = admin(
        rhoconnect_mock, "POST", "faults", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "the body is not valid JSON", "field": "body"}
    rule = {"id": "x", "action": {"type": "reset"}}
    assert admin(rhoconnect_mock, "POST", "faults", json=rule).status_code == 201
    again = admin(rhoconnect_mock, "POST", "faults", json=rule)
    assert again.status_code == 400 and again.json() == {
        "error": "id: a rule with id 'x' exists",
        "field": "id",
    }


def test_reset_brings_back_a_fresh_server(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    rc.query(p_size=5)
    rhoconnect_mock.fail("query", status=500)
    assert admin(rhoconnect_mock, "POST", "reset").json() == {"reset": ["data", "faults", "journal"]}
    assert admin(rhoconnect_mock, "GET", "clients").json() == {"clients": []}
    assert rhoconnect_mock.faults() == [] and len(rhoconnect_mock.journal()) == 0
    assert rc.query(p_size=0).text == "Unknown client"  # the client is gone, like after a flushed server


def test_partial_reset_and_its_validation(rhoconnect_mock: MockServer) -> None:
    rhoconnect_mock.fail("query", status=500)
    assert admin(rhoconnect_mock, "POST", "reset", json={"faults": False}).json() == {
        "reset": ["data", "journal"]
    }
    assert len(rhoconnect_mock.faults()) == 1
    bad = admin(rhoconnect_mock, "POST", "reset", json={"data": "yes"})
    assert bad.status_code == 400 and bad.json()["field"] == "data"
    bad = admin(rhoconnect_mock, "POST", "reset", json={"everything": True})
    assert bad.status_code == 400 and bad.json()["field"] == "everything"


def test_reset_restores_start_up_rules_with_fresh_counters() -> None:
    with MockServer({"faults": ["query:503:once"]}) as server:
        rc = Rc(server.base_url)
        assert [rc.query(p_size=0).status_code for _ in range(2)] == [503, 200]
        admin(server, "POST", "reset")
        rc = Rc(server.base_url)
        assert [rc.query(p_size=0).status_code for _ in range(2)] == [503, 200]


def test_set_and_read_records(rhoconnect_mock: MockServer) -> None:
    records = {"a": {"name": "Apple", "price": 1}, "b": {"name": "Banana"}}
    response = admin(rhoconnect_mock, "PUT", "sources/Product/users/alice/records", json=records)
    assert response.json() == {"source": "Product", "user": "alice", "count": 2}
    read = admin(rhoconnect_mock, "GET", "sources/Product/users/alice/records").json()
    assert read["records"] == {"a": {"name": "Apple", "price": "1"}, "b": {"name": "Banana"}}
    assert Rc(rhoconnect_mock.base_url).sync_all() == read["records"]
    assert admin(rhoconnect_mock, "GET", "sources/Product/users/bob/records").json()["count"] == 25


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"a": "Apple"}, "records.a"),
        ({"a": {"name": None}}, "records.a.name"),
        ([1, 2], "records"),
    ],
)
def test_bad_records(rhoconnect_mock: MockServer, body: Any, field: str) -> None:
    response = admin(rhoconnect_mock, "PUT", "sources/Product/users/alice/records", json=body)
    assert response.status_code == 400 and response.json()["field"] == field


def test_unknown_source_is_404(rhoconnect_mock: MockServer) -> None:
    response = admin(rhoconnect_mock, "PUT", "sources/Nope/users/alice/records", json={})
    assert response.status_code == 404 and response.json() == {
        "error": "unknown source 'Nope'",
        "field": "source",
    }


def test_seed_records(rhoconnect_mock: MockServer) -> None:
    response = admin(
        rhoconnect_mock, "POST", "sources/Product/users/alice/seed", json={"count": 7, "seed": 3}
    )
    assert response.json()["count"] == 7
    first = admin(rhoconnect_mock, "GET", "sources/Product/users/alice/records").json()["records"]
    admin(rhoconnect_mock, "POST", "sources/Product/users/alice/seed", json={"count": 7, "seed": 3})
    assert admin(rhoconnect_mock, "GET", "sources/Product/users/alice/records").json()["records"] == first
    bad = admin(rhoconnect_mock, "POST", "sources/Product/users/alice/seed", json={"count": -1})
    assert bad.status_code == 400 and bad.json()["field"] == "count"


def test_backend_changes_reach_the_client(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    before = rc.sync_all()
    response = admin(
        rhoconnect_mock,
        "POST",
        "sources/Product/users/alice/changes",
        json={
            "insert": {"n1": {"name": "New"}},
            "update": {"1": {"name": "Renamed"}},
            "delete": ["2", "nope"],
        },
    )
    assert response.json() == {"inserted": 1, "updated": 1, "deleted": 1}
    page = rc.query().json()
    assert page[5]["insert"]["n1"] == {"name": "New"} and page[5]["insert"]["1"] == {"name": "Renamed"}
    assert page[5]["delete"]["2"] == before["2"]
    bad = admin(rhoconnect_mock, "POST", "sources/Product/users/alice/changes", json={"remove": ["1"]})
    assert bad.status_code == 400 and bad.json()["field"] == "remove"


def test_clients_pending_pages_and_documents(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    page = rc.query(p_size=2).json()
    [client] = admin(rhoconnect_mock, "GET", "clients").json()["clients"]
    assert client["id"] == rc.client_id and client["user"] == "alice"
    assert client["sources"]["Product"]["pending_token"] == page[1]["token"]
    view = admin(rhoconnect_mock, "GET", f"clients/{rc.client_id}/sources/Product").json()
    assert view["pending_page"]["token"] == page[1]["token"] and view["pending_page"]["page"] == page
    assert view["document"] == {}
    rc.query(token=page[1]["token"], p_size=2)
    view = admin(rhoconnect_mock, "GET", f"clients/{rc.client_id}/sources/Product").json()
    assert view["document"] == page[5]["insert"]
    missing = admin(rhoconnect_mock, "GET", "clients/nope/sources/Product")
    assert missing.status_code == 404 and missing.json()["field"] == "client_id"


def test_schema_version_endpoint() -> None:
    config = {
        "sources": {"Fixed": {"records": 2, "schema": {"version": "1.0", "property": {"name": "string"}}}}
    }
    with MockServer(config) as server:
        assert admin(server, "POST", "sources/Fixed/schema_version", json={}).json() == {
            "source": "Fixed",
            "version": "2.0",
        }
        rc = Rc(server.base_url)
        assert admin(server, "POST", "sources/Product/schema_version").status_code == 404
        assert rc.query("Fixed").status_code == 200


def test_admin_token() -> None:
    with MockServer({"admin_token": "s3cret"}) as server:
        denied = admin(server, "GET", "faults")
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == 'Bearer realm="rhoconnect-mock admin"'
        assert denied.json() == {"error": "admin token required: send Authorization: Bearer <token>"}
        assert admin(server, "GET", "faults", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert admin(server, "POST", "reset", headers={"X-Admin-Token": "nope"}).status_code == 401
        assert admin(server, "GET", "faults", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert admin(server, "GET", "faults", headers={"X-Admin-Token": "s3cret"}).status_code == 200
        assert Rc(server.base_url).query(p_size=0).status_code == 200  # the protocol needs no token


def test_adapter_failures_can_be_cleared(rhoconnect_mock: MockServer) -> None:
    rhoconnect_mock.state.fail_adapter("query", "Product", "down")
    rc = Rc(rhoconnect_mock.base_url)
    assert "source-error" in rc.query(p_size=0).json()[5] or "source-error" in rc.query(p_size=1).json()[5]
    assert admin(rhoconnect_mock, "DELETE", "adapter_failures").json() == {"cleared": True}
    assert "source-error" not in rc.query(p_size=1).json()[5]


def test_unnamed_rules_are_numbered_per_app(rhoconnect_mock: MockServer) -> None:
    assert [rhoconnect_mock.fail("query", status=500) for _ in range(2)] == ["rule-1", "rule-2"]
    rhoconnect_mock.add_fault({"id": "rule-3", "action": {"type": "reset"}})
    added = admin(
        rhoconnect_mock,
        "POST",
        "faults",
        json=[{"action": {"type": "reset"}}, {"id": "mine", "action": {"type": "reset"}}],
    )
    assert [r["id"] for r in added.json()["faults"]] == ["rule-4", "mine"]
    admin(rhoconnect_mock, "POST", "reset")
    assert rhoconnect_mock.fail("query", status=500) == "rule-1"
