"""Push states of ``changed_values.sent``, Rhodes C++ client spec scenarios, and a property test
that random create/update/destroy/push/fail/link sequences never lose a change."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from outbox_rows import outbox
from rhoconnect_client.models import Model
from rhoconnect_client.protocol import PushBatch, parse_page
from rhoconnect_client.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "user.db")
    s.register_source("Product", sync_priority=2)
    return s


def server_object(store: Store, oid: str, **attrs: str) -> None:
    store.conn.executemany(
        "INSERT INTO object_values VALUES (1, ?, ?, ?)", [(a, oid, v) for a, v in attrs.items()]
    )


def links_page(links: dict[str, str], token: str = "100") -> Any:
    body = ",".join(f'"{t}":{{"l":"{r}"}}' for t, r in links.items())
    return parse_page(f'[{{"version":3}},{{"token":"{token}"}},{{"count":0}},{{"links":{{{body}}}}}]')


def test_successful_push_states(store: Store) -> None:
    p = Model(store, "Product")
    created = p.create({"name": "New", "brand": "Rho"})
    server_object(store, "44", name="Old", price="1")
    p.update("44", {"price": "2"})
    server_object(store, "12", name="Gone")
    p.destroy("12")
    batch = store.begin_push(1)
    assert batch == PushBatch(
        create={created["object"]: {"name": "New", "brand": "Rho"}},
        update={"44": {"price": "2"}},
        delete={"12": {"name": "Gone"}},
    )
    assert {r[-1] for r in outbox(store)} == {1}
    assert store.begin_push(1) is not None  # rows left at 1 by a crash are rolled back and resent
    store.push_succeeded(1)
    assert outbox(store) == [
        (created["object"], "name", "New", "create", 2),
        (created["object"], "brand", "Rho", "create", 2),
    ]
    assert store.pending_count(1) == 1
    assert store.begin_push(1) is None  # nothing else to send; the create is not pushed twice


def test_failed_update_push_newer_value_wins(store: Store) -> None:
    """the Rhodes C++ client spec "should handle update updated object while sync error"."""
    p = Model(store, "Product")
    server_object(store, "7", name="A", brand="B")
    p.update("7", {"name": "N1", "brand": "N1"})
    assert len(outbox(store, "update_type='update'")) == 2
    store.begin_push(1)
    p.update("7", {"name": "Test3"})
    assert len(outbox(store, "update_type='update'")) == 3
    store.push_failed(1)
    assert len(outbox(store, "update_type='update' AND sent=0")) == 2
    assert outbox(store, "attrib='name'") == [("7", "name", "Test3", "update", 0)]


def test_failed_delete_push_rolls_back(store: Store) -> None:
    """the Rhodes C++ client spec "should handle deleted object while error sync"."""
    server_object(store, "7", name="A")
    Model(store, "Product").destroy("7")
    store.begin_push(1)
    assert outbox(store, "sent=1") == [("7", "name", "A", "delete", 1)]
    store.push_failed(1)
    assert outbox(store) == [("7", "name", "A", "delete", 0)]


def test_failed_create_push_collapses_to_marker(store: Store) -> None:
    """the Rhodes C++ client spec "should process error sync": still one create row with attrib 'object', no
    update rows."""
    p = Model(store, "Product")
    cust = p.create({"first": "CustTest1", "last": "Last1"})
    store.begin_push(1)
    store.push_failed(1)
    assert outbox(store) == [(cust["object"], "object", None, "create", 0)]
    p.update(cust["object"], {"first": "CustTest2"})
    assert outbox(store) == [(cust["object"], "object", None, "create", 0)]


def test_changes_during_failed_create_push(store: Store) -> None:
    """the Rhodes C++ client spec "should handle update created object while sync error"."""
    p = Model(store, "Product")
    item = p.create({"name": "Test", "brand": "Canon"})
    item2 = p.create({"name": "TestDel", "brand": "Apple"})
    store.begin_push(1)
    p.update(item["object"], {"name": "Test2"})
    p.destroy(item2["object"])
    assert outbox(store, "update_type='update'") == [(item["object"], "name", "Test2", "update", 0)]
    store.push_failed(1)
    assert outbox(store) == [(item["object"], "object", None, "create", 0)]
    batch = store.begin_push(1)
    assert batch is not None and batch.create == {item["object"]: {"name": "Test2", "brand": "Canon"}}


def test_destroy_during_successful_create_push_deletes_after_link(store: Store) -> None:
    p = Model(store, "Product")
    item = p.create({"name": "x"})
    store.begin_push(1)
    p.destroy(item["object"])
    store.push_succeeded(1)
    assert store.begin_push(1) is None  # held until the link names the server object
    store.apply_page(1, links_page({item["object"]: "srv-1"}))
    batch = store.begin_push(1)
    assert batch is not None and batch.delete == {"srv-1": {"name": "x"}} and batch.create == {}


def test_pending_create_is_not_pushed_again_but_new_ones_are(store: Store) -> None:
    """the Rhodes C++ client spec "should NOT push pending created objects" / "should push when pending
    created objects"."""
    p = Model(store, "Product")
    item = p.create({"name": "Test", "brand": "Rho"})
    store.begin_push(1)
    store.push_succeeded(1)  # then the server reported create-error: rows stay at 2
    p.update(item["object"], {"price": "123"})
    assert len(outbox(store, "update_type='create'")) == 2
    assert outbox(store, "update_type='update'") == [(item["object"], "price", "123", "update", 0)]
    assert store.begin_push(1) is None
    assert outbox(store, "update_type='update'")[0][-1] == 0  # held rows stay unsent (Rhodes leaves 1)
    item2 = p.create({"name": "Test2", "brand": "Rho2"})
    batch = store.begin_push(1)
    assert batch is not None and list(batch.create) == [item2["object"]] and batch.update == {}


def test_children_of_pending_creates_are_held(tmp_path: Path) -> None:
    """the Rhodes C++ client spec "should NOT push when children pending created objects"."""
    store = Store(tmp_path / "db")
    store.register_source("Customer", sync_priority=1, associations="Product,quantity,Product,sku")
    store.register_source("Product", sync_priority=2)
    customers, products = Model(store, "Customer"), Model(store, "Product")
    c1 = customers.create({"first": "CustTest1"})
    c2 = customers.create({"first": "CustTest2"})
    item = products.create({"name": "P", "quantity": c1["object"], "sku": c2["object"]})
    free = products.create({"name": "free"})
    store.begin_push(1)
    store.push_succeeded(1)
    batch = store.begin_push(2)
    assert batch is not None and list(batch.create) == [free["object"]]
    assert outbox(store, f"object='{item['object']}'") == [(item["object"], "object", None, "create", 0)]
    store.push_succeeded(2)
    store.apply_page(1, links_page({c1["object"]: "c-1", c2["object"]: "c-2"}))
    batch = store.begin_push(2)
    assert batch is not None
    assert batch.create == {item["object"]: {"name": "P", "quantity": "c-1", "sku": "c-2"}}


def test_blob_attributes_are_listed(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.register_source("Photo", blob_attribs="image_uri,1")
    photos = Model(store, "Photo")
    photo = photos.create({"title": "t", "image_uri": str(tmp_path / "a.png")})
    batch = store.begin_push(1)
    assert batch is not None and batch.blobs == {f"image_uri-{photo['object']}": tmp_path / "a.png"}
    assert batch.blob_fields == ["image_uri"]
    assert outbox(store, "attrib='image_uri'")[0][-1] == 1
    assert store.conn.execute(
        "SELECT attrib_type FROM changed_values WHERE attrib='image_uri'"
    ).fetchone() == ("blob.file",)


def test_push_changes_marker_posts_empty_body(store: Store) -> None:
    store.conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, update_type, sent) "
        "VALUES (1, 'object', '', 'push_changes', 0)"
    )
    batch = store.begin_push(1)
    assert batch is not None and batch.push_changes and not (batch.create or batch.update or batch.delete)
    store.push_succeeded(1)
    assert outbox(store) == []


# --------------------------------------------------------------------------- property test

ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 3), st.integers(0, 9)),
        st.tuples(st.just("update"), st.integers(0, 7), st.integers(0, 9)),
        st.tuples(st.just("destroy"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("push"), st.just(0), st.just(0)),
        st.tuples(st.just("succeed"), st.just(0), st.just(0)),
        st.tuples(st.just("fail"), st.just(0), st.just(0)),
        st.tuples(st.just("links"), st.booleans(), st.just(0)),
    ),
    max_size=40,
)


class ServerModel:
    """What the server holds, for the property test: applies successful pushes the way an adapter
    would and hands out links (the store alone is under test, so no HTTP)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, str]] = {}
        self.pending_links: dict[str, str] = {}
        self.next_id = 1

    def apply(self, batch: PushBatch) -> None:
        for temp, attrs in batch.create.items():
            real = f"s{self.next_id}"
            self.next_id += 1
            self.objects[real] = dict(attrs)
            self.pending_links[temp] = real
        for oid, attrs in batch.update.items():
            if oid in self.objects:
                self.objects[oid].update(attrs)
        for oid in batch.delete:
            self.objects.pop(oid, None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
@example(  # two links pages in a row without a final page: each has its own token
    sequence=[
        ("create", 0, 0),
        ("push", 0, 0),
        ("create", 0, 0),
        ("succeed", 0, 0),
        ("links", False, 0),
        ("push", 0, 0),
        ("succeed", 0, 0),
        ("links", False, 0),
    ]
)
def test_random_sequences_never_lose_a_change(tmp_path: Path, sequence: list[tuple[str, Any, int]]) -> None:
    store = Store(tmp_path / f"prop-{uuid.uuid4().hex}.db", synchronous="OFF")  # fresh per example
    store.register_source("Product")
    model = Model(store, "Product")
    server = ServerModel()
    for i in range(3):  # objects the server already has, so updates and destroys of synced data happen
        server.objects[f"k{i}"] = {"b": "x", "a0": str(i)}
        store.apply_page(
            1, parse_page(f'[{{"version":3}},{{"token":""}},{{"insert":{{"k{i}":{{"b":"x","a0":"{i}"}}}}}}]')
        )
    driver = _SequenceDriver(store, model, server)
    for step, (op, arg, value) in enumerate(sequence):
        driver.do(step, op, arg, value)
    driver.drain()
    assert store.pending_count() == 0
    assert {
        o["object"]: {k: v for k, v in o.items() if k != "object"} for o in model.find_all()
    } == server.objects
    assert store.integrity_check() == "ok"
    store.close()


class _SequenceDriver:
    """Runs one generated sequence of app and sync operations against a store and a model server;
    an operation that does not apply in the current state (a push while one is in flight) is skipped."""

    def __init__(self, store: Store, model: Model, server: ServerModel) -> None:
        self.store, self.model, self.server = store, model, server
        self.in_flight: PushBatch | None = None
        self.flying = False

    def do(self, step: int, op: str, arg: Any, value: int) -> None:
        ids = [o["object"] for o in self.model.find_all()]
        if op in ("create", "update", "destroy"):
            self._app_change(op, ids, arg, value)
        elif op == "push" and not self.flying:
            self.in_flight, self.flying = self.store.begin_push(1), True
        elif op == "succeed" and self.flying:
            self.store.push_succeeded(1)
            if self.in_flight is not None:
                self.server.apply(self.in_flight)
            self.flying = False
        elif op == "fail" and self.flying:
            self.store.push_failed(1)
            self.flying = False
        elif op == "links" and not self.flying and self.server.pending_links:
            # A server never issues one token for two different pages: equal tokens mean a re-send.
            self.store.apply_page(
                1, links_page(self.server.pending_links, token="" if arg else str(100 + step))
            )
            self.server.pending_links.clear()

    def _app_change(self, op: str, ids: list[str], arg: Any, value: int) -> None:
        if op == "create":
            self.model.create({f"a{arg}": str(value), "b": "x"})
        elif op == "update" and ids:
            self.model.update(ids[arg % len(ids)], {f"a{value % 3}": f"u{value}"})
        elif op == "destroy" and ids:
            self.model.destroy(ids[arg % len(ids)])

    def drain(self) -> None:
        """End any push in flight as failed, then sync until nothing is left to push."""
        if self.flying:
            self.store.push_failed(1)
        for _ in range(10):
            if self.server.pending_links:
                self.store.apply_page(1, links_page(self.server.pending_links, token=""))
                self.server.pending_links.clear()
            batch = self.store.begin_push(1)
            if batch is None:
                break
            self.store.push_succeeded(1)
            self.server.apply(batch)
        self.store.apply_page(1, links_page(self.server.pending_links, token=""))


def test_interrupted_push_holds_creates_and_resends_only_unlinked(store: Store) -> None:
    p = Model(store, "Product")
    a, b = p.create({"name": "a"}), p.create({"name": "b"})
    server_object(store, "7", name="x")
    p.update("7", {"name": "y"})
    store.begin_push(1)
    store.push_interrupted(1)
    assert {r[0]: r[-1] for r in outbox(store, "update_type='create'")} == {a["object"]: 2, b["object"]: 2}
    assert outbox(store, "update_type='update'") == [("7", "name", "y", "update", 0)]
    batch = store.begin_push(1)  # the creates are not pushed twice while their fate is unknown
    assert batch is not None and batch.create == {} and batch.update == {"7": {"name": "y"}}
    store.push_succeeded(1)
    store.apply_page(1, links_page({a["object"]: "srv-a"}, token=""))  # the server had received a only
    assert store.resend_creates(1, [a["object"], b["object"], "unknown"]) == 1
    assert outbox(store) == [(b["object"], "object", None, "create", 0)]
    batch = store.begin_push(1)
    assert batch is not None and batch.create == {b["object"]: {"name": "b"}}
    assert store.resend_creates(1, [b["object"]]) == 0  # in flight (state 1), not held: untouched


def test_request_push_and_waiting_creates(store: Store) -> None:
    p = Model(store, "Product")
    a, b = p.create({"name": "a"}), p.create({"name": "b"})
    store.begin_push(1)
    store.push_succeeded(1)
    assert store.waiting_creates(1) == [a["object"], b["object"]]
    assert store.begin_push(1) is None
    store.request_push(1)
    store.request_push(1)  # one marker is enough
    assert store.pending_count(1) == 2  # the marker is not an object
    batch = store.begin_push(1)
    assert batch is not None and batch.push_changes and not batch.create
    store.push_succeeded(1)
    assert outbox(store, "update_type='push_changes'") == []
    store.apply_page(1, links_page({a["object"]: "s-a"}))
    assert store.waiting_creates(1) == [b["object"]]
