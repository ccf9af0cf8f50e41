"""Store basics and the pull side: schema, client_info, sources, page application."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from rhoconnect_client.exceptions import StoreError, UnknownSource
from rhoconnect_client.models import Model
from rhoconnect_client.protocol import Page, parse_page
from rhoconnect_client.schema import SCHEMA_VERSION, WAL_CHECKPOINT_PAGES
from rhoconnect_client.store import ClientInfo, Store, partition_path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "user.db")
    s.register_source("Product", sync_priority=1)
    return s


def rows(store: Store, sql: str, *args: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.conn.execute(sql, args).fetchall()]


def page(cmd: str, token: str = "100", total: int = 0) -> Page:
    return parse_page(
        f'[{{"version":3}},{{"token":"{token}"}},{{"count":0}},{{"progress_count":0}},'
        f'{{"total_count":{total}}},{cmd}]'
    )


def test_partition_paths(tmp_path: Path) -> None:
    base = tmp_path / "app.sqlite"
    assert partition_path(base, "user") == str(base)
    assert partition_path(base, "app") == str(tmp_path / "app-app.sqlite")
    assert partition_path(":memory:", "app") == ":memory:"


def test_new_database_has_rhodes_tables_and_version(store: Store) -> None:
    tables = {r[0] for r in rows(store, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"client_info", "object_values", "changed_values", "sources"} <= tables
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == "ok"


def test_newer_schema_and_foreign_files_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        Store(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError):
        Store(junk)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE sources (x)")
    with pytest.raises(StoreError, match="sources columns"):
        Store(other)


def test_client_info_lifecycle(store: Store) -> None:
    assert store.client_info() == ClientInfo()
    store.set_client_id("abc")
    store.set_session("rhoconnect_session=xyz;")
    assert store.client_info().client_id == "abc"
    assert store.client_info().session == "rhoconnect_session=xyz;"
    store.set_session(None)
    store.set_reset(True)
    info = store.client_info()
    assert info.client_id == "abc" and info.session is None and info.reset is True
    assert rows(store, "SELECT count(*) FROM client_info") == [(1,)]
    store.clear_client_info()
    assert store.client_info() == ClientInfo()


def test_register_source_is_idempotent_and_ordered(store: Store) -> None:
    first = store.source("Product")
    assert first is not None and first.source_id == 1 and first.token == 0
    store.set_token(1, 77)
    again = store.register_source("Product", sync_priority=5, sync_type="bulk_sync_only")
    assert again.source_id == 1 and again.token == 77 and again.sync_type == "bulk_sync_only"
    store.register_source("Customer", sync_priority=2)
    store.register_source("Local", sync_priority=0, sync_type="none")
    assert [s.name for s in store.sources()] == ["Local", "Customer", "Product"]
    assert store.source(2) is not None and store.source("Nope") is None
    fixed = store.register_source("Order", source_id=40)
    assert fixed.source_id == 40
    with pytest.raises(StoreError):
        store.register_source("Other", source_id=40)
    with pytest.raises(ValueError):
        store.register_source("Bad", sync_type="sometimes")
    with pytest.raises(UnknownSource):
        store.apply_page(99, page("{}"))


def test_apply_page_upserts_per_attribute_and_stores_token(store: Store) -> None:
    store.conn.execute("INSERT INTO object_values VALUES (1, 'brand', '1', 'Old brand')")
    applied = store.apply_page(1, page('{"insert":{"1":{"name":"A","price":"2"},"2":{"name":"B"}}}'))
    assert applied.updated == ["1", "2"] and applied.deleted == [] and applied.object_count == 2
    assert Model(store, "Product").find("1") == {
        "object": "1",
        "name": "A",
        "price": "2",
        "brand": "Old brand",
    }
    assert store.source(1).token == 100  # type: ignore[union-attr]
    store.apply_page(1, page('{"insert":{"1":{"name":"A2"}}}', token="101"))
    assert Model(store, "Product").find("1")["name"] == "A2"  # type: ignore[index]


def test_delete_removes_only_listed_attributes(store: Store) -> None:
    store.apply_page(1, page('{"insert":{"1":{"name":"A","price":"2"},"2":{"name":"B"}}}'))
    applied = store.apply_page(1, page('{"delete":{"1":{"price":"2"},"2":{"name":"B"},"3":{}}}', "101"))
    assert applied.deleted == ["1", "2", "3"]
    model = Model(store, "Product")
    assert model.find("1") == {"object": "1", "name": "A"}
    assert model.find("2") is None


def test_changed_attribute_arrives_as_delete_plus_insert(store: Store) -> None:
    store.apply_page(1, page('{"insert":{"1":{"name":"A","price":"2"}}}'))
    # Rhodes order: delete before insert, so the new value survives.
    store.apply_page(1, page('{"insert":{"1":{"price":"3"}},"delete":{"1":{"price":"2"}}}', "101"))
    assert Model(store, "Product").find("1") == {"object": "1", "name": "A", "price": "3"}


def test_resent_page_with_stored_token_is_skipped(store: Store) -> None:
    store.apply_page(1, page('{"insert":{"1":{"name":"A"}}}', "500"))
    Model(store, "Product").update("1", {"name": "local"})
    again = store.apply_page(1, page('{"insert":{"1":{"name":"A"}}}', "500"))
    assert again.resent and again.updated == []
    assert Model(store, "Product").find("1")["name"] == "local"  # type: ignore[index]


def test_metadata_stored(store: Store) -> None:
    store.apply_page(1, page('{"metadata":"{\\"a\\":1}"}'))
    assert store.source(1).metadata == '{"a":1}'  # type: ignore[union-attr]


def test_links_rename_object_outbox_and_children(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.register_source("Customer", sync_priority=1, associations=[("Product", "customer_id")])
    store.register_source("Product", sync_priority=2)
    customers, products = Model(store, "Customer"), Model(store, "Product")
    cust = customers.create({"first": "Ann"})
    prod = products.create({"name": "Pen", "customer_id": cust["object"]})
    batch = store.begin_push(1)
    assert batch is not None and list(batch.create) == [cust["object"]]
    store.push_succeeded(1)
    customers.update(cust["object"], {"first": "Anna"})  # queued while the link is outstanding
    applied = store.apply_page(1, page(f'{{"links":{{"{cust["object"]}":{{"l":"c-9"}}}}}}'))
    assert applied.created == [cust["object"]] and applied.links == {cust["object"]: "c-9"}
    assert customers.find(cust["object"]) is None
    assert customers.find("c-9") == {"object": "c-9", "first": "Anna"}
    assert products.find(prod["object"])["customer_id"] == "c-9"  # type: ignore[index]
    states = rows(
        store, "SELECT object, attrib, update_type, sent FROM changed_values WHERE source_id=1 ORDER BY rowid"
    )
    assert states == [("c-9", "first", "create", 3), ("c-9", "first", "update", 0)]
    # The child's pending create carries the new id too once it is expanded.
    child = store.begin_push(2)
    assert child is not None and child.create[prod["object"]]["customer_id"] == "c-9"
    # token 0 purges confirmed rows only
    store.apply_page(1, page("{}", token=""))
    assert rows(store, "SELECT object, update_type, sent FROM changed_values WHERE source_id=1") == [
        ("c-9", "update", 0)
    ]


def test_server_value_for_waiting_create_marks_conflict(store: Store) -> None:
    model = Model(store, "Product")
    obj = model.create({"name": "Mine", "price": "1"})
    store.begin_push(1)
    store.push_succeeded(1)
    store.apply_page(1, page(f'{{"insert":{{"{obj["object"]}":{{"name":"Server"}}}}}}'))
    assert rows(store, "SELECT attrib, sent FROM changed_values ORDER BY attrib") == [
        ("name", 4),
        ("price", 2),
    ]
    assert store.purge_confirmed(1) == 1


def test_link_onto_existing_server_row_keeps_local_values(store: Store) -> None:
    model = Model(store, "Product")
    obj = model.create({"name": "Mine"})
    store.begin_push(1)
    store.push_succeeded(1)
    store.apply_page(1, page('{"insert":{"srv":{"name":"Echo"}}}'))
    store.apply_page(1, page(f'{{"links":{{"{obj["object"]}":{{"l":"srv"}}}}}}', "101"))
    assert model.find_all() == [{"object": "srv", "name": "Mine"}]
    assert store.integrity_check() == "ok"


def test_a_link_to_the_same_id_confirms_the_create(store: Store) -> None:
    """An adapter may keep the id the client proposed: ``{"temp": {"l": "temp"}}`` confirms the
    create all the same. Left waiting, it would be re-posted for and its updates held forever."""
    model = Model(store, "Product")
    oid = model.create({"name": "Kept id"})["object"]
    store.begin_push(1)
    store.push_succeeded(1)
    store.apply_page(1, page(f'{{"links":{{"{oid}":{{"l":"{oid}"}}}}}}', "101"))
    assert store.waiting_creates(1) == []
    model.update(oid, {"name": "Changed"})
    batch = store.begin_push(1)
    assert batch is not None and batch.update == {oid: {"name": "Changed"}}
    store.push_succeeded(1)
    store.apply_page(1, page("{}", ""))
    assert store.pending_count() == 0 and model.find(oid) == {"object": oid, "name": "Changed"}


def test_failed_page_apply_rolls_back_everything(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from rhoconnect_client import pages

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    store.apply_page(1, page('{"insert":{"1":{"name":"A"}}}', "5"))
    monkeypatch.setattr(pages, "purge_confirmed", boom)
    with pytest.raises(RuntimeError):
        store.apply_page(1, page('{"insert":{"2":{"name":"B"}}}', token=""))
    assert Model(store, "Product").count() == 1 and store.source(1).token == 5  # type: ignore[union-attr]


def test_nested_transactions_are_savepoints(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO object_values VALUES (1, 'a', 'x', '1')")
        with pytest.raises(ZeroDivisionError), store.transaction() as inner:
            inner.execute("INSERT INTO object_values VALUES (1, 'a', 'y', '1')")
            raise ZeroDivisionError
    assert rows(store, "SELECT object FROM object_values") == [("x",)]


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with Store(path) as s:
        s.register_source("Product")
        Model(s, "Product").create({"name": "kept"})
        s.set_client_id("cid")
    with Store(path) as s:
        assert [o["name"] for o in Model(s, "Product").find_all()] == ["kept"]
        assert s.client_info().client_id == "cid" and s.pending_count() == 1


def test_full_reset_keeps_client_id(store: Store) -> None:
    store.set_client_id("cid")
    store.apply_page(1, page('{"insert":{"1":{"name":"A"}}}', "5"))
    Model(store, "Product").create({"name": "x"})
    store.full_reset()
    assert Model(store, "Product").count() == 0 and store.pending_count() == 0
    info = store.client_info()
    assert info.client_id == "cid" and info.reset is True
    assert store.source(1).token == 0  # type: ignore[union-attr]


def test_lock_blocks_other_threads_writes(store: Store) -> None:
    done = threading.Event()

    def sync_thread() -> None:
        store.apply_page(1, page('{"insert":{"9":{"name":"late"}}}'))
        done.set()

    with store.lock:
        t = threading.Thread(target=sync_thread)
        t.start()
        assert not done.wait(0.2)
        assert Model(store, "Product").count() == 0
    t.join(5)
    assert done.is_set() and Model(store, "Product").count() == 1


def test_record_sync(store: Store) -> None:
    store.record_sync(1, inserted=3, deleted=1, duration=0.25, success=True)
    assert rows(
        store,
        "SELECT last_inserted_size, last_deleted_size, last_sync_duration, last_sync_success FROM sources",
    ) == [(3, 1, 250, 1)]


def test_memory_store() -> None:
    s = Store(":memory:")
    s.register_source("P")
    Model(s, "P").create({"a": "1"})
    assert Model(s, "P").count() == 1


def test_database_errors_become_store_errors(store: Store) -> None:
    with pytest.raises(StoreError, match="database error"), store.transaction() as conn:
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    other = sqlite3.connect(store.path, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    store.conn.execute("PRAGMA busy_timeout=50")
    try:
        with pytest.raises(StoreError, match="cannot write"):
            store.set_client_id("x")
    finally:
        other.rollback()
        other.close()
    store.set_client_id("x")
    assert store.client_info().client_id == "x"


def test_source_rows_are_read_fresh_each_time(store: Store) -> None:
    first = store.source("Product")
    assert first is not None and store.source("Product") is first  # same row: the same Source
    store.set_token(first.source_id, 42)
    changed = store.source("Product")
    assert changed is not None and changed.token == 42 and first.token == 0
    assert store.source(first.source_id) == changed


def test_checkpoints_every_few_thousand_log_pages(store: Store) -> None:
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_CHECKPOINT_PAGES
    with Store(":memory:") as memory:  # no log in memory: SQLite's default stays
        assert memory.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_write_source_follows_every_change_of_the_row(store: Store) -> None:
    """Local writes keep the row they read; any change to ``sources`` is seen by the next one."""
    first = store.write_source("Product")
    assert first is not None and store.write_source("Product") is first  # kept between writes
    store.set_token(first.source_id, 7)  # this connection, through the store
    assert store.write_source("Product").token == 7  # type: ignore[union-attr]
    with store.transaction() as conn:  # this connection, raw SQL of another module
        conn.execute("UPDATE sources SET sync_type='none' WHERE name='Product'")
    assert store.write_source("Product").synced is False  # type: ignore[union-attr]
    other = sqlite3.connect(store.path)  # another connection (another process)
    with other:
        other.execute("UPDATE sources SET sync_type='incremental', token=9 WHERE name='Product'")
    other.close()
    again = store.write_source("Product")
    assert again is not None and again.synced and again.token == 9


def test_write_source_forgets_rows_of_a_rolled_back_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.register_source("Gone")
        assert store.write_source("Gone") is not None
        raise RuntimeError("rolled back")
    assert store.write_source("Gone") is None
    with pytest.raises(UnknownSource):
        Model(store, "Gone").create({"a": "1"})


def test_creates_after_a_source_changes_use_the_new_row(store: Store) -> None:
    products = Model(store, "Product")
    products.create({"object": "a", "x": "1"})
    with store.transaction() as conn:
        conn.execute("UPDATE sources SET sync_type='none' WHERE name='Product'")
    products.create({"object": "b", "x": "1"})  # local only now: nothing queued
    queued = {r[0] for r in store.conn.execute("SELECT object FROM changed_values")}
    assert queued == {"a"}
