"""``on_sync_*_error`` row effects, pinned by the Rhodes C++ client's ``syncengine_spec.rb``
(docs/protocol.md#recovery-after-adapter-errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from outbox_rows import outbox
from rhoconnect_client.exceptions import InvalidAction, StoreError
from rhoconnect_client.models import Model
from rhoconnect_client.protocol import parse_page
from rhoconnect_client.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "user.db")
    s.register_source("Product")
    return s


def create_error(store: Store, oid: str) -> dict[str, Any]:
    """Push a create, then receive the create-error page of the spec; returns ``server_errors``."""
    store.begin_push(1)
    store.push_succeeded(1)
    page = parse_page(
        '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":0},'
        f'{{"create-error":{{"{oid}":{{"name":"wrongname","an_attribute":"error create"}},'
        f'"{oid}-error":{{"message":"error create"}}}}}}]'
    )
    store.apply_page(1, page)
    assert page.errors is not None
    return page.errors.to_notification()


def test_create_error_delete(store: Store) -> None:
    p = Model(store, "Product")
    item = p.create({"name": "Test", "brand": "Rho"})
    p.update(item["object"], {"price": "123"})
    errors = create_error(store, item["object"])
    created = outbox(store, "update_type='create'")
    assert len(created) == 3 and created[0][1] != "object" and created[0][-1] == 2
    p.update(item["object"], {"price": "456"})
    assert outbox(store, "update_type='update'") == [(item["object"], "price", "456", "update", 0)]
    store.on_sync_create_error(1, list(errors["create-error"]), ":delete")
    assert outbox(store) == [] and p.find(item["object"]) is None


def test_create_error_recreate(store: Store) -> None:
    p = Model(store, "Product")
    item = p.create({"name": "Test", "brand": "Rho"})
    p.update(item["object"], {"price": "123"})
    errors = create_error(store, item["object"])
    p.update(item["object"], {"price": "456"})
    store.on_sync_create_error(1, errors["create-error"], "recreate")
    assert outbox(store) == [(item["object"], "object", None, "create", 0)]
    assert p.find(item["object"]) is not None
    batch = store.begin_push(1)
    assert batch is not None and batch.create == {
        item["object"]: {"name": "Test", "brand": "Rho", "price": "456"}
    }


def test_create_error_recreate_deleted_item(store: Store) -> None:
    p = Model(store, "Product")
    item = p.create({"name": "Test", "brand": "Rho"})
    p.update(item["object"], {"price": "123"})
    errors = create_error(store, item["object"])
    p.destroy(item["object"])
    assert len(outbox(store, "update_type='create'")) == 3
    deletes = outbox(store, "update_type='delete'")
    assert len(deletes) == 3 and deletes[0][1] != "object" and deletes[0][-1] == 0
    store.on_sync_create_error(1, errors["create-error"], ":recreate")
    assert outbox(store) == [] and p.find(item["object"]) is None


def test_update_error_retry(store: Store) -> None:
    page = parse_page(
        '[{"version":3},{"token":""},{"update-error":{"broken_object_id":{"name":"wrongname",'
        '"an_attribute":"error update"},"broken_object_id-error":{"message":"error update"}}}]'
    )
    store.apply_page(1, page)
    assert page.errors is not None
    errors = page.errors.to_notification()
    store.on_sync_update_error(1, errors["update-error"], ":retry")
    assert sorted(outbox(store)) == [
        ("broken_object_id", "an_attribute", "error update", "update", 0),
        ("broken_object_id", "name", "wrongname", "update", 0),
    ]
    store.on_sync_update_error(1, errors["update-error"], "retry")  # already pending: nothing added
    assert len(outbox(store)) == 2


def test_update_error_retry_with_ids_resends_current_values(store: Store) -> None:
    store.conn.execute("INSERT INTO object_values VALUES (1, 'name', '9', 'Local')")
    store.on_sync_update_error(1, "9", "retry")
    assert outbox(store) == [("9", "name", "Local", "update", 0)]


def test_update_error_rollback(store: Store) -> None:
    store.conn.executemany(
        "INSERT INTO object_values VALUES (1, ?, '5', ?)", [("name", "Mine"), ("qty", "7")]
    )
    page = parse_page(
        '[{"version":3},{"token":""},{"update-rollback":{"5":{"name":"OLD_NAME"}},'
        '"update-error":{"5":{"name":"wrongname"},"5-error":{"message":"error update"}}}]'
    )
    store.apply_page(1, page)
    assert page.errors is not None
    errors = page.errors.to_notification()
    assert Model(store, "Product").find("5")["name"] == "Mine"  # type: ignore[index]
    store.on_sync_update_error(1, errors["update-error"], ":rollback", errors["update-rollback"])
    assert outbox(store) == []
    assert Model(store, "Product").find("5") == {"object": "5", "name": "OLD_NAME", "qty": "7"}
    with pytest.raises(InvalidAction, match="rollback_objects"):
        store.on_sync_update_error(1, errors["update-error"], "rollback")


def test_delete_error_retry(store: Store) -> None:
    page = parse_page(
        '[{"version":3},{"token":""},{"delete-error":{"broken_object_id":{"name":"wrongname",'
        '"an_attribute":"error delete"},"broken_object_id-error":{"message":"Error delete record"}}}]'
    )
    store.apply_page(1, page)
    assert page.errors is not None
    store.on_sync_delete_error(1, page.errors.to_notification()["delete-error"], ":retry")
    assert sorted(outbox(store)) == [
        ("broken_object_id", "an_attribute", "error delete", "delete", 0),
        ("broken_object_id", "name", "wrongname", "delete", 0),
    ]
    batch = store.begin_push(1)
    assert batch is not None and batch.delete == {
        "broken_object_id": {"name": "wrongname", "an_attribute": "error delete"}
    }


@pytest.mark.parametrize("action", ["explode", ":retry", "", None, 3, ":"])
def test_invalid_create_actions_touch_nothing(store: Store, action: object) -> None:
    p = Model(store, "Product")
    item = p.create({"name": "x"})
    before = outbox(store)
    with pytest.raises(InvalidAction):
        store.on_sync_create_error(1, [item["object"]], action)
    assert outbox(store) == before


def test_invalid_update_and_delete_actions(store: Store) -> None:
    with pytest.raises(InvalidAction):
        store.on_sync_update_error(1, ["1"], ":delete")
    with pytest.raises(InvalidAction):
        store.on_sync_delete_error(1, ["1"], "rollback")


def test_objects_shapes(store: Store) -> None:
    p = Model(store, "Product")
    a, b = p.create({"n": "a"}), p.create({"n": "b"})
    store.on_sync_create_error(1, a["object"], "delete")  # one id
    store.on_sync_create_error(1, (b["object"],), "delete")  # a tuple
    assert p.count() == 0
    with pytest.raises(TypeError):
        store.on_sync_create_error(1, 3.5, "delete")


def test_local_models_refuse_recovery(store: Store) -> None:
    store.register_source("Note", sync_type="none")
    with pytest.raises(StoreError):
        store.on_sync_create_error(2, ["x"], "delete")
