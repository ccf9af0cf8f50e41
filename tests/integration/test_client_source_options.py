"""``pass_through`` and ``full_update`` sources against a live mock, as Rhodes handles them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_client.models import Model
from rhoconnect_client.protocol import parse_page
from rhoconnect_client.store import Store
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": 25}}}) as srv:
        yield srv


def ids(engine: SyncEngine, name: str = "Product") -> set[str]:
    return {o["object"] for o in engine.model(name).find_all()}


def test_full_update_sends_every_attribute_of_an_updated_object(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    try:
        model = engine.add_model("Product", options=["full_update"])
        assert model.source.full_update and not model.source.pass_through
        engine.login("alice", "pw").wait(WAIT)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        before = dict(model.find("3") or {})
        model.update("3", {"price": "9.99"})
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        body = json.loads(server.journal(operation="cud")[-1].request_body or "{}")
        sent = body["update"]["3"]
        assert sent == {**{k: v for k, v in before.items() if k != "object"}, "price": "9.99"}
        assert server.state.records("Product", "alice")["3"]["price"] == "9.99"
        assert engine.stores["user"].pending_count() == 0
    finally:
        engine.close()


def test_without_full_update_only_the_change_is_sent(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    try:
        model = engine.add_model("Product")
        engine.login("alice", "pw").wait(WAIT)
        engine.dosync().wait(WAIT)
        model.update("3", {"price": "9.99"})
        engine.dosync().wait(WAIT)
        body = json.loads(server.journal(operation="cud")[-1].request_body or "{}")
        assert body["update"] == {"3": {"price": "9.99"}}
    finally:
        engine.close()


def test_pass_through_pages_replace_the_data_and_one_page_ends_the_pull(
    server: MockServer, tmp_path: Path
) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    try:
        model = engine.add_model("Product", options=["pass_through"])
        engine.login("alice", "pw").wait(WAIT)
        engine.set_pagesize(10)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert len(server.journal(operation="query")) == 1  # one page, no acknowledgement round
        first = ids(engine)
        assert len(first) == 10 and model.source.token == 0

        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        second = ids(engine)
        assert len(second) == 10 and not (second & first)  # the next page replaced the first
    finally:
        engine.close()


def test_pass_through_page_keeps_objects_with_unconfirmed_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        source = store.register_source("Product", options=["pass_through"])
        Model(store, "Product").create({"object": "mine", "name": "Mine"})
        with store.transaction() as conn:
            conn.execute("INSERT INTO object_values VALUES (?, 'name', 'old', 'Old')", (source.source_id,))
        page = parse_page(
            b'[{"version":3},{"token":"77"},{"count":1},{"progress_count":0},{"total_count":1},'
            b'{"insert":{"new":{"name":"New"}}}]'
        )
        store.apply_page(source.source_id, page)
        assert {o["object"] for o in Model(store, "Product").find_all()} == {"mine", "new"}
        assert store.source("Product").token == 0  # type: ignore[union-attr]
    finally:
        store.close()


def test_pass_through_creates_do_not_wait_for_links(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    try:
        model = engine.add_model("Product", options=["pass_through"])
        engine.login("alice", "pw").wait(WAIT)
        model.create({"name": "Through"})
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.stores["user"].pending_count() == 0
        assert any(r.get("name") == "Through" for r in server.state.records("Product", "alice").values())
    finally:
        engine.close()


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    with SyncEngine("http://127.0.0.1:1/application", tmp_path / "db.sqlite") as engine:
        with pytest.raises(ValueError, match="options must be"):
            engine.add_model("Product", options=["fast"])
        with pytest.raises(ValueError, match="options must be"):
            engine.add_model("Product", options="pass_through")
