"""The request pipeline over HTTP: the journal records what the client actually received.

Each test starts a real server (network faults need cheroot's raw socket), sends protocol
requests as a client would and reads the journal through the admin API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Response
from rhoconnect_mock import MockServer
from rhoconnect_mock.faults import ACTIONS, ActionKind, FaultContext, FaultRule
from test_faults_support import Rc

PAGE_OF_TWO = 2


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": 5}}}) as mock:
        yield mock


def journal(server: MockServer, **filters: Any) -> list[dict[str, Any]]:
    response = requests.get(server.admin_url + "journal", params=filters, timeout=10)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_a_reset_before_headers_is_journaled_as_a_reset_not_a_200() -> None:
    with MockServer({"sources": {"Product": {"records": 5}}, "faults": ["query:reset"]}) as server:
        rc = Rc(server.base_url)
        with pytest.raises(requests.exceptions.ConnectionError):
            rc.query(p_size=PAGE_OF_TWO)
        [entry] = journal(server, operation="query")
        assert entry["status"] is None
        assert entry["outcome"] == "reset_before_headers"
        assert entry["bytes_sent"] == 0 and entry["response_body"] == ""
        assert entry["actions"] == ["reset"] and entry["faults"] == ["rule-1"]
        assert journal(server, outcome="reset_before_headers") == [entry]


def test_a_reset_after_headers_keeps_the_status_the_client_saw(server: MockServer) -> None:
    rc = Rc(server.base_url)
    server.fail("query", "reset", at="after_headers", times=1)
    with pytest.raises(requests.exceptions.RequestException):
        rc.query(p_size=PAGE_OF_TWO)
    [entry] = journal(server, operation="query")
    assert (entry["status"], entry["outcome"], entry["bytes_sent"]) == (200, "reset_after_headers", 0)
    assert entry["response_bytes"] > 0  # what the headers announced, never delivered


def test_a_truncated_body_is_journaled_with_the_bytes_sent(server: MockServer) -> None:
    rc = Rc(server.base_url)
    full = rc.query(p_size=PAGE_OF_TWO).content
    server.clear_journal()
    server.fail_flag("query:truncate=7:once")
    with pytest.raises(requests.exceptions.RequestException):
        rc.query(p_size=PAGE_OF_TWO)
    [entry] = journal(server, operation="query")
    assert (entry["status"], entry["outcome"], entry["bytes_sent"]) == (200, "truncated", 7)
    assert entry["response_bytes"] > 7  # what Content-Length announced
    assert entry["response_body"] == full[:7].decode()


def test_a_delay_is_journaled_with_its_length(server: MockServer) -> None:
    rc = Rc(server.base_url)
    server.fail("query", "delay", seconds=0.25, times=1)
    started = time.monotonic()
    assert rc.query(p_size=PAGE_OF_TWO).status_code == 200
    assert time.monotonic() - started >= 0.25
    server.fail("query", "delay", seconds=0.1, before_handler=True, times=1)
    assert rc.query(p_size=PAGE_OF_TWO).status_code == 200
    first, second = journal(server, operation="query")
    assert (first["delay_ms"], first["outcome"], first["status"]) == (250.0, "complete", 200)
    assert second["delay_ms"] == 100.0 and second["duration_ms"] >= 100.0
    assert rc.query(p_size=PAGE_OF_TWO).status_code == 200
    assert journal(server, operation="query")[-1]["delay_ms"] is None


def test_a_trickled_body_arrives_whole_and_says_so(server: MockServer) -> None:
    rc = Rc(server.base_url)
    server.fail("query", "trickle", chunk_size=100, interval=0.01, times=1)
    body = rc.query(p_size=PAGE_OF_TWO).content
    [entry] = journal(server, operation="query")
    assert (entry["outcome"], entry["bytes_sent"], entry["status"]) == ("trickled", len(body), 200)


def _explode(ctx: FaultContext, rule: FaultRule) -> Response | None:
    raise RuntimeError("the fault hook broke")


def _explode_after(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    raise RuntimeError("the rewrite broke")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (ActionKind("explode", "raises before the handler", before=_explode), "the fault hook broke"),
        (ActionKind("explode", "raises on the response", after=_explode_after), "the rewrite broke"),
    ],
)
def test_an_exception_in_a_fault_hook_still_leaves_a_complete_entry(
    server: MockServer, monkeypatch: pytest.MonkeyPatch, kind: ActionKind, message: str
) -> None:
    monkeypatch.setitem(ACTIONS, kind.name, kind)
    rc = Rc(server.base_url)
    rule_id = server.add_fault({"match": {"operation": "query"}, "action": {"type": "explode"}, "times": 1})
    answer = rc.query(p_size=PAGE_OF_TWO)
    assert (answer.status_code, answer.text) == (500, message)  # RhoConnect's catch_all shape
    [entry] = journal(server, operation="query")
    assert (entry["status"], entry["error"], entry["faults"]) == (500, message, [rule_id])
    assert entry["response_body"] == message and entry["client_id"] == rc.client_id
    [error] = server.mock_errors()
    assert (error["type"], error["message"], error["operation"]) == ("RuntimeError", message, "query")
    assert rc.query(p_size=PAGE_OF_TWO).status_code == 200  # the rule was used up; the server lives on
    server.clear_errors()


def test_an_exception_in_a_handler_is_a_500_with_its_message_and_an_entry(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = Rc(server.base_url)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("no such thing")

    monkeypatch.setattr(server.state, "query_page", broken)
    answer = rc.query(p_size=PAGE_OF_TWO)
    assert answer.status_code == 500
    [entry] = journal(server, operation="query")
    assert entry["status"] == 500 and entry["error"] == "'no such thing'" and entry["outcome"] == "complete"
    assert len(server.mock_errors()) == 1
    server.clear_errors()


def test_a_failure_outside_flask_is_a_500_with_its_message_and_an_entry(
    server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rc = Rc(server.base_url)
    server.fail("query", "delay", seconds=0, times=1)

    def broken_plan(fired: Any) -> Any:
        raise RuntimeError("planning broke")

    monkeypatch.setattr(server.faults_engine, "plan", broken_plan)
    answer = rc.query(p_size=PAGE_OF_TWO)
    assert (answer.status_code, answer.text) == (500, "planning broke")
    monkeypatch.undo()  # the admin API goes through the pipeline too
    [entry] = journal(server, operation="query")
    assert (entry["status"], entry["error"], entry["bytes_sent"]) == (500, "planning broke", 14)
    assert [e["message"] for e in server.mock_errors()] == ["planning broke"]
    server.clear_errors()


def test_admin_requests_stay_out_of_the_journal_and_are_never_faulted(server: MockServer) -> None:
    server.fail(None, status=503)
    assert requests.get(server.admin_url, timeout=10).status_code == 200
    assert journal(server) == []
