"""The local object API and the outbox rows it writes (Rhom semantics, the Rhodes C++ client's syncengine_spec
counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from outbox_rows import outbox
from rhoconnect_client.exceptions import StoreError, UnknownSource
from rhoconnect_client.models import EPOCH_2009, Model, ObjectNotFound, generate_id
from rhoconnect_client.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "user.db")
    s.register_source("Product", sync_priority=1)
    s.register_source("Note", sync_priority=2, sync_type="none")
    return s


@pytest.fixture
def product(store: Store) -> Model:
    return Model(store, "Product")


def test_generate_id_is_increasing_microseconds_since_2009() -> None:
    import time

    ids = [int(generate_id()) for _ in range(1000)]
    assert ids == sorted(set(ids))
    assert abs(ids[-1] / 1e6 + EPOCH_2009 - time.time()) < 5


def test_create_find_and_single_create_row(store: Store, product: Model) -> None:
    obj = product.create({"name": "Test", "price": 1.5, "flag": True})
    assert obj == {"object": obj["object"], "name": "Test", "price": "1.5", "flag": "true"}
    assert product.find(obj["object"]) == obj
    assert outbox(store) == [(obj["object"], "object", None, "create", 0)]
    assert product.find("nope") is None


def test_create_with_given_id_and_reserved_names(product: Model) -> None:
    assert product.create({"object": "my-1", "name": "x"})["object"] == "my-1"
    with pytest.raises(StoreError):
        product.create({"object": "my-1"})
    with pytest.raises(ValueError):
        product.create({"source_id": "1"})
    with pytest.raises(ValueError):
        product.create({"": "1"})


def test_update_of_unsent_create_queues_nothing(store: Store, product: Model) -> None:
    obj = product.create({"name": "Test", "brand": "Rho"})
    product.update(obj["object"], {"price": "123"})
    assert outbox(store) == [(obj["object"], "object", None, "create", 0)]
    assert product.find(obj["object"])["price"] == "123"  # type: ignore[index]


def test_update_queues_only_changed_attributes_and_replaces_unsent_rows(store: Store, product: Model) -> None:
    store.conn.executemany(
        "INSERT INTO object_values VALUES (1, ?, '7', ?)", [("name", "A"), ("brand", "B"), ("sku", "S")]
    )
    updated = product.update("7", {"name": "A", "brand": "B2", "sku": "S2"})
    assert updated == {"object": "7", "name": "A", "brand": "B2", "sku": "S2"}
    assert outbox(store) == [("7", "brand", "B2", "update", 0), ("7", "sku", "S2", "update", 0)]
    product.update("7", {"brand": "B3"})
    assert outbox(store) == [("7", "sku", "S2", "update", 0), ("7", "brand", "B3", "update", 0)]
    with pytest.raises(ObjectNotFound):
        product.update("missing", {"a": "b"})


def test_update_while_row_in_flight_adds_a_new_row(store: Store, product: Model) -> None:
    """the Rhodes C++ client spec "should handle update updated object while sync": the sent=1 row stays, a
    new 0 row joins."""
    store.conn.execute("INSERT INTO object_values VALUES (1, 'name', '7', 'A')")
    product.update("7", {"name": "Test3-pre"})
    store.begin_push(1)
    product.update("7", {"name": "Test4"})
    assert [r[-1] for r in outbox(store)] == [1, 0]
    store.push_succeeded(1)
    assert outbox(store) == [("7", "name", "Test4", "update", 0)]


def test_destroy_of_unsent_create_queues_nothing(store: Store, product: Model) -> None:
    obj = product.create({"name": "gone"})
    product.destroy(obj["object"])
    assert outbox(store) == [] and product.find(obj["object"]) is None


def test_destroy_of_synced_object_queues_delete_per_attribute(store: Store, product: Model) -> None:
    store.conn.executemany("INSERT INTO object_values VALUES (1, ?, '7', ?)", [("name", "A"), ("brand", "B")])
    product.update("7", {"name": "A2"})
    product.destroy("7")
    assert sorted(outbox(store)) == [("7", "brand", "B", "delete", 0), ("7", "name", "A2", "delete", 0)]
    with pytest.raises(ObjectNotFound):
        product.destroy("7")


def test_find_all_conditions_order_and_count(store: Store, product: Model) -> None:
    for i, (name, brand) in enumerate([("b", "X"), ("a", "X"), ("c", "Y")]):
        product.create({"object": f"o{i}", "name": name, "brand": brand})
    assert [o["object"] for o in product.find_all()] == ["o0", "o1", "o2"]
    assert [o["name"] for o in product.find_all(order_by="name")] == ["a", "b", "c"]
    assert [o["object"] for o in product.find_all({"brand": "X"})] == ["o0", "o1"]
    assert product.find_all({"brand": "X", "name": "a"}) == [{"object": "o1", "name": "a", "brand": "X"}]
    assert product.find_all({"brand": "Z"}) == []
    assert product.count() == 3 and product.count({"brand": "X"}) == 2 and product.count({"brand": "Q"}) == 0


def test_local_model_never_queues(store: Store) -> None:
    notes = Model(store, "Note")
    n = notes.create({"text": "hi"})
    notes.update(n["object"], {"text": "there"})
    assert notes.find(n["object"])["text"] == "there"  # type: ignore[index]
    notes.destroy(n["object"])
    assert outbox(store) == []


def test_unknown_model(store: Store) -> None:
    with pytest.raises(UnknownSource):
        Model(store, "Ghost").create({"a": "b"})


def test_object_without_attributes_is_pushed_and_findable(store: Store, product: Model) -> None:
    obj = product.create()
    assert product.find(obj["object"]) == {"object": obj["object"]}
    batch = store.begin_push(1)
    assert batch is not None and batch.create == {obj["object"]: {}}


def test_bad_arguments_are_clear_errors(product: Model) -> None:
    with pytest.raises(TypeError, match="mapping"):
        product.create(["name", "x"])  # type: ignore[arg-type]
    obj = product.create({"name": "x"})
    with pytest.raises(TypeError, match="mapping"):
        product.update(obj["object"], "name=y")  # type: ignore[arg-type]
    assert product.find(obj["object"]) == obj


def test_find_all_order_direction_limit_and_offset(store: Store, product: Model) -> None:
    for i, name in enumerate(["c", "a", "d", "b"]):
        product.create({"object": f"o{i}", "name": name, "brand": "X" if i % 2 else "Y"})

    def names(objs: list[dict[str, Any]]) -> list[str]:
        return [o["name"] for o in objs]

    assert names(product.find_all(order_by="name", order_dir="DESC")) == ["d", "c", "b", "a"]
    assert names(product.find_all(order_by="name", limit=2)) == ["a", "b"]
    assert names(product.find_all(order_by="name", limit=2, offset=2)) == ["c", "d"]
    assert names(product.find_all({"brand": "X"}, order_by="name", order_dir="desc", limit=1)) == ["b"]
    assert [o["object"] for o in product.find_all(order_dir="DESC", limit=3)] == ["o3", "o2", "o1"]
    assert product.find_all(offset=10) == []
    with pytest.raises(ValueError):
        product.find_all(order_dir="sideways")
    with pytest.raises(ValueError):
        product.find_all(limit=-1)
