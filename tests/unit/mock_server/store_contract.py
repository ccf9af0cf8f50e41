"""The contract every ``Store`` implementation keeps, as a reusable test class.

Subclass ``StoreContract`` and give it a ``store`` fixture that returns a fresh, empty store (see
``test_memory_store.py``); a store that shares state between processes runs the same tests. The
contract itself is written down in ARCHITECTURE.md ("The store contract").
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from rhoconnect_mock.backend import Dataset, MasterDocument, PolledView
from rhoconnect_mock.store import BulkJob, Client, SourceSpec, Store

WAIT = 5.0


def _spec(name: str, priority: int) -> SourceSpec:
    return SourceSpec(name, "user", priority, ("a",))


def _job(url: str) -> BulkJob:
    return BulkJob(url, ("f.data", "f.data.rzip", "f.data.gzip"), ("S",), {"S": (1, 2)}, 100, 1)


class StoreContract:
    """Behaviour the engines rely on; the subclass provides the ``store`` fixture."""

    # ----------------------------------------------------------------- absent, put, drop

    def test_a_missing_key_reads_as_none_and_nothing_raises(self, store: Store) -> None:
        with store.transaction():
            assert store.source("S") is None
            assert store.dataset("S") is None
            assert store.master(("S", "u")) is None
            assert store.polled_view(("S", "u")) is None
            assert store.source_error(("S", "u")) is None
            assert store.blob(("S", "u", "1", "image")) is None
            assert store.client("nobody") is None
            assert store.drop_client("nobody") is None
            assert store.bulk_job(("user", "u")) is None
            assert store.drop_bulk_job(("user", "u")) is None
            assert list(store.clients()) == []
            assert list(store.bulk_jobs()) == []
            assert list(store.polled_views()) == []
            assert store.sources() == {}

    def test_put_then_get_gives_the_value_and_drop_returns_it(self, store: Store) -> None:
        md = MasterDocument({"1": {"a": "x"}})
        cached = PolledView(MasterDocument())
        with store.transaction():
            store.put_master(("S", "u"), md)
            store.put_master(("S", None), MasterDocument())
            store.put_polled_view(("S", "u"), cached)
            store.put_dataset("S", Dataset({"1": {"a": "x"}}))
            store.put_blob(("S", "u", "1", "image"), ("pic.png", b"\x89PNG"))
            store.put_client(Client("c1", "u", {"device_type": "ANDROID"}))
            store.put_bulk_job(("user", "u"), _job("/data/a"))
        with store.transaction():
            got = store.master(("S", "u"))
            assert got is not None and dict(got.records) == {"1": {"a": "x"}}
            assert store.master(("S", None)) is not None and store.master(("S", "v")) is None
            assert [key for key, _view in store.polled_views()] == [("S", "u")]
            data = store.dataset("S")
            assert data is not None and dict(data.records) == {"1": {"a": "x"}}
            assert store.blob(("S", "u", "1", "image")) == ("pic.png", b"\x89PNG")
            client = store.client("c1")
            assert client is not None and (client.user, client.fields) == ("u", {"device_type": "ANDROID"})
            job = store.bulk_job(("user", "u"))
            assert job is not None and job.url == "/data/a"
            assert [key for key, _job in store.bulk_jobs()] == [("user", "u")]
            dropped = store.drop_client("c1")
            assert dropped is not None and dropped.id == "c1"
            assert store.client("c1") is None
            dropped_job = store.drop_bulk_job(("user", "u"))
            assert dropped_job is not None and dropped_job.url == "/data/a"
            assert store.bulk_job(("user", "u")) is None

    def test_a_source_error_set_to_none_is_removed(self, store: Store) -> None:
        with store.transaction():
            store.set_source_error(("S", "u"), {"query-error": {"message": "down"}})
            assert store.source_error(("S", "u")) == {"query-error": {"message": "down"}}
            store.set_source_error(("S", "u"), None)
            assert store.source_error(("S", "u")) is None

    def test_sources_come_in_priority_order_then_insertion_order(self, store: Store) -> None:
        with store.transaction():
            for spec in (_spec("C", 3), _spec("A", 1), _spec("B", 3), _spec("D", 2)):
                store.put_source(spec)
            assert list(store.sources()) == ["A", "D", "C", "B"]
            store.put_source(SourceSpec("C", "app", 3, ("b",)))  # replaced, same place
            assert list(store.sources()) == ["A", "D", "C", "B"]
            c = store.source("C")
            assert c is not None and c.partition == "app"

    def test_clients_come_in_creation_order(self, store: Store) -> None:
        with store.transaction():
            for cid in ("z", "a", "m"):
                store.put_client(Client(cid, "u"))
            store.put_client(Client("a", "v"))  # a replaced client keeps its place
            assert [(c.id, c.user) for c in store.clients()] == [("z", "u"), ("a", "v"), ("m", "u")]

    def test_users_are_none_until_set(self, store: Store) -> None:
        with store.transaction():
            assert store.users() is None
            store.set_users({"alice": "secret"})
            assert dict(store.users() or {}) == {"alice": "secret"}
            store.set_users(None)
            assert store.users() is None

    # ----------------------------------------------------------------- transactions

    def test_a_change_in_place_inside_a_transaction_is_kept(self, store: Store) -> None:
        with store.transaction():
            store.put_client(Client("c1", "u"))
        with store.transaction():
            client = store.client("c1")
            assert client is not None
            client.doc("S").cursor = 42
            client.fields["device_pin"] = "p"
        with store.transaction():
            again = store.client("c1")
            assert again is not None
            assert again.docs["S"].cursor == 42 and again.fields == {"device_pin": "p"}

    def test_transactions_are_reentrant(self, store: Store) -> None:
        with store.transaction(), store.transaction():
            store.put_client(Client("c1", "u"))
        with store.transaction():
            assert store.client("c1") is not None

    def test_a_transaction_excludes_every_other_one(self, store: Store) -> None:
        inside, release, entered = threading.Event(), threading.Event(), threading.Event()

        def holder() -> None:
            with store.transaction():
                inside.set()
                release.wait(WAIT)

        def other() -> None:
            with store.transaction():
                entered.set()

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(holder)
            assert inside.wait(WAIT)
            second = pool.submit(other)
            assert not entered.wait(0.2), "a second transaction ran while the first was open"
            release.set()
            first.result(WAIT)
            second.result(WAIT)
        assert entered.is_set()

    def test_read_modify_write_in_transactions_loses_no_update(self, store: Store) -> None:
        with store.transaction():
            store.put_client(Client("c1", "u"))

        def bump(_: int) -> None:
            for _ in range(200):
                with store.transaction():
                    client = store.client("c1")
                    assert client is not None
                    doc = client.doc("S")
                    doc.cursor += 1
                    store.put_client(client)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(bump, range(8)))
        with store.transaction():
            client = store.client("c1")
            assert client is not None and client.docs["S"].cursor == 8 * 200

    # ----------------------------------------------------------------- tokens, failures, clear

    def test_tokens_are_numeric_unique_and_increasing_across_threads(self, store: Store) -> None:
        def take(_: int) -> list[int]:
            return [int(store.next_token()) for _ in range(500)]

        with ThreadPoolExecutor(4) as pool:
            batches = list(pool.map(take, range(4)))
        for batch in batches:
            assert batch == sorted(batch) and len(set(batch)) == len(batch)
        everything = [t for batch in batches for t in batch]
        assert len(set(everything)) == len(everything)
        assert int(store.next_token()) > max(everything)

    def test_a_limited_adapter_failure_fires_exactly_its_times(self, store: Store) -> None:
        store.adapter_failures().add("query", "S", "down", times=5)

        def check(_: int) -> str | None:
            return store.adapter_failures().check("query", "S", "u")

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(check, range(40)))
        assert results.count("down") == 5 and results.count(None) == 35

    def test_clear_forgets_everything_and_moves_the_generation(self, store: Store) -> None:
        with store.transaction():
            before = store.generation()
            store.put_source(_spec("S", 1))
            store.set_users({"a": "b"})
            store.put_dataset("S", Dataset({}))
            store.put_master(("S", "u"), MasterDocument())
            store.put_polled_view(("S", "u"), PolledView(MasterDocument()))
            store.set_source_error(("S", "u"), {"login-error": {"message": "no"}})
            store.put_blob(("S", "u", "1", "a"), ("f", b""))
            store.put_client(Client("c1", "u"))
            store.put_bulk_job(("user", "u"), _job("/data/a"))
            store.adapter_failures().add("query", "S", "down")
            store.clear()
            assert store.generation() != before
            assert store.sources() == {} and store.users() is None
            assert store.dataset("S") is None and store.master(("S", "u")) is None
            assert list(store.polled_views()) == [] and store.source_error(("S", "u")) is None
            assert store.blob(("S", "u", "1", "a")) is None and list(store.clients()) == []
            assert list(store.bulk_jobs()) == []
            assert store.adapter_failures().check("query", "S", "u") is None
