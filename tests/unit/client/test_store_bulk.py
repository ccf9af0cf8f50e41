"""Installing a bulk file (docs/protocol.md#installing-a-bulk-file): validation, id remapping, pending changes
kept."""

from __future__ import annotations

import sqlite3
import uuid
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rhoconnect_client.exceptions import BulkError
from rhoconnect_client.models import Model
from rhoconnect_client.store import Store

# The schema of a real RhoConnect 7.8 bulk file (recorded exchange errors-85).
BULK_DDL = """
CREATE TABLE client_info ("client_id" VARCHAR(255) default NULL, "session" VARCHAR(255) default NULL,
 "token" VARCHAR(255) default NULL, "token_sent" BIGINT default 0, "reset" BIGINT default 0,
 "port" VARCHAR(10) default NULL, "last_sync_success" VARCHAR(100) default NULL);
CREATE TABLE object_values ("source_id" BIGINT default NULL, "attrib" varchar(255) default NULL,
 "object" varchar(255) default NULL, "value" varchar default NULL);
CREATE TABLE changed_values ("source_id" BIGINT default NULL, "attrib" varchar(255) default NULL,
 "object" varchar(255) default NULL, "value" varchar default NULL, "attrib_type" varchar(255) default NULL,
 "update_type" varchar(255) default NULL, "sent" BIGINT default 0);
CREATE TABLE sources ("source_id" BIGINT PRIMARY KEY, "name" VARCHAR(255) default NULL,
 "token" BIGINT default NULL, "sync_priority" BIGINT, "partition" VARCHAR(255), "sync_type" VARCHAR(255),
 "metadata" varchar default NULL, "last_updated" BIGINT default 0, "last_inserted_size" BIGINT default 0,
 "last_deleted_size" BIGINT default 0, "last_sync_duration" BIGINT default 0,
 "last_sync_success" BIGINT default 0, "backend_refresh_time" BIGINT default 0,
 "source_attribs" varchar default NULL, "schema" varchar default NULL, "schema_version" varchar default NULL,
 "associations" varchar default NULL, "blob_attribs" varchar default NULL);
CREATE TABLE Fixed("object" varchar(255) PRIMARY KEY,"name" varchar default NULL,"price" varchar default NULL,
 "qty" varchar default NULL );
CREATE UNIQUE INDEX by_qty on Fixed ("qty");
CREATE INDEX by_src_id on object_values ("source_id");
CREATE UNIQUE INDEX by_src_object ON object_values ("object", "attrib", "source_id");
CREATE INDEX by_src_value ON object_values ("attrib", "source_id", "value");
"""
FIXED_SCHEMA = '{"version":"2.0","property":{"name":"string","price":"float","qty":"integer"}}'


def make_bulk_file(path: Path, products: int = 25) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(BULK_DDL)
    conn.execute(
        "INSERT INTO sources (source_id, name, token, sync_priority, partition, sync_type, "
        "last_inserted_size, source_attribs, blob_attribs) "
        "VALUES (1, 'Product', NULL, 3, 'user', 'incremental', ?, 'name,1', '')",
        (products,),
    )
    conn.execute(
        "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type, blob_attribs) "
        "VALUES (2, 'Broken', 3, 'user', 'none', '')"
    )
    conn.execute(
        "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type, metadata, schema) "
        "VALUES (3, 'Fixed', 3, 'user', 'incremental', '{\"title\":\"Fixed items\"}', ?)",
        (FIXED_SCHEMA,),
    )
    conn.executemany(
        "INSERT INTO object_values VALUES (1, ?, ?, ?)",
        [(a, str(i), f"{a} {i}") for i in range(1, products + 1) for a in ("name", "brand")],
    )
    conn.executemany(
        "INSERT INTO Fixed VALUES (?, ?, ?, ?)",
        [("f1", "Fixed 1", "2.50", "1"), ("f2", "Fixed 2", None, "2")],
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "user.db")
    s.register_source("Local", sync_priority=0, sync_type="none")  # id 1, collides with the file's Product
    s.register_source("Product", sync_priority=1, associations="Order,product_id")  # id 2 locally
    s.set_client_id("cid")
    s.set_session("rhoconnect_session=abc;")
    return s


def test_swap_keeps_pending_changes_and_local_source_ids(tmp_path: Path, store: Store) -> None:
    products, local = Model(store, "Product"), Model(store, "Local")
    store.conn.executemany(
        "INSERT INTO object_values VALUES (2, ?, ?, ?)",
        [
            ("name", "3", "name 3"),
            ("name", "4", "name 4"),
            ("brand", "4", "brand 4"),
            ("name", "99", "stale"),
        ],
    )
    note = local.create({"text": "kept"})
    new = products.create({"name": "Fresh"})
    products.update("3", {"name": "Edited"})
    products.destroy("4")
    bulk = make_bulk_file(tmp_path / "bulk.data")

    store.install_bulk_database(bulk)

    assert bulk.exists()  # the downloaded file is left for the caller to delete
    product = store.source("Product")
    assert product is not None and product.source_id == 2 and product.token == 0  # file id 1: renumbered
    assert product.sync_priority == 1 and product.associations == "Order,product_id"  # local declaration
    kept_local = store.source("Local")
    assert kept_local is not None and kept_local.source_id == 1 and kept_local.sync_type == "none"
    # Only in the file: Broken's id 2 is taken locally (next free id), Fixed keeps its 3.
    assert [(s.name, s.source_id) for s in sorted(store.sources(), key=lambda s: s.source_id)] == [
        ("Local", 1),
        ("Product", 2),
        ("Fixed", 3),
        ("Broken", 4),
    ]
    assert local.find(note["object"]) == {"object": note["object"], "text": "kept"}
    assert products.find("99") is None  # server data replaces the old data
    assert products.find("3") == {"object": "3", "name": "Edited", "brand": "brand 3"}
    assert products.find("4") is None  # pending delete re-applied
    assert products.find(new["object"]) == {"object": new["object"], "name": "Fresh"}
    assert products.count() == 25  # 25 from the file - 1 deleted + 1 created
    assert store.pending_count(2) == 3
    batch = store.begin_push(2)
    assert batch is not None
    assert batch.create == {new["object"]: {"name": "Fresh"}}
    assert batch.update == {"3": {"name": "Edited"}}
    assert batch.delete == {"4": {"name": "name 4", "brand": "brand 4"}}
    info = store.client_info()
    assert info.client_id == "cid" and info.session == "rhoconnect_session=abc;"
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == "ok"
    assert not list(tmp_path.glob("*.bulk-new*"))
    # Property bags in object_values; the fixed-schema source in its own table, a column per property.
    assert store.conn.execute("SELECT DISTINCT source_id FROM object_values ORDER BY 1").fetchall() == [
        (1,),
        (2,),
    ]
    assert store.conn.execute('SELECT * FROM "Fixed" ORDER BY object').fetchall() == [
        ("f1", "Fixed 1", "2.50", "1"),
        ("f2", "Fixed 2", None, "2"),
    ]
    assert Model(store, "Fixed").find("f2") == {"object": "f2", "name": "Fixed 2", "qty": "2"}


def test_sources_new_to_the_partition_avoid_reserved_ids(tmp_path: Path) -> None:
    """Ids of the other partitions are reserved: a file source new here never takes one of them."""
    store = Store(tmp_path / "app.db", partition="app")
    store.register_source("Product", source_id=7)  # file id 1; ids 1-3 are used in the user partition
    store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data", products=3), reserved_ids=[1, 2, 3])
    ids = {s.name: s.source_id for s in store.sources()}
    assert ids == {"Product": 7, "Broken": 8, "Fixed": 9}
    assert Model(store, "Product").count() == 3
    assert Model(store, "Fixed").find("f1") is not None  # fixed-schema rows under the new id
    store.close()


def test_swapped_source_ids_cross_over_without_conflict(tmp_path: Path) -> None:
    """File ids 1 and 3 become 3 and 1: objects with the same id in both sources survive the swap."""
    store = Store(tmp_path / "user.db")
    store.register_source("Fixed", source_id=1)
    store.register_source("Product", source_id=3)
    bulk = make_bulk_file(tmp_path / "bulk.data", products=2)
    conn = sqlite3.connect(bulk)
    conn.execute("INSERT INTO Fixed VALUES ('1', 'same id as product 1', NULL, NULL)")
    conn.commit()
    conn.close()
    store.install_bulk_database(bulk)
    assert Model(store, "Product").find("1") == {"object": "1", "name": "name 1", "brand": "brand 1"}
    assert Model(store, "Fixed").find("1") == {"object": "1", "name": "same id as product 1"}
    assert {s.name: s.source_id for s in store.sources()} == {"Fixed": 1, "Broken": 2, "Product": 3}
    store.close()


def test_fixed_schema_table_becomes_property_bag(tmp_path: Path, store: Store) -> None:
    store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data"))
    fixed = Model(store, "Fixed")
    assert fixed.find("f1") == {"object": "f1", "name": "Fixed 1", "price": "2.50", "qty": "1"}
    assert fixed.find("f2") == {"object": "f2", "name": "Fixed 2", "qty": "2"}
    assert store.source("Fixed").metadata == '{"title":"Fixed items"}'  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["text", "zip", "empty", "truncated", "no_tables", "missing_column"])
def test_invalid_bulk_files_leave_database_untouched(tmp_path: Path, store: Store, kind: str) -> None:
    Model(store, "Product").create({"name": "precious"})
    before = store.conn.execute("SELECT * FROM changed_values").fetchall()
    bad = tmp_path / f"{kind}.data"
    if kind == "text":
        bad.write_text("<html>502 Bad Gateway</html>")
    elif kind == "zip":
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("x.data", "not a db")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        good = make_bulk_file(tmp_path / "good.data", products=2000)
        bad.write_bytes(good.read_bytes()[:8192])
    elif kind == "no_tables":
        sqlite3.connect(bad).execute("CREATE TABLE t (x)").connection.commit()
    else:
        conn = sqlite3.connect(bad)
        conn.executescript(BULK_DDL.replace('"update_type" varchar(255) default NULL, ', ""))
        conn.commit()
        conn.close()
    with pytest.raises(BulkError):
        store.install_bulk_database(bad)
    assert store.conn.execute("SELECT * FROM changed_values").fetchall() == before
    assert Model(store, "Product").find_all()[0]["name"] == "precious"
    assert store.source("Product").source_id == 2  # type: ignore[union-attr]
    assert store.integrity_check() == "ok"
    assert not list(tmp_path.glob("*.bulk-new*"))


def test_a_file_failing_after_renumbering_leaves_database_untouched(tmp_path: Path, store: Store) -> None:
    """The staged copy is written without a journal: a failure once its rows were renumbered (here
    the unique index the client adds cannot be built) discards it and keeps the database as it was."""
    Model(store, "Product").create({"name": "precious"})
    bad = tmp_path / "duplicates.data"
    conn = sqlite3.connect(bad)
    conn.executescript(BULK_DDL.replace("CREATE UNIQUE INDEX by_src_object", "CREATE INDEX by_src_object"))
    conn.execute(
        "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type) "
        "VALUES (1, 'Product', 3, 'user', 'incremental')"
    )
    conn.executemany("INSERT INTO object_values VALUES (1, 'name', ?, ?)", [("7", "a"), ("7", "b")])
    conn.commit()
    conn.close()
    with pytest.raises(BulkError, match="cannot take the client's schema"):
        store.install_bulk_database(bad)
    assert [o["name"] for o in Model(store, "Product").find_all()] == ["precious"]
    assert store.source("Product").source_id == 2  # type: ignore[union-attr]
    assert store.integrity_check() == "ok"
    assert not list(tmp_path.glob("*.bulk-new*"))


def test_missing_file_is_bulk_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(BulkError):
        store.install_bulk_database(tmp_path / "nope.data")


def test_swap_into_memory_store(tmp_path: Path) -> None:
    store = Store(":memory:")
    store.register_source("Product")
    Model(store, "Product").create({"object": "mine", "name": "local"})
    store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data", products=3))
    assert Model(store, "Product").count() == 4
    assert store.pending_count() == 1


def test_swapped_database_survives_reopen(tmp_path: Path, store: Store) -> None:
    store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data"))
    store.close()
    again = Store(tmp_path / "user.db")
    assert Model(again, "Product").count() == 25
    assert again.client_info().client_id == "cid"


def test_failed_rename_keeps_old_database(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rhoconnect_client.exceptions import StoreError

    item = Model(store, "Product").create({"name": "precious"})

    def no_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rhoconnect_client.bulkswap.os.replace", no_rename)
    with pytest.raises(StoreError, match="No space"):
        store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data"))
    assert Model(store, "Product").find(item["object"]) is not None
    assert store.pending_count() == 1 and store.source("Product").source_id == 2  # type: ignore[union-attr]
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not list(tmp_path.glob("*.bulk-new*"))


def test_a_local_only_model_keeps_its_objects_when_the_file_lists_its_name(
    tmp_path: Path, store: Store
) -> None:
    """The file lists every source of the server's partition, even unrequested ones (finding 17):
    a local-only model of the same name keeps its own objects and gets none of the server's."""
    store.register_source("Broken", sync_type="none")
    mine = Model(store, "Broken").create({"name": "only here"})
    file = make_bulk_file(tmp_path / "bulk.data", products=3)
    with sqlite3.connect(file) as conn:
        conn.execute("INSERT INTO object_values VALUES (2, 'name', 'srv', 'from the server')")
    conn.close()
    store.install_bulk_database(file)
    assert Model(store, "Broken").find_all() == [mine]
    assert store.source("Broken").sync_type == "none"  # type: ignore[union-attr]


def test_no_room_for_the_staged_copy_is_a_store_error(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while copying the file next to the database: a ``StoreError`` the sync reports,
    not a raw ``OSError`` (an internal error); nothing of the current database changes."""
    from rhoconnect_client.exceptions import StoreError

    item = Model(store, "Product").create({"name": "precious"})

    def disk_full(src: object, dst: object) -> None:
        Path(str(dst)).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rhoconnect_client.bulkswap.shutil.copyfile", disk_full)
    with pytest.raises(StoreError, match="No space"):
        store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data"))
    assert Model(store, "Product").find(item["object"]) is not None and store.pending_count() == 1
    assert not list(tmp_path.glob("*.bulk-new*"))


bulk_ops = st.lists(
    st.tuples(st.sampled_from(["create", "update", "destroy", "push_ok", "push_fail"]), st.integers(0, 30)),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=bulk_ops)
def test_any_pending_changes_survive_a_swap(tmp_path: Path, sequence: list[tuple[str, int]]) -> None:
    """Two stores replay the same local work; one swaps in a bulk file. What each would push next and
    how each pending object looks must be the same."""
    run = uuid.uuid4().hex
    bulk = make_bulk_file(tmp_path / f"{run}.data", products=20)
    stores = [Store(tmp_path / f"{run}-{i}.db", synchronous="OFF") for i in range(2)]
    for store in stores:
        store.register_source("Product")
        server_rows = [(a, str(i), f"{a} {i}") for i in range(1, 21) for a in ("name", "brand")]
        store.conn.executemany("INSERT INTO object_values VALUES (1, ?, ?, ?)", server_rows)
        model = Model(store, "Product")
        for step, (op, n) in enumerate(sequence):
            ids = [o["object"] for o in model.find_all()]
            if op == "create":
                model.create({"object": f"new-{step}", "name": f"n{n}"})
            elif op == "update" and ids:
                model.update(ids[n % len(ids)], {"name": f"u{step}", "extra": str(n)})
            elif op == "destroy" and ids:
                model.destroy(ids[n % len(ids)])
            elif op in ("push_ok", "push_fail") and store.begin_push(1) is not None:
                (store.push_succeeded if op == "push_ok" else store.push_failed)(1)
    swapped, plain = stores
    pending = plain.conn.execute(
        "SELECT object, attrib, update_type FROM changed_values WHERE sent<3 ORDER BY rowid"
    ).fetchall()
    swapped.install_bulk_database(bulk)
    assert swapped.integrity_check() == "ok"
    # The static file knows nothing of changes the server already confirmed, so compare what is
    # pending: whole objects for creates, the queued attributes for updates and deletes.
    for oid, attrib, kind in pending:
        mine, theirs = Model(swapped, "Product").find(oid), Model(plain, "Product").find(oid)
        if kind == "create":
            assert mine == theirs, oid
        elif kind == "update":
            assert mine is not None and theirs is not None and mine[attrib] == theirs[attrib], (oid, attrib)
        else:
            assert (mine or {}).get(attrib) is None and theirs is None, (oid, attrib)
    assert swapped.begin_push(1) == plain.begin_push(1)
    for store in stores:
        store.close()


def test_older_bulk_file_without_newer_columns(tmp_path: Path, store: Store) -> None:
    old = tmp_path / "old.data"
    conn = sqlite3.connect(old)
    conn.executescript(
        'CREATE TABLE client_info ("client_id", "session", "token", "token_sent", "reset", "port");'
        'CREATE TABLE object_values ("source_id", "attrib", "object", "value");'
        'CREATE TABLE changed_values ("source_id", "attrib", "object", "value", "attrib_type", '
        '"update_type", "sent");'
        'CREATE TABLE sources ("source_id" PRIMARY KEY, "name", "token", "sync_priority", "partition", '
        '"sync_type", "metadata");'
        "INSERT INTO sources VALUES (7, 'Product', NULL, 1, 'user', 'incremental', NULL);"
        "INSERT INTO object_values VALUES (7, 'name', 'p1', 'one');"
    )
    conn.commit()
    conn.close()
    pending = Model(store, "Product").create({"name": "mine"})
    store.install_bulk_database(old)
    product = store.source("Product")
    assert product is not None and product.associations == "Order,product_id"
    assert product.source_id == 2  # the local id, not the file's 7
    assert Model(store, "Product").find("p1") == {"object": "p1", "name": "one"}
    assert Model(store, "Product").find(pending["object"]) == pending


def _index_sql(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='object_values' ORDER BY name"
    ).fetchall()


def test_renumbering_gives_the_file_rows_under_the_new_ids_and_the_rhodes_indexes(tmp_path: Path) -> None:
    """Ids 1 -> 3 and 3 -> 1 (a swap) and 2 -> 4 at once: every row of the file is there exactly once
    under its source's new id, and ``object_values`` has the Rhodes indexes as the client declares
    them, consistent with the rows (``integrity_check`` compares index and table)."""
    bulk = make_bulk_file(tmp_path / "bulk.data", products=50)
    with sqlite3.connect(bulk) as conn:
        conn.executemany(
            "INSERT INTO object_values VALUES (2, 'name', ?, ?)",
            [(str(i), f"broken {i}") for i in range(1, 6)],
        )
        expected_file = conn.execute("SELECT source_id, attrib, object, value FROM object_values").fetchall()
    conn.close()
    store = Store(tmp_path / "user.db")
    store.register_source("Fixed", source_id=1)
    store.register_source("Local", source_id=2, sync_type="none")
    store.register_source("Product", source_id=3)
    store.install_bulk_database(bulk)
    ids = {s.name: s.source_id for s in store.sources()}
    assert ids == {"Fixed": 1, "Local": 2, "Product": 3, "Broken": 4}
    new_id = {1: 3, 2: 4}  # the file's Product and Broken; Fixed's rows come from its own table
    want = sorted((new_id[sid], a, o, v) for sid, a, o, v in expected_file)
    got = store.conn.execute(
        "SELECT source_id, attrib, object, value FROM object_values WHERE source_id IN (3, 4) "
        "ORDER BY 1, 2, 3, 4"
    ).fetchall()
    assert got == want
    assert Model(store, "Fixed").find("f1") == {
        "object": "f1",
        "name": "Fixed 1",
        "price": "2.50",
        "qty": "1",
    }
    assert [name for name, _ in _index_sql(store.conn)] == ["by_src_id", "by_src_object", "by_src_value"]
    fresh = sqlite3.connect(":memory:")
    from rhoconnect_client.schema import ensure_schema

    ensure_schema(fresh)  # the indexes of a database the client creates itself
    assert _index_sql(store.conn) == _index_sql(fresh)
    assert store.integrity_check() == "ok"
    store.close()


def test_a_file_given_away_is_moved_into_place(tmp_path: Path, store: Store) -> None:
    """``take=True`` (the bulk sync's own download): the same result as a copy, the file is gone
    afterwards, also when it is refused."""
    copy = make_bulk_file(tmp_path / "copy.data", products=5)
    given = make_bulk_file(tmp_path / "given.data", products=5)
    other = Store(tmp_path / "other.db")
    other.register_source("Local", sync_priority=0, sync_type="none")
    other.register_source("Product", sync_priority=1, associations="Order,product_id")
    store.install_bulk_database(copy)
    other.install_bulk_database(given, take=True)
    assert copy.exists() and not given.exists()
    rows = "SELECT source_id, attrib, object, value FROM object_values ORDER BY 1, 2, 3, 4"
    assert store.conn.execute(rows).fetchall() == other.conn.execute(rows).fetchall()
    bad = tmp_path / "bad.data"
    bad.write_bytes(make_bulk_file(tmp_path / "good.data", products=2000).read_bytes()[:8192])
    with pytest.raises(BulkError):
        other.install_bulk_database(bad, take=True)
    assert Model(other, "Product").count() == 5 and other.integrity_check() == "ok"
    other.close()


def test_object_counts_agree_whichever_index_counts_them(tmp_path: Path, store: Store) -> None:
    """``Model.count`` scans ``by_src_object`` for a source with most of the rows and counts the
    source's own rows otherwise: both give the number of distinct objects."""
    store.install_bulk_database(make_bulk_file(tmp_path / "bulk.data", products=40))  # 80 rows of Product
    local = Model(store, "Local")
    for i in range(3):
        local.create({"object": f"l{i}", "a": "1", "b": "2"})
    query = "SELECT count(DISTINCT object) FROM object_values WHERE source_id=?"
    for name, expected in (("Product", 40), ("Local", 3)):
        source_id = store.source(name).source_id  # type: ignore[union-attr]
        assert Model(store, name).count() == expected == store.conn.execute(query, (source_id,)).fetchone()[0]
    assert Model(store, "Broken").count() == 0
