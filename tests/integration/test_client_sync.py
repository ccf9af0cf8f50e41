"""The real client against a live mock server: both URL families, paging, push and links, search,
bulk, notifications, TLS with a self-signed certificate, and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rhoconnect_client import SyncEngine
from rhoconnect_client.cli import main as cli_main
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30
CONFIG = {
    "sources": {
        "Product": {"records": 25, "priority": 1},
        "Customer": {"records": 7, "priority": 2, "partition": "app"},
    }
}


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(CONFIG) as srv:
        yield srv


def make_engine(url: str, db: Path | str, family: str = "classic", **kw: Any) -> SyncEngine:
    engine = SyncEngine(url, db, url_family=family, **kw)  # type: ignore[arg-type]
    engine.add_model("Product", sync_priority=1)
    engine.add_model("Customer", sync_priority=2, partition="app")
    return engine


def server_records(server: MockServer, source: str, user: str | None) -> dict[str, dict[str, str]]:
    return {oid: dict(attrs) for oid, attrs in server.state.records(source, user).items()}


def local(engine: SyncEngine, name: str) -> dict[str, dict[str, str]]:
    return {o.pop("object"): o for o in engine.model(name).find_all()}


@pytest.mark.parametrize("family", ["classic", "rest"])
def test_full_sync_push_links_and_search(server: MockServer, tmp_path: Path, family: str) -> None:
    url = server.url if family == "classic" else server.base_url
    engine = make_engine(url, tmp_path / "db.sqlite", family)
    try:
        assert engine.login("alice", "secret").wait(WAIT) == {
            "error_code": 0,
            "rho_error_code": 0,
            "error_message": "",
        }
        engine.set_pagesize(10)
        events: list[dict[str, Any]] = []
        engine.set_notification(-1, events.append)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert local(engine, "Product") == server_records(server, "Product", "alice")
        assert local(engine, "Customer") == server_records(server, "Customer", None)
        progress = [
            (e["processed_count"], e["cumulative_count"], e["total_count"])
            for e in events
            if e.get("source_name") == "Product" and e["status"] == "in_progress"
        ]
        assert progress == [(10, 10, 25), (10, 20, 25), (5, 25, 25)]
        assert (app_db := tmp_path / "db-app.sqlite").exists(), app_db

        model = engine.model("Product")
        temp = model.create({"name": "Created", "brand": "Mine"})["object"]
        model.update("3", {"price": "99.99"})
        model.destroy("4")
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        records = server_records(server, "Product", "alice")
        assert local(engine, "Product") == records
        assert model.find(temp) is None and any(r.get("brand") == "Mine" for r in records.values())
        assert records["3"]["price"] == "99.99" and "4" not in records
        assert engine.stores["user"].pending_count() == 0

        server.state.backend_insert("Product", "alice", "found-1", {"name": "Needle", "brand": "Rare"})
        result = engine.search(["Product"], search_params={"brand": "Rare"}, progress_step=1).wait(WAIT)
        assert result is not None and result["status"] == "complete", result
        assert model.find("found-1") == {"object": "found-1", "name": "Needle", "brand": "Rare"}
    finally:
        engine.close()


def test_first_request_has_no_token_and_pages_are_acknowledged(server: MockServer, tmp_path: Path) -> None:
    engine = make_engine(server.url, tmp_path / "db.sqlite")
    try:
        engine.login("alice", "secret").wait(WAIT)
        engine.set_pagesize(10)
        engine.dosync_source("Product", False, "query[brand]=Brand 3").wait(WAIT)
        entries = [e for e in server.request_journal.entries() if e.operation == "query"]
        tokens = [e.token_sent for e in entries]
        assert tokens[0] is None and all(t for t in tokens[1:]) and len(tokens) == 4
        assert all(
            "query%5Bbrand%5D=Brand%203" in e.query_string or "query[brand]=Brand" in e.query_string
            for e in entries
        ), entries[0].query_string
    finally:
        engine.close()


@pytest.mark.parametrize("family", ["classic", "rest"])
def test_bulk_sync_end_to_end_keeps_local_changes(server: MockServer, tmp_path: Path, family: str) -> None:
    url = server.url if family == "classic" else server.base_url
    engine = make_engine(url, tmp_path / "db.sqlite", family, bulk_wait_seconds=0.1)
    try:
        engine.login("alice", "secret").wait(WAIT)
        engine.bulksync_state = 0
        temp = engine.model("Product").create({"name": "Before bulk"})["object"]
        events: list[dict[str, Any]] = []
        engine.set_notification(-1, events.append)
        result = engine.dosync().wait(WAIT)
        assert result is not None and result["status"] == "complete", [
            e for e in events if e["status"] == "error"
        ]
        bulk = [(e["partition"], e["bulk_status"]) for e in events if e["sync_type"] == "bulk"]
        assert bulk[0] == ("", "start") and bulk[-1] == ("", "complete")
        assert ("user", "change_db") in bulk and ("app", "change_db") in bulk
        assert engine.bulksync_state == 1
        records = server_records(server, "Product", "alice")
        assert local(engine, "Product") == records
        assert engine.model("Product").find(temp) is None
        assert any(r.get("name") == "Before bulk" for r in records.values())
        assert local(engine, "Customer") == server_records(server, "Customer", None)
        for store in engine.stores.values():
            assert store.integrity_check() == "ok"
    finally:
        engine.close()


def test_source_ids_stay_unique_across_partitions_after_bulk(server: MockServer, tmp_path: Path) -> None:
    """Each partition's bulk file numbers its sources from 1; the client keeps its own ids, so that
    ``source_id`` routing (per-source notifications, ``dosync_source(id)``) still names one source."""
    engine = make_engine(server.url, tmp_path / "db.sqlite", bulk_wait_seconds=0.1)
    try:
        ids = {name: engine.model(name).source.source_id for name in ("Product", "Customer")}
        assert ids == {"Product": 1, "Customer": 2}
        engine.login("alice", "secret").wait(WAIT)
        engine.bulksync_state = 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        after = {
            src.name: (partition, src.source_id)
            for partition, st in engine.stores.items()
            for src in st.sources()
        }
        assert after == {"Product": ("user", 1), "Customer": ("app", 2)}
        server.state.backend_insert("Customer", None, "c-new", {"name": "new customer"})
        events: list[dict[str, Any]] = []
        engine.set_notification(2, events.append, {"tag": "by id"})
        engine.add_objectnotify(2, "c-new")
        changed: list[dict[str, Any]] = []
        engine.set_objectnotify_url(changed.append)
        result = engine.dosync_source(2).wait(WAIT)
        assert result is not None and result["source_name"] == "Customer" and result["status"] == "ok"
        assert [(e["source_id"], e["source_name"], e["tag"]) for e in events][-1] == (2, "Customer", "by id")
        # Rhodes reports inserted objects as "updated" (docs/protocol.md#object-notifications), under the id
        # the app registered.
        assert changed and changed[0]["updated"] == [{"object": "c-new", "source_id": 2}]
        assert engine.model("Customer").find("c-new") == {"object": "c-new", "name": "new customer"}
    finally:
        engine.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_ssl_verify_peer_against_self_signed_tls_mock(
    self_signed_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    from cheroot.ssl.builtin import BuiltinSSLAdapter
    from rhoconnect_mock.server import make_server

    cert, key = self_signed_cert
    plain = MockServer(CONFIG)  # only for its app: served below over TLS by cheroot
    tls = make_server(plain.app, "127.0.0.1", 0)
    tls.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
    tls.expiration_interval = 0.05
    tls.prepare()
    import threading

    thread = threading.Thread(target=tls.serve, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{tls.bind_addr[1]}/application"
    engine = make_engine(url, ":memory:", timeout=10)
    try:
        refused = engine.login("alice", "secret").wait(WAIT)
        assert refused is not None and refused["error_code"] == 1 and "TLS" in refused["error_message"]
        engine.set_ssl_verify_peer(False)
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.model("Product").count() == 25
        engine.set_ssl_verify_peer(True)
        errors: list[dict[str, Any]] = []
        engine.set_notification(-1, lambda p: errors.append(p) if p["status"] == "error" else None)
        engine.dosync().wait(WAIT)
        assert [(e["source_name"], e["error_code"]) for e in errors] == [("Product", 1), ("Customer", 1)]
        assert engine.model("Product").count() == 25
    finally:
        engine.close()
        tls.stop()
        thread.join(timeout=10)


def test_cli_sync_and_show(server: MockServer, tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    runner = CliRunner()
    result = runner.invoke(
        cli_main,
        [
            "sync",
            "--server",
            server.url,
            "--login",
            "bob",
            "--password",
            "pw",
            "--db",
            str(db),
            "--source",
            "Product",
            "--page-size",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Product" in result.output and "ok" in result.output and "25" in result.output
    result = runner.invoke(cli_main, ["show", "--db", str(db), "Product", "--json"])
    assert result.exit_code == 0
    shown = {o.pop("object"): o for o in json.loads(result.output)}
    assert shown == server_records(server, "Product", "bob")
    table = runner.invoke(cli_main, ["show", "--db", str(db), "Product"])
    assert table.exit_code == 0 and "(25 objects)" in table.output


def test_cli_errors_are_one_line_with_exit_codes(server: MockServer, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "e.sqlite")
    base = ["sync", "--server", server.url, "--db", db, "--source", "Product"]
    bad_login = runner.invoke(cli_main, [*base, "--login", "", "--password", "x"])
    assert bad_login.exit_code == 3
    assert "login failed" in bad_login.output and "Traceback" not in bad_login.output
    server.fail("query", status=500, body="backend exploded", times=1)
    failed = runner.invoke(cli_main, [*base, "--login", "a", "--password", "b"])
    assert failed.exit_code == 1 and "error 500: backend exploded" in failed.output
    bad_url = runner.invoke(
        cli_main,
        [
            "sync",
            "--server",
            "nonsense",
            "--db",
            db,
            "--login",
            "a",
            "--password",
            "b",
            "--source",
            "Product",
        ],
    )
    assert bad_url.exit_code == 2 and "Traceback" not in bad_url.output
    missing = runner.invoke(cli_main, ["show", "--db", str(tmp_path / "none.sqlite"), "Product"])
    assert missing.exit_code == 4 and "no database" in missing.output
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    broken = runner.invoke(cli_main, ["show", "--db", str(junk), "Product"])
    assert broken.exit_code == 4 and "Traceback" not in broken.output


def test_url_callback_receives_form_encoded_notifications(server: MockServer, tmp_path: Path) -> None:
    import threading
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[list[tuple[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
            received.append(urllib.parse.parse_qsl(body, keep_blank_values=True))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    app_server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=app_server.serve_forever, daemon=True).start()
    engine = make_engine(server.url, tmp_path / "db.sqlite")
    try:
        engine.login("alice", "secret").wait(WAIT)
        engine.dosync().wait(WAIT)
        temp = engine.model("Product").create({"name": "rejected"})["object"]
        server.fail("cud", "adapter_error", times=1, stage="create", message="no way")
        engine.set_notification(-1, f"http://127.0.0.1:{app_server.server_address[1]}/sync_cb", "page=1")
        engine.dosync().wait(WAIT)
        forms = [dict(f) for f in received]
        error = next(f for f in forms if f["status"] == "error")
        assert error[f"server_errors[create-error][{temp}][message]"] == "no way"
        assert error[f"server_errors[create-error][{temp}][attributes][name]"] == "rejected"
        assert (error["error_code"], error["page"], error["rho_callback"]) == ("8", "1", "1")
        assert forms[-1]["status"] == "complete"
    finally:
        engine.close()
        app_server.shutdown()
        app_server.server_close()


def test_another_user_logging_in_resets_local_data(server: MockServer, tmp_path: Path) -> None:
    engine = make_engine(server.url, tmp_path / "db.sqlite")
    try:
        engine.login("alice", "secret").wait(WAIT)
        engine.dosync().wait(WAIT)
        engine.model("Product").create({"name": "alice's draft"})
        engine.logout()
        engine.login("bob", "secret").wait(WAIT)
        assert engine.get_user_name() == "bob"
        assert engine.model("Product").count() == 0 and engine.stores["user"].pending_count() == 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert local(engine, "Product") == server_records(server, "Product", "bob")
        resets = [e for e in server.request_journal.entries() if e.operation == "clientreset"]
        assert len(resets) == 1
    finally:
        engine.close()


def test_blob_attribute_is_uploaded_as_multipart(tmp_path: Path) -> None:
    picture = tmp_path / "pic.png"
    picture.write_bytes(b"\x89PNG not really an image")
    config = {"sources": {"Photo": {"records": 0, "attributes": ["name", "photo"], "generator": "sequence"}}}
    with MockServer(config) as srv:
        engine = SyncEngine(srv.url, tmp_path / "db.sqlite")
        try:
            model = engine.add_model("Photo", blob_attribs="photo,0")
            engine.login("alice", "secret").wait(WAIT)
            model.create({"name": "p1", "photo": str(picture)})
            assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
            ((oid, attrs),) = srv.state.records("Photo", "alice").items()
            assert attrs["name"] == "p1"
            stored = srv.state.blob("Photo", "alice", oid, "photo")
            assert stored is not None and stored[1] == picture.read_bytes()
            push = next(e for e in srv.request_journal.entries() if e.operation == "cud")
            assert push.status == 200
            assert model.find(oid) is not None and engine.stores["user"].pending_count() == 0
        finally:
            engine.close()


def test_a_missing_blob_file_fails_its_source_only(tmp_path: Path) -> None:
    """A blob file the app deleted is an ``error`` for that source (the change stays queued), not
    an internal error that stops every source at every sync."""
    config = {
        "sources": {
            "Photo": {"records": 0, "attributes": ["name", "photo"], "generator": "sequence", "priority": 1},
            "Product": {"records": 3, "priority": 2},
        }
    }
    with MockServer(config) as srv:
        engine = SyncEngine(srv.url, tmp_path / "db.sqlite")
        try:
            model = engine.add_model("Photo", sync_priority=1, blob_attribs="photo,0")
            engine.add_model("Product", sync_priority=2)
            engine.login("alice", "secret").wait(WAIT)
            gone = tmp_path / "deleted.png"
            model.create({"name": "p1", "photo": str(gone)})
            events: list[dict[str, Any]] = []
            engine.set_notification(-1, events.append)
            assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
            photo = next(e for e in events if e.get("source_name") == "Photo" and e["status"] == "error")
            assert photo["error_code"] == 3 and str(gone) in photo["error_message"]
            assert engine.model("Product").count() == 3
            assert engine.stores["user"].pending_count() == 1 and srv.state.records("Photo", "alice") == {}
        finally:
            engine.close()


def test_cli_explains_a_url_of_the_wrong_family(server: MockServer, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["sync", "--rest", "--server", server.url, "--db", str(tmp_path / "w.sqlite")]
    result = runner.invoke(cli_main, [*args, "--login", "a", "--password", "b", "--source", "Product"])
    assert result.exit_code == 3
    assert "error 404: no login route at this URL" in result.output and "<!doctype" not in result.output
