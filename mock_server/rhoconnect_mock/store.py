"""The store: every piece of mutable mock state as plain data, behind one small interface.

The engines (``query_engine``, ``cud_engine``, ``search_engine``, ``bulk_engine``, ``masters``)
read and change the state only through a ``Store``; ``MockState`` is a facade over a store and the
engines. ``memory_store.MemoryStore`` keeps everything in this process; a store sharing the state
between several mock processes (Redis, say) implements the same protocol and passes the same
contract tests (``tests/unit/mock_server/store_contract.py``). The contract, in short (the full
text is in ARCHITECTURE.md):

* Every read-modify-write happens inside ``with store.transaction():``, which is re-entrant and
  excludes every other transaction on the same state (in every process sharing it).
* A value fetched inside a transaction may be changed in place; the change is the store's once
  the outermost transaction exits. A value must not be kept and used after its transaction.
* ``put_*`` replaces, ``drop_*`` removes (and returns what was there), a getter of something
  absent returns ``None``; nothing raises for a missing key.
* Values hold only plain data: strings, numbers, ``None``, lists, dicts and the dataclasses
  named here and in ``backend``/``documents`` (whose fields hold the same).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backend import AdapterFailures, Dataset, MasterDocument, PolledView
from .config import Partition, SourceConfig
from .documents import ClientSourceDoc

#: The owner of a master document: the source and its user (``None`` for the app partition).
OwnerKey = tuple[str, str | None]
#: An uploaded blob: (source, owner user or ``None``, object id, attribute).
BlobKey = tuple[str, str | None, str, str]
#: A bulk job is per partition and user (``""`` for the app partition).
BulkKey = tuple[str, str]


@dataclass
class SourceSpec:
    """A source as the server sees it: partition, priority, optional fixed schema and metadata."""

    name: str
    partition: Partition
    priority: int
    attributes: tuple[str, ...]
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | str | None = None
    config: SourceConfig | None = None

    @property
    def poll_interval(self) -> int:
        """Seconds between adapter queries (0: every query sees every change; see ``poll_cache``)."""
        return self.config.poll_interval if self.config is not None else 0

    @property
    def schema_version(self) -> str | None:
        return None if self.schema is None else str(self.schema.get("version"))

    def metadata_json(self) -> str | None:
        """The metadata as the JSON string sent in pages (``schema_version`` kept current)."""
        if self.metadata is None:
            return None
        if isinstance(self.metadata, str):
            return self.metadata
        meta = dict(self.metadata)
        if "schema_version" in meta and self.schema_version is not None:
            meta["schema_version"] = self.schema_version
        return json.dumps(meta, separators=(",", ":"), ensure_ascii=False)

    def owner(self, user: str | None) -> OwnerKey:
        """The key of this source's master document for ``user`` (the app partition has one)."""
        return (self.name, user if self.partition == "user" else None)


@dataclass
class Client:
    """A client id bound to a user, its device fields and one document per source."""

    id: str
    user: str
    fields: dict[str, str] = field(default_factory=dict)
    docs: dict[str, ClientSourceDoc] = field(default_factory=dict)

    def doc(self, source: str) -> ClientSourceDoc:
        d = self.docs.get(source)
        if d is None:
            d = self.docs[source] = ClientSourceDoc()
        return d


@dataclass
class BulkJob:
    """One built bulk file set for a (partition, owner), and what it was built from."""

    url: str
    #: File paths (``.data``, ``.rzip``, ``.gzip``) in the bulk folder.
    files: tuple[str, ...]
    requested: tuple[str, ...]
    #: source -> (master document version, its log end) of what the file holds.
    masters: dict[str, tuple[int, int]]
    built_at: int
    waits_left: int
    build_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: source -> fixed schema version written into the file (every source of the partition).
    schema_versions: dict[str, str | None] = field(default_factory=dict)
    #: The store's generation when built: a reset in between makes the job stale.
    generation: int = 0


class Store(Protocol):
    """Where the mock's state lives (see the module docstring and ARCHITECTURE.md)."""

    def transaction(self) -> AbstractContextManager[Any]:
        """Exclusive, re-entrant access to the whole state until the block ends."""
        ...

    def clear(self) -> None:
        """Forget everything (a fresh generation); sources and users are put again afterwards."""
        ...

    def generation(self) -> int:
        """A number that changes on every ``clear``."""
        ...

    def next_token(self) -> str:
        """A numeric token string greater than every token this state handed out before."""
        ...

    # sources and users
    def sources(self) -> Mapping[str, SourceSpec]:
        """Every source, in priority order (a snapshot: change sources with ``put_source``)."""
        ...

    def source(self, name: str) -> SourceSpec | None: ...

    def put_source(self, spec: SourceSpec) -> None:
        """Add or replace a source; sources stay ordered by priority, then by insertion."""
        ...

    def users(self) -> Mapping[str, str] | None:
        """Login -> password of the accepted users (``None``: any login with a password)."""
        ...

    def set_users(self, users: Mapping[str, str] | None) -> None: ...

    # data
    def dataset(self, source: str) -> Dataset | None:
        """The initial records of a source; put once per generation and never changed."""
        ...

    def put_dataset(self, source: str, data: Dataset) -> None: ...

    def master(self, key: OwnerKey) -> MasterDocument | None: ...

    def put_master(self, key: OwnerKey, doc: MasterDocument) -> None: ...

    def polled_view(self, key: OwnerKey) -> PolledView | None: ...

    def put_polled_view(self, key: OwnerKey, view: PolledView) -> None: ...

    def polled_views(self) -> Iterator[tuple[OwnerKey, PolledView]]: ...

    def source_error(self, key: OwnerKey) -> dict[str, Any] | None:
        """The ``source-error`` hash of the last adapter run for that owner (``None``: it worked)."""
        ...

    def set_source_error(self, key: OwnerKey, errors: dict[str, Any] | None) -> None: ...

    def adapter_failures(self) -> AdapterFailures:
        """The simulated adapter failures switched on (``check`` consumes limited ones atomically)."""
        ...

    def blob(self, key: BlobKey) -> tuple[str, bytes] | None: ...

    def put_blob(self, key: BlobKey, blob: tuple[str, bytes]) -> None: ...

    # clients
    def client(self, client_id: str) -> Client | None: ...

    def put_client(self, client: Client) -> None: ...

    def drop_client(self, client_id: str) -> Client | None: ...

    def clients(self) -> Iterable[Client]:
        """Every client, in creation order."""
        ...

    # bulk jobs
    def bulk_job(self, key: BulkKey) -> BulkJob | None: ...

    def put_bulk_job(self, key: BulkKey, job: BulkJob) -> None: ...

    def drop_bulk_job(self, key: BulkKey) -> BulkJob | None: ...

    def bulk_jobs(self) -> Iterable[tuple[BulkKey, BulkJob]]: ...
