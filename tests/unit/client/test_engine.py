"""SyncEngine through its public API against the in-process fake server: login, paging and tokens,
push and links, notifications and their routing, the sync thread (merge, stop, poll, mutex)."""

from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, FakeTransport
from mutex_harness import call_holding_the_mutex
from rhoconnect_client.engine import SyncEngine

WAIT = 10


def products(n: int) -> dict[str, dict[str, str]]:
    return {str(i): {"name": f"Product {i}", "price": f"{i}.25"} for i in range(1, n + 1)}


@pytest.fixture
def server() -> FakeServer:
    return FakeServer({"Product": products(5), "Customer": {"c1": {"first": "Ann"}}})


@pytest.fixture
def engine(server: FakeServer, tmp_path: Path) -> Iterator[SyncEngine]:
    eng = SyncEngine(
        "http://fake.invalid/application", tmp_path / "app.sqlite", transport=FakeTransport(server)
    )
    eng.add_model("Product", sync_priority=1)
    eng.add_model("Customer", sync_priority=2)
    yield eng
    eng.close()


def login(engine: SyncEngine) -> None:
    assert engine.login("alice", "secret").wait(WAIT) == {
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
    }


def local(engine: SyncEngine, name: str) -> dict[str, dict[str, str]]:
    return {o.pop("object"): o for o in engine.model(name).find_all()}


def test_login_success_and_failure(engine: SyncEngine) -> None:
    calls: list[dict[str, Any]] = []
    assert not engine.logged_in()
    bad = engine.login("alice", "wrong", calls.append).wait(WAIT)
    assert bad == {"error_code": 401, "rho_error_code": 9, "error_message": "Unable to authenticate 'alice'"}
    assert calls == [bad] and not engine.logged_in()
    assert engine.login("alice", "secret", calls.append).wait(WAIT) == {
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
    }
    assert engine.logged_in() and engine.get_user_name() == "alice"


def test_dosync_without_session_reports_error_7_to_global_callback(engine: SyncEngine) -> None:
    seen: list[dict[str, Any]] = []
    engine.set_notification(-1, seen.append, {"from": "app"})
    result = engine.dosync().wait(WAIT)
    assert result is not None
    assert (result["status"], result["error_code"], result["rho_error_code"]) == ("error", 7, 7)
    assert seen == [result] and result["from"] == "app"


def test_full_sync_pages_tokens_and_counters(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.set_pagesize(2)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append, "tag=x")
    result = engine.dosync().wait(WAIT)
    assert result == {
        "status": "complete",
        "sync_type": "incremental",
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
        "tag": "x",
    }
    assert local(engine, "Product") == server.data["Product"]
    assert local(engine, "Customer") == server.data["Customer"]
    queries = [e for op, e in server.log if op == "query" and e["source"] == "Product"]
    assert queries[0]["token"] is None  # the first request of a run never carries a token
    assert all(q["token"] is not None for q in queries[1:]) and len(queries) == 4
    progress = [
        (e["processed_count"], e["cumulative_count"], e["total_count"])
        for e in events
        if e.get("source_name") == "Product" and e["status"] == "in_progress"
    ]
    assert progress == [(2, 2, 5), (2, 4, 5), (1, 5, 5)]
    statuses = [(e.get("source_name"), e["status"]) for e in events if e["status"] != "in_progress"]
    assert statuses == [("Product", "ok"), ("Customer", "ok"), (None, "complete")]
    ok = next(e for e in events if e["status"] == "ok")
    assert ok["source_id"] == engine.model("Product").source.source_id
    assert isinstance(ok["source_id"], int) and ok["sync_type"] == "incremental"
    # A second sync sends the stored token nowhere first and gets nothing new.
    server.log.clear()
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert [e["token"] for op, e in server.log if op == "query"] == [None, None]


def test_per_source_callback_is_one_shot_global_stays(engine: SyncEngine) -> None:
    login(engine)
    mine: list[dict[str, Any]] = []
    everyone: list[dict[str, Any]] = []
    pid = engine.model("Product").source.source_id
    engine.set_notification(pid, mine.append, {"k": "v"})
    engine.set_notification(-1, everyone.append)
    engine.dosync().wait(WAIT)
    assert [e["status"] for e in mine] == ["in_progress", "ok"] and all(e["k"] == "v" for e in mine)
    assert [e.get("source_name") for e in everyone] == ["Customer", "Customer", None]
    mine.clear()
    everyone.clear()
    engine.dosync().wait(WAIT)
    assert mine == [] and [e["status"] for e in everyone] == ["ok", "ok", "complete"]
    engine.clear_notification(-1)
    everyone.clear()
    engine.dosync().wait(WAIT)
    assert everyone == []


def test_resent_page_is_not_applied_twice(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.set_pagesize(3)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    server.resend_once = True  # the answer to the acknowledgement repeats the pending page
    result = engine.dosync_source("Product").wait(WAIT)
    assert result is not None and result["status"] == "ok"
    tokens = [e["token"] for op, e in server.log if op == "query"]
    assert tokens[0] is None and tokens[1] == tokens[2]  # re-acknowledged after the re-send
    progress = [e["cumulative_count"] for e in events if e["status"] == "in_progress"]
    assert progress == [3, 5]
    assert local(engine, "Product") == server.data["Product"]


def test_dosync_source_by_name_and_id_and_unknown(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    result = engine.dosync_source("Customer").wait(WAIT)
    assert result is not None and (result["status"], result["source_name"]) == ("ok", "Customer")
    assert local(engine, "Product") == {}
    pid = engine.model("Product").source.source_id
    result = engine.dosync_source(pid).wait(WAIT)
    assert result is not None and result["source_name"] == "Product"
    unknown = engine.dosync_source("Nosuch").wait(WAIT)
    assert unknown is not None and (unknown["status"], unknown["error_code"]) == ("error", 3)


def test_push_create_update_delete_and_links(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    created = model.create({"name": "New", "price": "9"})
    temp = created["object"]
    model.update("1", {"price": "99"})
    model.destroy("2")
    watched: list[dict[str, Any]] = []
    engine.set_objectnotify_url(watched.append)
    engine.add_objectnotify("Product", temp)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    push = next(e["body"] for op, e in server.log if op == "push")
    assert list(push) == ["source_name", "client_id", "create", "update", "delete"]
    assert push["create"] == {temp: {"name": "New", "price": "9"}}
    assert push["update"] == {"1": {"price": "99"}}
    assert push["delete"] == {"2": {"name": "Product 2", "price": "2.25"}}
    assert local(engine, "Product") == server.data["Product"]
    assert model.find(temp) is None
    assert engine.stores["user"].pending_count() == 0
    assert watched and watched[0]["created"] == [{"object": temp, "source_id": model.source.source_id}]


def test_adapter_errors_notify_code_8_and_sync_continues(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.create_fails = lambda attrs: "duplicate" if attrs.get("name") == "Bad" else None
    bad = engine.model("Product").create({"name": "Bad"})["object"]
    pid = engine.model("Product").source.source_id
    mine: list[dict[str, Any]] = []
    everyone: list[dict[str, Any]] = []
    engine.set_notification(pid, mine.append)
    engine.set_notification(-1, everyone.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete"
    assert len(mine) == 1
    error = mine[0]
    assert (error["status"], error["error_code"], error["rho_error_code"]) == ("error", 8, 8)
    assert error["server_errors"] == {
        "create-error": {bad: {"message": "duplicate", "attributes": {"name": "Bad"}}}
    }
    assert [(e.get("source_name"), e["status"]) for e in everyone][:1] == [("Product", "ok")]
    # Recovery through the API: recreate pushes it again once the adapter accepts it.
    server.create_fails = lambda attrs: None
    engine.on_sync_create_error("Product", error["server_errors"]["create-error"], ":recreate")
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == server.data["Product"]
    assert any(a == {"name": "Bad"} for a in server.data["Product"].values())


def test_update_error_rollback(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.update_fails = lambda oid, attrs: "rejected"
    engine.model("Product").update("3", {"price": "-1"})
    errors: list[dict[str, Any]] = []
    engine.set_notification(-1, lambda p: errors.append(p) if p["status"] == "error" else None)
    engine.dosync().wait(WAIT)
    server_errors = errors[0]["server_errors"]
    assert server_errors["update-error"]["3"] == {"message": "rejected", "attributes": {"price": "-1"}}
    assert server_errors["update-rollback"]["3"]["attributes"]["price"] == "3.25"
    engine.on_sync_update_error(
        "Product", server_errors["update-error"], "rollback", server_errors["update-rollback"]
    )
    assert engine.model("Product").find("3")["price"] == "3.25"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "status", "body", "code", "rho"),
    [
        ("status", 500, "boom", 500, 2),
        ("status", 404, "", 404, 2),
        ("connection", 0, "", 1, 1),
        ("timeout", 0, "", 1, 1),
        ("body", 0, '[{"version":3},{"tok', 4, 4),
        ("body", 0, "not json", 4, 4),
        ("body", 0, "[]", 4, 4),
        (
            "body",
            0,
            '[{"version":2},{"token":""},{"count":0},{"progress_count":0},{"total_count":0},{}]',
            11,
            11,
        ),
    ],
)
def test_query_failures_report_and_lose_nothing(
    engine: SyncEngine, server: FakeServer, kind: str, status: int, body: str, code: int, rho: int
) -> None:
    login(engine)
    engine.set_pagesize(2)
    engine.dosync().wait(WAIT)
    new = engine.model("Product").create({"name": "Local"})["object"]
    server.data["Product"]["9"] = {"name": "Server new"}
    server.fail("query", kind, status=status, body=body)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete"  # other sources go on
    error = next(e for e in events if e["status"] == "error")
    assert (error["source_name"], error["error_code"], error["rho_error_code"]) == ("Product", code, rho)
    if kind == "status":
        assert error["error_message"] == body
    assert engine.stores["user"].integrity_check() == "ok"
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == server.data["Product"]
    assert any(a == {"name": "Local"} for a in server.data["Product"].values())
    assert engine.model("Product").find(new) is None  # linked to its server id


def test_push_failure_rolls_back_and_skips_pull(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    engine.model("Product").update("1", {"price": "7"})
    server.fail("push", "connection")
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    engine.dosync().wait(WAIT)
    assert next(e for e in events if e["status"] == "error")["error_code"] == 1
    assert not any(op == "query" and e["source"] == "Product" for op, e in server.log[-3:])
    assert engine.stores["user"].pending_count() == 1
    engine.dosync().wait(WAIT)
    assert server.data["Product"]["1"]["price"] == "7"
    assert engine.stores["user"].pending_count() == 0


def test_401_clears_session_stops_sync_without_complete(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.model("Product").create({"name": "Keep me"})
    server.fail("query", "status", status=401, body="Not authenticated")
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None
    assert (result["status"], result["error_code"], result["rho_error_code"], result["error_message"]) == (
        "error",
        401,
        9,
        "Not authenticated",
    )
    assert [e["status"] for e in events] == ["error"]  # no Customer, no complete
    assert not engine.logged_in()
    # the client id stays (decision "Sessions and servers")
    assert engine.stores["user"].client_info().client_id
    assert sum(1 for op, _ in server.log if op == "login") == 1  # no automatic re-login
    assert engine.stores["user"].pending_count() == 1


def test_unknown_client_recovers_with_exactly_the_servers_data(
    engine: SyncEngine, server: FakeServer
) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.clients.clear()  # the server lost every client
    del server.data["Product"]["4"]
    local_new = engine.model("Product").create({"name": "Offline"})["object"]
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    engine.dosync().wait(WAIT)
    error = next(e for e in events if e["status"] == "error")
    assert (error["error_code"], error["error_message"]) == (500, "Unknown client")
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == server.data["Product"]
    assert engine.model("Product").find(local_new) is None
    assert any(a == {"name": "Offline"} for a in server.data["Product"].values())


def test_schema_changed_ends_the_sync(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    server.schema_changed.add("Product")
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "schema-changed" and result["source_name"] == "Product"
    assert "complete" not in [e["status"] for e in events]


def test_identical_queued_commands_are_merged(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    gate = threading.Event()
    server.fail("clientcreate", "block", event=gate)
    first = engine.dosync_source("Customer")
    time.sleep(0.2)  # the first command is running (blocked)
    second = engine.dosync()
    third = engine.dosync()
    other = engine.dosync(False)
    assert second is third and second is not other
    gate.set()
    assert first.wait(WAIT) is not None and second.wait(WAIT) is not None and other.wait(WAIT) is not None
    assert sum(1 for op, _ in server.log if op == "clientcreate") == 1


def test_stop_sync_cancels_in_flight_request_and_silences_notifications(
    engine: SyncEngine, server: FakeServer
) -> None:
    login(engine)
    engine.model("Product").create({"name": "Pending"})
    gate = threading.Event()
    server.fail("query", "block", event=gate)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    handle = engine.dosync()
    queued = engine.dosync_source("Customer")
    time.sleep(0.3)
    started = time.monotonic()
    engine.stop_sync()
    assert time.monotonic() - started < 2
    gate.set()
    assert handle.wait(WAIT) is not None and handle.stopped and queued.stopped
    assert handle.result is not None and handle.result["error_code"] == 10
    assert events == []
    store = engine.stores["user"]
    assert store.integrity_check() == "ok"
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert local(engine, "Product") == server.data["Product"]


def test_stop_sync_while_the_app_holds_the_sync_mutex_does_not_hang(
    engine: SyncEngine, server: FakeServer
) -> None:
    """The sync thread may be waiting for the very mutex the app holds: ``stop_sync`` (and so
    ``logout``, ``login``, ``search``) then flags the stop and returns instead of waiting forever;
    the sync stops, silently, once the app lets go."""
    login(engine)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    ok, handle = call_holding_the_mutex(engine, engine.logout, WAIT)
    assert ok, "stop_sync waited for a sync thread blocked on the app's own mutex"
    assert handle.wait(WAIT) is not None and handle.stopped
    assert events == [] and not engine.logged_in()
    login(engine)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]


def test_sync_mutex_blocks_page_apply(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    with engine.sync_mutex():
        handle = engine.dosync()
        time.sleep(0.3)
        assert not handle.done()
        assert engine.model("Product").count() == 0  # nothing applied while the app holds the mutex
    assert handle.wait(WAIT) is not None
    assert engine.model("Product").count() == 5


def test_logout_and_set_syncserver(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    client_id = engine.stores["user"].client_info().client_id
    requests_before = len(server.log)
    engine.logout()
    assert not engine.logged_in() and len(server.log) == requests_before
    assert engine.stores["user"].client_info().client_id == client_id
    assert engine.get_user_name() == "alice"
    login(engine)
    engine.set_syncserver("http://fake.invalid/application/")  # same URL: nothing changes
    assert engine.logged_in()
    engine.set_syncserver("http://other.invalid/application")
    assert not engine.logged_in() and engine.stores["user"].client_info().client_id is None
    assert engine.server_url == "http://other.invalid/application"


def test_pollinterval_and_pagesize(engine: SyncEngine, server: FakeServer) -> None:
    assert engine.get_pagesize() == 2000
    engine.set_pagesize(50)
    assert engine.get_pagesize() == 50
    assert engine.set_pollinterval(0.2) == 0
    time.sleep(0.4)
    assert not any(op == "query" for op, _ in server.log)  # not logged in: polling does nothing
    login(engine)
    deadline = time.monotonic() + WAIT
    while engine.model("Product").count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.model("Product").count() == 5
    assert engine.set_pollinterval(0) == 0.2


def test_url_callbacks_post_bracket_notation(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.create_fails = lambda attrs: "no"
    temp = engine.model("Product").create({"name": "X"})["object"]
    engine.set_notification(-1, "http://app.invalid/notify", "extra=1")
    engine.dosync().wait(WAIT)
    transport = engine._transport
    assert isinstance(transport, FakeTransport)
    posted = [dict(fields) for url, fields in transport.posted]
    error = next(p for p in posted if p["status"] == "error")
    assert error[f"server_errors[create-error][{temp}][message]"] == "no"
    assert error[f"server_errors[create-error][{temp}][attributes][name]"] == "X"
    assert error["error_code"] == "8" and error["extra"] == "1" and error["rho_callback"] == "1"


def test_status_reporter_only_when_enabled(engine: SyncEngine) -> None:
    lines: list[dict[str, Any]] = []
    engine.set_status_reporter(lines.append)
    login(engine)
    engine.dosync(True).wait(WAIT)
    assert lines == []
    engine.enable_status_popup(True)
    engine.dosync(False).wait(WAIT)
    assert lines == []
    engine.dosync(True).wait(WAIT)
    assert [p["status"] for p in lines][-1] == "complete"


def test_a_failing_status_reporter_does_not_break_the_sync(engine: SyncEngine, server: FakeServer) -> None:
    """Like a notification callback, the status display is the app's code: its failure is logged
    and the sync goes on."""
    seen: list[str] = []

    def broken(params: dict[str, Any]) -> None:
        seen.append(params["status"])
        raise RuntimeError("the status bar is gone")

    engine.set_status_reporter(broken)
    engine.enable_status_popup(True)
    login(engine)
    result = engine.dosync(True).wait(WAIT)
    assert result is not None and result["status"] == "complete"
    assert seen[-1] == "complete" and local(engine, "Product") == server.data["Product"]


def test_search_with_progress_step(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    server.data["Product"].update({str(i): {"name": "x", "brand": "B"} for i in range(10, 17)})
    seen: list[dict[str, Any]] = []
    result = engine.search(
        ["Product"],
        search_params={"brand": "B"},
        callback=seen.append,
        callback_param="from=search",
        progress_step=3,
    ).wait(WAIT)
    assert result is not None and result["status"] == "complete" and result["error_code"] == 0
    assert result["search_params"] == {"brand": "B"} and result["from"] == "search"
    assert [(e["status"], e.get("cumulative_count")) for e in seen] == [
        ("in_progress", 3),
        ("in_progress", 6),
        ("in_progress", 7),
        ("complete", None),
    ]
    assert engine.model("Product").count() == 7
    assert engine.model("Product").source.token == 0
    searches = [e["sources"] for op, e in server.log if op == "search"]
    assert searches[0] == [("Product", None)] and searches[1][0][1] is not None


def test_search_error(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    server.source_errors["Product"] = {"search-error": "search unavailable"}
    result = engine.search(["Product"], search_params={"a": "b"}).wait(WAIT)
    assert result is not None and result["status"] == "error" and result["error_code"] == 8
    assert result["server_errors"] == {"search-error": {"message": "search unavailable"}}


def test_bulk_sync_waits_downloads_and_keeps_local_changes(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    server.bulk_waits = 2
    engine.bulksync_state = 0
    engine._settings.bulk_wait_seconds = 0.01
    mine = engine.model("Customer").create({"first": "Local"})["object"]
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete", result
    bulk_events = [
        (e["partition"], e["bulk_status"], e["status"]) for e in events if e["sync_type"] == "bulk"
    ]
    assert bulk_events == [
        ("", "start", "in_progress"),
        ("user", "start", "in_progress"),
        ("user", "download", "in_progress"),
        ("user", "change_db", "in_progress"),
        ("user", "ok", "in_progress"),
        ("", "complete", "ok"),
    ]
    assert engine.bulksync_state == 1
    assert sum(1 for op, _ in server.log if op == "bulk_data") == 3
    assert local(engine, "Product") == server.data["Product"]
    assert engine.model("Customer").find(mine) is None  # pushed after the swap, then linked
    assert any(a == {"first": "Local"} for a in server.data["Customer"].values())


def test_bulk_errors(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.bulksync_state = 0
    server.bulk_answer = '{"result":"url","url":""}'
    result = engine.dosync().wait(WAIT)
    assert result is not None and (result["status"], result["sync_type"], result["bulk_status"]) == (
        "error",
        "bulk",
        "",
    )
    assert result["error_code"] == 4
    server.bulk_answer = None
    server.fail("download", "body", body="this is not a zip")
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["error_code"] == 4 and engine.bulksync_state == 0
    assert engine.stores["user"].integrity_check() == "ok"


def damage_deflate_stream(archive: bytes) -> bytes:
    """The archive with the first deflate block of its entry made invalid (block type 3)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.infolist()[0]
    start = info.header_offset
    name_len, extra_len = struct.unpack("<HH", archive[start + 26 : start + 30])
    data = bytearray(archive)
    data[start + 30 + name_len + extra_len] = 0x07  # BFINAL 1, BTYPE 11: zlib refuses it
    return bytes(data)


def test_a_damaged_bulk_archive_is_a_bulk_error_4(
    engine: SyncEngine, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download damaged inside the compressed data is an unexpected server response (code 4,
    bulk ``error`` notification), not an internal error; the database is untouched."""
    login(engine)
    engine.dosync().wait(WAIT)
    before = local(engine, "Product")
    engine.bulksync_state = 0
    make = server.make_bulk_file
    monkeypatch.setattr(server, "make_bulk_file", lambda *args: damage_deflate_stream(make(*args)))
    result = engine.dosync().wait(WAIT)
    assert result is not None and (result["status"], result["sync_type"]) == ("error", "bulk")
    assert result["error_code"] == 4 and engine.bulksync_state == 0
    assert local(engine, "Product") == before


@pytest.mark.parametrize("server_got_it", [True, False])
def test_push_without_answer_neither_duplicates_nor_loses_creates(
    engine: SyncEngine, server: FakeServer, server_got_it: bool
) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    temp = model.create({"name": "Once"})["object"]
    model.update("1", {"price": "5"})
    if server_got_it:
        server.lose_push_answer = 1
    else:
        server.fail("push", "timeout")
    errors: list[dict[str, Any]] = []
    engine.set_notification(-1, lambda p: errors.append(p) if p["status"] == "error" else None)
    engine.dosync().wait(WAIT)
    assert [e["error_code"] for e in errors] == [1]
    assert engine.stores["user"].pending_count() == 2
    engine.dosync().wait(WAIT)
    copies = [a for a in server.data["Product"].values() if a == {"name": "Once"}]
    assert len(copies) == 1
    assert server.data["Product"]["1"]["price"] == "5"
    assert local(engine, "Product") == server.data["Product"] and model.find(temp) is None
    assert engine.stores["user"].pending_count() == 0
    assert engine._settings.uncertain_creates == {}


def test_a_broken_off_push_that_cannot_be_recorded_sends_its_creates_again(
    engine: SyncEngine, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uncertain-create file cannot be written (disk full): the creates must not wait for a link
    nobody remembers; they go back to unsent and reach the server on the next sync."""
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    temp = model.create({"name": "Kept"})["object"]
    server.fail("push", "timeout")
    settings = engine._settings

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings, "save", disk_full)
    engine.dosync().wait(WAIT)
    assert settings.uncertain_creates.get("Product", []) == []
    sent = (
        engine.stores["user"]
        .conn.execute("SELECT DISTINCT sent FROM changed_values WHERE object=?", (temp,))
        .fetchall()
    )
    assert [tuple(row) for row in sent] == [(0,)]
    monkeypatch.undo()
    engine.dosync().wait(WAIT)
    assert [a for a in server.data["Product"].values() if a == {"name": "Kept"}] == [{"name": "Kept"}]
    assert engine.stores["user"].pending_count() == 0


def test_bulk_sync_only_sources_get_data_from_bulk_only(server: FakeServer, tmp_path: Path) -> None:
    engine = SyncEngine(
        "http://fake.invalid/application",
        tmp_path / "b.sqlite",
        transport=FakeTransport(server),
        bulk_wait_seconds=0.01,
    )
    try:
        engine.add_model("Product", sync_priority=1, sync_type="bulk_sync_only")
        engine.add_model("Customer", sync_priority=2)
        login(engine)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.model("Product").count() == 0 and engine.model("Customer").count() == 1
        assert not any(op == "query" and e["source"] == "Product" for op, e in server.log)
        engine.bulksync_state = 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert local(engine, "Product") == server.data["Product"]
        assert next(e for op, e in server.log if op == "bulk_data")["sources"] == ["Product", "Customer"]
    finally:
        engine.close()


def test_another_user_logging_in_gets_a_bulk_sync_again(server: FakeServer, tmp_path: Path) -> None:
    """A user change resets the data as Rhodes ``database_full_reset`` does, which also sets
    ``bulksync_state`` back to 0 (docs/protocol.md#when-the-client-creates-or-resets-its-id): else a
    ``bulk_sync_only`` source would stay
    empty for the new user."""
    engine = SyncEngine(
        "http://fake.invalid/application",
        tmp_path / "u.sqlite",
        transport=FakeTransport(server),
        bulk_wait_seconds=0.01,
        bulksync_state=0,
    )
    try:
        engine.add_model("Product", sync_priority=1, sync_type="bulk_sync_only")
        login(engine)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.bulksync_state == 1 and engine.model("Product").count() > 0
        assert engine.login("bob", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.bulksync_state == 0 and engine.model("Product").count() == 0
        server.log.clear()
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert [op for op, _ in server.log].count("bulk_data") >= 1
        assert local(engine, "Product") == server.data["Product"]
    finally:
        engine.close()


def test_search_stops_a_running_sync_first(engine: SyncEngine, server: FakeServer) -> None:
    """Rhodes ``rho_sync_doSearch`` calls ``rho_sync_stop`` before queueing the search
    (docs/protocol.md#search-request):
    the search does not wait behind a sync, whose handle reports that it was stopped."""
    login(engine)
    gate = threading.Event()
    server.fail("query", "block", event=gate)
    try:
        sync = engine.dosync()
        deadline = time.monotonic() + WAIT
        while not any(op == "query" for op, _ in server.log):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        found = engine.search("Product", search_params={"name": "x"}).wait(WAIT)
        assert found is not None and found["status"] == "complete"
        assert sync.done() and sync.stopped
    finally:
        gate.set()


def test_search_sync_changes_pushes_first(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    temp = engine.model("Product").create({"name": "pushed before search", "brand": "Z"})["object"]
    result = engine.search("Product", search_params={"brand": "Z"}, sync_changes=True).wait(WAIT)
    assert result is not None and result["status"] == "complete"
    ops = [op for op, _ in server.log if op in ("push", "search")]
    assert ops[0] == "push" and "search" in ops
    assert any(a.get("name") == "pushed before search" for a in server.data["Product"].values())
    assert engine.stores["user"].pending_count() == 1  # the create waits for its link (next sync)
    engine.dosync().wait(WAIT)
    assert engine.model("Product").find(temp) is None and engine.stores["user"].pending_count() == 0


def test_stop_during_push_neither_loses_nor_duplicates(engine: SyncEngine, server: FakeServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    temp = engine.model("Product").create({"name": "Stopped"})["object"]
    gate = threading.Event()
    server.fail("push", "block", event=gate)
    handle = engine.dosync()
    time.sleep(0.3)
    engine.stop_sync()
    gate.set()  # the abandoned POST reaches the server after all
    assert handle.wait(WAIT) is not None and handle.stopped
    deadline = time.monotonic() + WAIT
    while not any(a == {"name": "Stopped"} for a in server.data["Product"].values()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    engine.dosync().wait(WAIT)
    assert [a for a in server.data["Product"].values() if a == {"name": "Stopped"}] == [{"name": "Stopped"}]
    assert local(engine, "Product") == server.data["Product"] and engine.model("Product").find(temp) is None


def test_close_does_not_wait_for_a_slow_server(server: FakeServer, tmp_path: Path) -> None:
    engine = SyncEngine(
        "http://fake.invalid/application", tmp_path / "c.sqlite", transport=FakeTransport(server)
    )
    engine.add_model("Product")
    login(engine)
    gate = threading.Event()
    server.fail("clientcreate", "block", event=gate)
    engine.dosync()
    time.sleep(0.2)
    started = time.monotonic()
    engine.close()
    assert time.monotonic() - started < 2
    gate.set()
