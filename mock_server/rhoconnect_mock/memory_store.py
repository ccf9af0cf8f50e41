"""The in-process ``Store``: dicts guarded by one re-entrant lock.

Values are kept as they are (no copies), so a value changed in place inside a transaction is
already the stored one; ``put_*`` of the fetched value is then a no-op, as the contract allows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .backend import AdapterFailures, Dataset, MasterDocument, PolledView
from .store import BlobKey, BulkJob, BulkKey, Client, OwnerKey, SourceSpec
from .tokens import TokenClock


class MemoryStore:
    """Every piece of one mock app's state, in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tokens = TokenClock()
        self._failures = AdapterFailures()
        self._generation = 0
        self._sources: dict[str, SourceSpec] = {}
        self._users: dict[str, str] | None = None
        self._datasets: dict[str, Dataset] = {}
        self._masters: dict[OwnerKey, MasterDocument] = {}
        self._views: dict[OwnerKey, PolledView] = {}
        self._source_errors: dict[OwnerKey, dict[str, Any]] = {}
        self._blobs: dict[BlobKey, tuple[str, bytes]] = {}
        self._clients: dict[str, Client] = {}
        self._bulk_jobs: dict[BulkKey, BulkJob] = {}

    def transaction(self) -> threading.RLock:
        return self._lock

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            for table in (
                self._sources,
                self._datasets,
                self._masters,
                self._views,
                self._source_errors,
                self._blobs,
                self._clients,
                self._bulk_jobs,
            ):
                table.clear()
            self._users = None
            self._failures.clear()

    def generation(self) -> int:
        return self._generation

    def next_token(self) -> str:
        return self._tokens.next()

    # ----------------------------------------------------------------- sources and users

    def sources(self) -> Mapping[str, SourceSpec]:
        with self._lock:
            return dict(self._sources)

    def source(self, name: str) -> SourceSpec | None:
        return self._sources.get(name)

    def put_source(self, spec: SourceSpec) -> None:
        with self._lock:
            self._sources[spec.name] = spec
            ordered = sorted(self._sources.values(), key=lambda s: s.priority)  # stable: insertion
            self._sources = {s.name: s for s in ordered}

    def users(self) -> Mapping[str, str] | None:
        return self._users

    def set_users(self, users: Mapping[str, str] | None) -> None:
        self._users = None if users is None else dict(users)

    # ----------------------------------------------------------------- data

    def dataset(self, source: str) -> Dataset | None:
        return self._datasets.get(source)

    def put_dataset(self, source: str, data: Dataset) -> None:
        self._datasets[source] = data

    def master(self, key: OwnerKey) -> MasterDocument | None:
        return self._masters.get(key)

    def put_master(self, key: OwnerKey, doc: MasterDocument) -> None:
        self._masters[key] = doc

    def polled_view(self, key: OwnerKey) -> PolledView | None:
        return self._views.get(key)

    def put_polled_view(self, key: OwnerKey, view: PolledView) -> None:
        self._views[key] = view

    def polled_views(self) -> Iterator[tuple[OwnerKey, PolledView]]:
        with self._lock:
            items = list(self._views.items())
        return iter(items)

    def source_error(self, key: OwnerKey) -> dict[str, Any] | None:
        return self._source_errors.get(key)

    def set_source_error(self, key: OwnerKey, errors: dict[str, Any] | None) -> None:
        if errors:
            self._source_errors[key] = errors
        else:
            self._source_errors.pop(key, None)

    def adapter_failures(self) -> AdapterFailures:
        return self._failures

    def blob(self, key: BlobKey) -> tuple[str, bytes] | None:
        return self._blobs.get(key)

    def put_blob(self, key: BlobKey, blob: tuple[str, bytes]) -> None:
        self._blobs[key] = blob

    # ----------------------------------------------------------------- clients

    def client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def put_client(self, client: Client) -> None:
        self._clients[client.id] = client

    def drop_client(self, client_id: str) -> Client | None:
        return self._clients.pop(client_id, None)

    def clients(self) -> Iterable[Client]:
        with self._lock:
            return list(self._clients.values())

    # ----------------------------------------------------------------- bulk jobs

    def bulk_job(self, key: BulkKey) -> BulkJob | None:
        return self._bulk_jobs.get(key)

    def put_bulk_job(self, key: BulkKey, job: BulkJob) -> None:
        self._bulk_jobs[key] = job

    def drop_bulk_job(self, key: BulkKey) -> BulkJob | None:
        return self._bulk_jobs.pop(key, None)

    def bulk_jobs(self) -> Iterable[tuple[BulkKey, BulkJob]]:
        with self._lock:
            return list(self._bulk_jobs.items())
