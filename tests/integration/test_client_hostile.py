"""The client against servers that try to hang or flood it, and against a mock whose push answers
500 after applying the changes.

Each hostile case: a local change waiting, then a sync that meets the misbehaviour. It must end in
bounded time with a clear ``error`` for the source (also visible in the final result), the database
must pass ``PRAGMA integrity_check`` and the local change must still be there and pending.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_server import HostileServer
from rhoconnect_client import SyncEngine
from rhoconnect_client.cli import main as cli_main
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 60  # upper bound of any wait below; the assertions on elapsed time are much tighter


def open_engine(url: str, tmp_path: Path, **options: Any) -> tuple[SyncEngine, str]:
    """A logged-in engine with one pending local create; returns it and the create's id."""
    options.setdefault("timeout", 5.0)
    engine = SyncEngine(url, tmp_path / "db.sqlite", **options)
    engine.add_model("Product")
    assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    temp = engine.model("Product").create({"name": "made offline"})["object"]
    return engine, temp


def timed_sync(engine: SyncEngine) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    started = time.monotonic()
    result = engine.dosync().wait(WAIT)
    elapsed = time.monotonic() - started
    engine.clear_notification(-1)
    assert result is not None, "the sync did not end"
    return result, events, elapsed


def product_error(result: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The one error of the sync, checked to be visible in the final result as well."""
    errors = [e for e in events if e["status"] == "error"]
    assert len(errors) == 1 and errors[0]["source_name"] == "Product", errors
    assert result["status"] == "complete"
    assert result["error_code"] == errors[0]["error_code"] != 0
    assert [f["source_name"] for f in result["failed_sources"]] == ["Product"]
    assert result["failed_sources"][0]["error_message"] == errors[0]["error_message"]
    return errors[0]


def assert_intact(engine: SyncEngine, temp: str) -> None:
    for store in engine.stores.values():
        assert store.integrity_check() == "ok"
    assert engine.model("Product").find(temp) is not None
    assert engine.stores["user"].pending_count() == 1


@pytest.fixture
def cleanup() -> Iterator[list[Any]]:
    """Things to close at the end, engines before servers (in reverse order of adding)."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        item.close() if isinstance(item, SyncEngine) else item.stop()


def hostile(mode: str, cleanup: list[Any], **options: Any) -> HostileServer:
    server = HostileServer(mode, **options).__enter__()
    cleanup.append(server)
    return server


def test_huge_content_length_is_refused_before_reading(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("huge_length", cleanup)
    engine, temp = open_engine(srv.url, tmp_path)
    cleanup.append(engine)
    result, events, elapsed = timed_sync(engine)
    error = product_error(result, events)
    assert (error["error_code"], error["rho_error_code"]) == (4, 4)
    assert "larger than the 64 MiB limit (Content-Length 10737418240)" in error["error_message"]
    assert elapsed < 5
    assert_intact(engine, temp)


def test_a_push_answer_over_the_cap_leaves_its_creates_uncertain(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("huge_push_answer", cleanup)
    engine, temp = open_engine(srv.url, tmp_path)
    cleanup.append(engine)
    result, events, _ = timed_sync(engine)
    error = product_error(result, events)
    assert error["error_code"] == 4 and "larger than the 64 MiB limit" in error["error_message"]
    # The server got the POST: its create waits for a link instead of being posted again blindly.
    saved = json.loads((tmp_path / "db-rhoconfig.json").read_text(encoding="utf-8"))
    assert saved["uncertain_creates"] == {"Product": [temp]}
    assert [method for method, _ in srv.requests].count("POST") == 2  # the login and the one push
    assert_intact(engine, temp)


def test_endless_body_stops_at_the_cap_in_bounded_memory(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("endless_body", cleanup)
    cap = 8 * 1024 * 1024
    engine, temp = open_engine(srv.url, tmp_path, max_body_bytes=cap)
    cleanup.append(engine)
    tracemalloc.start()
    try:
        result, events, elapsed = timed_sync(engine)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error = product_error(result, events)
    assert error["error_code"] == 4 and "larger than the 8 MiB limit" in error["error_message"]
    assert peak < 4 * cap, f"peak {peak} bytes while reading a body capped at {cap}"
    assert elapsed < 10
    # The client dropped the connection: the server cannot push more than its socket buffers.
    sent = srv.sent_bytes
    time.sleep(0.5)
    assert srv.sent_bytes - sent < 8 * 1024 * 1024
    assert_intact(engine, temp)


@pytest.mark.parametrize("declared", [None, 2])
def test_giant_page_is_refused_and_nothing_of_it_stored(
    tmp_path: Path, cleanup: list[Any], declared: int | None
) -> None:
    srv = hostile("giant_page", cleanup, giant_objects=5000, giant_count=declared)
    engine, temp = open_engine(srv.url, tmp_path, page_size=10)
    cleanup.append(engine)
    result, events, _ = timed_sync(engine)
    error = product_error(result, events)
    assert error["error_code"] == 4
    assert "a page holds 5000 objects but 10 were asked for" in error["error_message"]
    assert engine.model("Product").count() == 1  # only the local create
    assert_intact(engine, temp)


@pytest.mark.parametrize(("mode", "most_queries"), [("token_loop", 20), ("empty_loop", 8)])
def test_paging_that_never_ends_is_stopped(
    tmp_path: Path, cleanup: list[Any], mode: str, most_queries: int
) -> None:
    srv = hostile(mode, cleanup)
    engine, temp = open_engine(srv.url, tmp_path, page_size=10)
    cleanup.append(engine)
    result, events, elapsed = timed_sync(engine)
    error = product_error(result, events)
    assert error["error_code"] == 4
    expected = "paging does not end" if mode == "token_loop" else "paging makes no progress"
    assert expected in error["error_message"]
    queries = [path for method, path in srv.requests if method == "GET" and "source_name=" in path]
    assert 3 <= len(queries) <= most_queries
    assert elapsed < 10
    assert_intact(engine, temp)


@pytest.mark.parametrize("mode", ["drip", "drip_headers"])
def test_a_dripping_server_meets_the_deadline(tmp_path: Path, cleanup: list[Any], mode: str) -> None:
    # Each byte comes well within the per-read timeout; only the deadline can end the request.
    srv = hostile(mode, cleanup, drip_interval=0.2)
    engine, temp = open_engine(srv.url, tmp_path, timeout=3.0, deadline=1.5)
    cleanup.append(engine)
    result, events, elapsed = timed_sync(engine)
    error = product_error(result, events)
    assert (error["error_code"], error["rho_error_code"]) == (1, 1)
    assert "within the 1.5 s deadline" in error["error_message"]
    assert 1.5 <= elapsed < 4
    # The request was cut, not abandoned: the server's next byte finds the socket closed.
    sent = srv.sent_bytes
    time.sleep(1.0)
    assert srv.sent_bytes - sent <= 1
    assert_intact(engine, temp)


def test_redirect_to_another_port_is_not_followed(tmp_path: Path, cleanup: list[Any]) -> None:
    elsewhere = hostile("token_loop", cleanup)
    srv = hostile("redirect", cleanup, redirect_to=f"http://127.0.0.1:{elsewhere.port}", redirect_status=307)
    engine, temp = open_engine(srv.url, tmp_path)
    cleanup.append(engine)
    result, events, _ = timed_sync(engine)
    error = product_error(result, events)
    assert (error["error_code"], error["rho_error_code"]) == (307, 2)
    assert f"redirect 307 to http://127.0.0.1:{elsewhere.port}/application?" in error["error_message"]
    assert "another origin" in error["error_message"]
    assert elsewhere.requests == []  # neither the client id nor anything else went there
    assert_intact(engine, temp)


def test_same_origin_redirect_is_followed(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("redirect_here", cleanup)
    engine, _ = open_engine(srv.url, tmp_path)
    cleanup.append(engine)
    result, _, _ = timed_sync(engine)
    assert (result["status"], result["error_code"]) == ("complete", 0)
    queries = [path for method, path in srv.requests if method == "GET" and "source_name=" in path]
    # Each query is redirected once and followed (twice: the unlinked create costs a second pull).
    assert queries == [queries[0], queries[0] + "&redirected=1"] * 2


@pytest.mark.parametrize("status", [302, 307])
def test_login_redirect_elsewhere_fails_with_a_clear_error(
    tmp_path: Path, cleanup: list[Any], status: int
) -> None:
    elsewhere = hostile("token_loop", cleanup)
    srv = hostile(
        "redirect_login", cleanup, redirect_to=f"http://127.0.0.1:{elsewhere.port}", redirect_status=status
    )
    engine = SyncEngine(srv.url, tmp_path / "db.sqlite", timeout=5.0)
    cleanup.append(engine)
    result = engine.login("alice", "secret").wait(WAIT)
    assert result is not None and result["error_code"] == status
    assert result["error_message"].startswith(f"redirect {status} to http://127.0.0.1:{elsewhere.port}/")
    assert elsewhere.requests == []  # the password never left for the other port
    assert not engine.logged_in()


def test_bulk_wait_forever_is_bounded(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("wait_forever", cleanup)
    engine, temp = open_engine(srv.url, tmp_path, bulk_wait_seconds=0.2, bulk_timeout=1.0)
    cleanup.append(engine)
    engine.bulksync_state = 0
    result, _, elapsed = timed_sync(engine)
    assert (result["status"], result["sync_type"], result["error_code"]) == ("error", "bulk", 1)
    assert "still answers 'wait'" in result["error_message"]
    assert elapsed < 5
    polls = [path for _, path in srv.requests if "bulk_data" in path]
    assert 2 <= len(polls) <= 10
    assert_intact(engine, temp)


def test_cli_bulk_timeout_shows_progress_and_fails(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("wait_forever", cleanup)
    args = ["sync", "--server", srv.url, "--login", "a", "--password", "b", "--db", str(tmp_path / "c.db")]
    started = time.monotonic()
    result = CliRunner().invoke(cli_main, [*args, "--source", "Product", "--bulk", "--bulk-timeout", "6"])
    assert result.exit_code == 1, result.output
    assert time.monotonic() - started < 20
    assert "bulk sync: waiting for the server to prepare the user partition" in result.stderr
    assert "still answers 'wait'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_exits_non_zero_on_a_dripping_server(tmp_path: Path, cleanup: list[Any]) -> None:
    srv = hostile("drip", cleanup, drip_interval=0.2)
    args = ["sync", "--server", srv.url, "--login", "a", "--password", "b", "--db", str(tmp_path / "c.db")]
    result = CliRunner().invoke(cli_main, [*args, "--source", "Product", "--deadline", "1"])
    assert result.exit_code == 1, result.output
    assert "Product: error 1: no complete answer" in result.stderr


# ---------------------------------------------------------------------------- against the mock
CONFIG = {"sources": {"Product": {"records": 5, "priority": 1}, "Customer": {"records": 2, "priority": 2}}}


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(CONFIG) as srv:
        yield srv


def test_push_applied_then_answered_500_creates_no_duplicates(mock: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(mock.url, tmp_path / "db.sqlite", timeout=5.0)
    try:
        engine.add_model("Product", sync_priority=1)
        engine.add_model("Customer", sync_priority=2)
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.dosync().wait(WAIT)["error_code"] == 0  # type: ignore[index]
        temps = [engine.model("Product").create({"name": f"offline {i}"})["object"] for i in range(3)]
        engine.model("Product").update("1", {"name": "renamed offline"})
        mock.fail("cud", "status", times=1, status=500, body="proxy failed", run_handler=True)

        result, events, _ = timed_sync(engine)
        error = product_error(result, events)
        assert (error["error_code"], error["error_message"]) == (500, "proxy failed")
        assert result["error_message"] == "Product: proxy failed"
        assert len(mock.state.records("Product", "alice")) == 8  # the server did apply the creates

        result, events, _ = timed_sync(engine)
        assert (result["status"], result["error_code"]) == ("complete", 0)
        assert "failed_sources" not in result
        server = {oid: dict(attrs) for oid, attrs in mock.state.records("Product", "alice").items()}
        local = {o.pop("object"): o for o in engine.model("Product").find_all()}
        assert len(server) == 8 and local == server  # exactly once on both sides
        assert not set(temps) & set(local)  # every create got its server id
        assert server["1"]["name"] == "renamed offline"
        assert engine.stores["user"].pending_count() == 0
        posts = [
            json.loads(e.request_body or "{}") for e in mock.request_journal.entries() if e.operation == "cud"
        ]
        assert [sorted(p.get("create", {})) == sorted(temps) for p in posts] == [True, False]
        assert "create" not in posts[1]  # the update went again (harmless), no create did
    finally:
        engine.close()


def test_cli_exits_non_zero_on_an_adapter_query_error(mock: MockServer, tmp_path: Path) -> None:
    mock.fail("query", "adapter_error", source="Product", times=1, stage="query", message="backend down")
    args = ["sync", "--server", mock.url, "--login", "a", "--password", "b", "--db", str(tmp_path / "c.db")]
    result = CliRunner().invoke(cli_main, [*args, "--source", "Product", "--source", "Customer"])
    assert result.exit_code == 1, result.output
    assert "Product: server reported error 8: query-error: backend down" in result.stderr
