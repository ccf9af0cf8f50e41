"""Creates written ahead (``rhoconnect_client.pending``): invisible to the app and the sync, never lost
or doubled, and folded in place before anything else reads or writes the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from outbox_rows import outbox
from rhoconnect_client import fixed, pending
from rhoconnect_client.exceptions import StoreError
from rhoconnect_client.models import Model
from rhoconnect_client.store import Store

ATTRS = {"name": "Pen", "brand": "Acme", "price": "1"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "user.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store(db)
    s.register_source("Product", sync_priority=1)
    s.register_source("Note", sync_priority=2, sync_type="none")
    yield s
    s.close()


def other_connection(db: Path) -> sqlite3.Connection:
    """What another process reading the file sees."""
    return sqlite3.connect(db, isolation_level=None)


def rows_seen(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(object_values rows, outbox rows, pending creates) in the file."""
    return (
        conn.execute("SELECT count(*) FROM object_values").fetchone()[0],
        conn.execute("SELECT count(*) FROM changed_values").fetchone()[0],
        conn.execute("SELECT count(*) FROM rc_pending_create").fetchone()[0],
    )


def test_a_create_is_one_pending_row_until_the_store_is_read(store: Store, db: Path) -> None:
    obj = Model(store, "Product").create(ATTRS)
    other = other_connection(db)
    assert rows_seen(other) == (0, 0, 1)  # committed, as one row
    assert Model(store, "Product").find(obj["object"]) == obj  # the read folds it first
    assert rows_seen(other) == (3, 1, 0)
    assert outbox(store) == [(obj["object"], "object", None, "create", 0)]


def test_folded_rows_are_those_an_in_place_create_writes(store: Store, db: Path) -> None:
    """The same creates written ahead and written in place (inside a transaction) leave the same
    rows, in the same order."""
    product, note = Model(store, "Product"), Model(store, "Note")
    made = [product.create({"object": f"a{i}", **ATTRS, "n": str(i)}) for i in range(3)]
    made.append(note.create({"object": "a-note", "text": "local only"}))  # sync_type none: no outbox row
    made.append(product.create({"object": "empty"}))  # no attributes: only its outbox row
    with store.lock:
        ahead = store.conn.execute(
            "SELECT source_id, attrib, object, value FROM object_values ORDER BY rowid"
        ).fetchall()
    ahead_outbox = outbox(store)

    in_place = Store(db.with_name("in-place.db"))
    in_place.register_source("Product", sync_priority=1)
    in_place.register_source("Note", sync_priority=2, sync_type="none")
    with in_place.transaction():  # an explicit transaction: every create is written in place
        for obj in made:
            model = Model(in_place, "Note" if obj["object"] == "a-note" else "Product")
            model.create(obj)
        assert pending.count(in_place.conn) == 0
    placed = in_place.conn.execute(
        "SELECT source_id, attrib, object, value FROM object_values ORDER BY rowid"
    ).fetchall()
    assert ahead == placed
    assert ahead_outbox == outbox(in_place)
    in_place.close()


def test_every_kind_of_access_sees_pending_creates(store: Store) -> None:
    product = Model(store, "Product")
    first = product.create({"object": "p1", **ATTRS})
    assert product.count() == 1
    product.create({"object": "p2", **ATTRS})
    assert [o["object"] for o in product.find_all({"brand": "Acme"})] == ["p1", "p2"]
    product.create({"object": "p3", **ATTRS})
    assert product.update("p3", {"price": "2"})["price"] == "2"
    assert outbox(store)[-1] == ("p3", "object", None, "create", 0)  # the create carries the value
    product.create({"object": "p4", **ATTRS})
    product.destroy("p4")  # never sent: nothing queued, nothing left
    assert product.find("p4") is None
    assert store.pending_count() == 3
    product.create({"object": "p5", **ATTRS})
    batch = store.begin_push(store.source("Product").source_id)  # type: ignore[union-attr]
    assert batch is not None and sorted(batch.create) == ["p1", "p2", "p3", "p5"]
    assert first == product.find("p1")


def test_an_id_pending_or_stored_cannot_be_created_twice(store: Store, db: Path) -> None:
    product = Model(store, "Product")
    product.create({"object": "dup", **ATTRS})
    with pytest.raises(StoreError, match="already has an object 'dup'"):
        product.create({"object": "dup"})  # still pending
    assert product.find("dup") is not None
    with pytest.raises(StoreError, match="already has an object 'dup'"):
        product.create({"object": "dup"})  # folded
    other = Store(db)  # another connection, e.g. another process on the same file
    product.create({"object": "mine", **ATTRS})
    with pytest.raises(StoreError, match="already has an object 'mine'"):
        Model(other, "Product").create({"object": "mine"})  # pending in the first one
    other.close()
    assert product.count() == 2


def test_a_store_opened_on_pending_creates_folds_them(db: Path) -> None:
    """A process that ended without folding (killed, or never closed) leaves its creates in the
    file; the next store on it shows them, once."""
    first = Store(db)
    first.register_source("Product")
    made = [Model(first, "Product").create(ATTRS) for _ in range(5)]
    assert pending.count(other_connection(db)) == 5  # the process "dies" here: no close, no fold
    second = Store(db)
    product = Model(second, "Product")
    assert product.count() == 5
    assert {o["object"] for o in product.find_all()} == {o["object"] for o in made}
    assert rows_seen(other_connection(db)) == (15, 5, 0)
    second.close()


def test_close_folds_and_a_limit_folds_during_a_long_run(
    store: Store, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pending, "FOLD_LIMIT", 10)
    product = Model(store, "Product")
    for i in range(25):
        product.create({"object": f"o{i:02}", "name": str(i)})
    assert rows_seen(other_connection(db)) == (20, 20, 5)  # two folds of ten, five pending
    store.close()
    assert rows_seen(other_connection(db)) == (25, 25, 0)


def test_a_fold_that_cannot_run_loses_nothing_and_is_tried_again(store: Store, db: Path) -> None:
    store.conn.execute("PRAGMA busy_timeout=50")
    product = Model(store, "Product")
    product.create({"object": "kept", **ATTRS})
    blocker = other_connection(db)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the fold cannot run
    try:
        with pytest.raises(StoreError, match="cannot write"):
            product.find("kept")
    finally:
        blocker.execute("ROLLBACK")
    assert pending.count(blocker) == 1  # still pending, not lost
    assert product.find("kept") == {"object": "kept", **ATTRS}
    assert rows_seen(blocker) == (3, 1, 0)


def refuse_outbox_rows(store: Store) -> list[bool]:
    """Make every insert into ``changed_values`` fail while the returned flag is set: a fold then
    fails halfway, after its ``object_values`` rows. Call it with nothing pending (it uses ``conn``)."""
    failing = [True]

    def refuse() -> None:
        if failing[0]:
            raise RuntimeError("refused")

    store.conn.create_function("refuse", 0, refuse)
    store.conn.execute("CREATE TEMP TRIGGER refuse AFTER INSERT ON changed_values BEGIN SELECT refuse(); END")
    return failing


def test_a_fold_that_fails_halfway_leaves_every_create_pending(store: Store, db: Path) -> None:
    failing = refuse_outbox_rows(store)
    product = Model(store, "Product")
    product.create({"object": "a", **ATTRS})
    product.create({"object": "b", **ATTRS})
    with pytest.raises(StoreError, match="database error"):
        product.find("a")  # the attributes went in, the outbox rows failed: all rolled back
    assert rows_seen(other_connection(db)) == (0, 0, 2)
    failing[0] = False
    assert product.find("a") == {"object": "a", **ATTRS}
    assert outbox(store) == [("a", "object", None, "create", 0), ("b", "object", None, "create", 0)]
    assert rows_seen(other_connection(db)) == (6, 2, 0)


def test_creates_of_a_fixed_schema_model_and_inside_a_transaction_are_written_in_place(
    store: Store, db: Path
) -> None:
    item = store.register_source("Item", schema='{"property": {"name": "string"}}')
    with store.transaction() as conn:
        fixed.install(conn, item)  # what ``SyncEngine.add_model`` does for a fixed schema
    Model(store, "Item").create({"name": "fixed"})
    assert pending.count(other_connection(db)) == 0
    with store.transaction():
        Model(store, "Product").create(ATTRS)
        assert pending.count(store.conn) == 0
    assert Model(store, "Item").count() == 1 and Model(store, "Product").count() == 1


def test_a_create_that_reaches_the_limit_returns_even_when_its_fold_fails(
    store: Store, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create itself is committed by then: raising would make the app create it again."""
    monkeypatch.setattr(pending, "FOLD_LIMIT", 3)
    failing = refuse_outbox_rows(store)
    product = Model(store, "Product")
    made = [product.create({"name": str(i)}) for i in range(4)]  # the third one's fold fails
    assert rows_seen(other_connection(db)) == (0, 0, 4)
    failing[0] = False
    assert product.count() == 4
    assert [row[0] for row in outbox(store)] == [obj["object"] for obj in made]
