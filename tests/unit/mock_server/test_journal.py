"""The request journal: what is recorded, filters, order assertions, the bound, unexpected errors."""

from __future__ import annotations

import pytest
import requests
from rhoconnect_mock import MockServer
from rhoconnect_mock.journal import Journal, JournalEntry
from test_faults_support import Rc


def sync_all_pages(server: MockServer) -> Rc:
    """25 records in pages of 10: three data pages and the empty one that ends paging."""
    rc = Rc(server.base_url)
    token = None
    for _ in range(4):
        token = rc.query(token=token, p_size=10).json()[1]["token"]
    return rc


def test_every_protocol_request_is_recorded_in_protocol_terms(rhoconnect_mock: MockServer) -> None:
    rc = sync_all_pages(rhoconnect_mock)
    entries = rhoconnect_mock.journal()
    assert [e.operation for e in entries] == ["login", "clientcreate", "query", "query", "query", "query"]
    first, second, third, last = entries.filter(operation="query")
    assert (first.source, first.user, first.client_id) == ("Product", "alice", rc.client_id)
    assert first.family == "rest"
    assert first.token_sent is None and first.token_issued is not None
    assert second.token_sent == first.token_issued and third.token_sent == second.token_issued
    assert last.token_sent == third.token_issued
    assert last.token_issued is None  # the last page ends paging with token ""
    assert (first.method, first.path, first.query_string) == ("GET", "/app/v1/Product", "p_size=10")
    assert first.status == 200 and first.content_type == "application/json"
    assert first.response_body is not None and first.response_body.startswith('[{"version":3},{"token":"')
    assert first.response_bytes is not None and first.duration_ms >= 0
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)


def test_login_bodies_are_not_recorded(rhoconnect_mock: MockServer) -> None:
    Rc(rhoconnect_mock.base_url, password="hunter2")
    login = rhoconnect_mock.journal(operation="login")[0]
    assert login.request_body is None
    assert "hunter2" not in repr(rhoconnect_mock.journal().to_json())


def test_request_bodies_are_recorded_with_a_length_or_chunked(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    body = b'{"create": {"n1": {"name": "A"}}}'
    url = f"{rhoconnect_mock.base_url}/app/v1/Product"
    headers = {"X-RhoConnect-CLIENT-ID": rc.client_id, "Content-Type": "application/json"}
    assert rc.http.post(url, data=body, headers=headers, timeout=10).status_code == 200
    chunked = rc.http.post(url, data=iter([body[:9], body[9:]]), headers=headers, timeout=10)
    assert chunked.status_code == 200
    pushes = rhoconnect_mock.journal(operation="cud")
    assert [e.request_body for e in pushes] == [body.decode(), body.decode()]
    assert rhoconnect_mock.journal(operation="clientcreate")[0].request_body is None  # no body sent


def test_admin_requests_are_not_journaled(rhoconnect_mock: MockServer) -> None:
    requests.get(rhoconnect_mock.admin_url + "journal", timeout=10)
    requests.get(rhoconnect_mock.admin_url + "clients", timeout=10)
    assert len(rhoconnect_mock.journal()) == 0
    assert rhoconnect_mock.journal() == []


def test_filters_since_and_limit(rhoconnect_mock: MockServer) -> None:
    sync_all_pages(rhoconnect_mock)
    Rc(rhoconnect_mock.base_url, "bob").query("Other", p_size=0)
    assert [e.user for e in rhoconnect_mock.journal(operation="query")] == ["alice"] * 4 + ["bob"]
    assert len(rhoconnect_mock.journal(source="Other")) == 1
    assert len(rhoconnect_mock.journal(user="bob", operation="login")) == 1
    all_entries = rhoconnect_mock.journal()
    since = all_entries[3].seq
    assert [e.seq for e in rhoconnect_mock.journal(since=since)] == [e.seq for e in all_entries[4:]]
    assert [e.seq for e in rhoconnect_mock.journal(limit=2)] == [e.seq for e in all_entries[-2:]]
    with pytest.raises(KeyError, match="no field 'colour'"):
        rhoconnect_mock.journal(colour="red")


def test_journal_over_the_admin_api(rhoconnect_mock: MockServer) -> None:
    sync_all_pages(rhoconnect_mock)
    body = requests.get(
        rhoconnect_mock.admin_url + "journal", params={"operation": "query", "limit": "2"}, timeout=10
    ).json()
    assert body["count"] == 6 and body["dropped"] == 0 and body["size"] == 10_000
    assert [e["operation"] for e in body["entries"]] == ["query", "query"]
    assert body["entries"][1]["token_issued"] is None
    status = requests.get(rhoconnect_mock.admin_url + "journal", params={"status": 200}, timeout=10).json()
    assert len(status["entries"]) == 6
    bad = requests.get(rhoconnect_mock.admin_url + "journal", params={"colour": "red"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "colour"
    assert requests.delete(rhoconnect_mock.admin_url + "journal", timeout=10).json() == {"cleared": True}
    assert rhoconnect_mock.journal().to_json() == []


def test_order_assertions(rhoconnect_mock: MockServer) -> None:
    rc = Rc(rhoconnect_mock.base_url)
    token = rc.query(p_size=5).json()[1]["token"]
    rc.query(token=token, p_size=5)
    rc.push(create={"t1": {"name": "Pen"}})
    entries = rhoconnect_mock.journal()
    entries.assert_acknowledged_before("Product", token, "cud")
    query, cud = entries.assert_order({"operation": "query", "token_sent": token}, {"operation": "cud"})
    assert query.seq < cud.seq
    with pytest.raises(AssertionError) as info:
        entries.assert_order({"operation": "cud"}, {"operation": "query", "token_sent": token})
    message = str(info.value)
    assert "no request matching {'operation': 'query', 'token_sent': '" in message
    assert "after step 1 ({'operation': 'cud'})" in message
    assert f"query GET /app/v1/Product source=Product token_sent={token!r}" in message
    with pytest.raises(AssertionError, match=r"no request matching \{'operation': 'search'\} at all"):
        entries.assert_order({"operation": "search"})
    assert entries.index(operation="cud") == len(entries) - 1
    assert entries.first(operation="clientcreate") is entries[1]


def test_fired_rules_are_named_in_the_entries(rhoconnect_mock: MockServer) -> None:
    rule = rhoconnect_mock.fail("query", status=503, nth=2)
    rc = Rc(rhoconnect_mock.base_url)
    for _ in range(3):
        rc.query(p_size=0)
    assert [e.faults for e in rhoconnect_mock.journal(operation="query")] == [[], [rule], []]
    assert [e.status for e in rhoconnect_mock.journal(faults=rule)] == [503]
    assert [e.actions for e in rhoconnect_mock.journal(operation="query")] == [[], ["status"], []]


def entry(seq: int) -> JournalEntry:
    return JournalEntry(
        seq=seq,
        time=0.0,
        method="GET",
        path="/",
        query_string="",
        operation="query",
        family="rest",
        source="P",
        sources=[],
        user="u",
        client_id="c",
        token_sent=None,
        token_issued=None,
        status=200,
        content_type=None,
        response_bytes=0,
        duration_ms=0.0,
    )


def test_the_journal_is_bounded_and_counts_what_it_dropped() -> None:
    journal = Journal(size=3)
    for seq in range(1, 6):
        journal.record(entry(seq))
    kept = journal.entries()
    assert [e.seq for e in kept] == [3, 4, 5] and kept.dropped == 2
    assert journal.summary()["dropped"] == 2
    journal.clear()
    assert journal.summary()["dropped"] == 0 and len(journal.entries()) == 0
    with pytest.raises(ValueError, match="at least 1"):
        Journal(size=0)


def test_journal_size_from_the_config() -> None:
    with MockServer({"journal_size": 3}) as server:
        rc = Rc(server.base_url)
        for _ in range(4):
            rc.query(p_size=0)
        body = requests.get(server.admin_url + "journal", timeout=10).json()
        assert (body["size"], body["count"], body["dropped"]) == (3, 3, 3)
        assert [e["operation"] for e in body["entries"]] == ["query"] * 3


def test_unexpected_mock_errors_are_kept(
    rhoconnect_mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = Rc(rhoconnect_mock.base_url)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("paging engine exploded")

    monkeypatch.setattr(rhoconnect_mock.state, "query_page", broken)
    assert rc.query(p_size=0).status_code == 500
    [error] = rhoconnect_mock.mock_errors()
    assert (error["type"], error["message"], error["operation"]) == (
        "RuntimeError",
        "paging engine exploded",
        "query",
    )
    assert "Traceback" in error["traceback"]
    assert requests.get(rhoconnect_mock.admin_url + "errors", timeout=10).json()["errors"][0]["type"] == (
        "RuntimeError"
    )
    assert requests.delete(rhoconnect_mock.admin_url + "errors", timeout=10).status_code == 200
    assert rhoconnect_mock.mock_errors() == []
