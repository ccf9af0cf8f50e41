"""The local SQLite store of one partition: connection, transactions, client_info and sources.

One ``Store`` per partition database (``user`` at the path given to ``SyncEngine``, ``app`` next to it,
see ``partition_path``). The store owns the connection and the sync mutex ``lock``; the SQL of each
concern lives in its own module and runs inside the store's transactions:

* ``pages``: applying query/search pages (pull);
* ``outbox``: local writes and the ``changed_values.sent`` states of a push (docs/protocol.md#outbox-states);
* ``recovery``: ``on_sync_*_error`` (docs/protocol.md#recovery-after-adapter-errors);
* ``bulkswap``: installing a bulk file (docs/protocol.md#installing-a-bulk-file).

Threading: the connection is shared by the app's threads and the sync thread; every public method
takes ``lock`` (re-entrant), so an app holding it through ``SyncEngine.lock_sync_mutex`` keeps the sync
thread from writing between its own statements.

Durability: WAL journal and ``synchronous=FULL`` by default, every write in a transaction, so a killed
process reopens with the last committed page and every committed local change.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bulkswap, outbox, pages, recovery
from .exceptions import StoreError, UnknownSource
from .protocol import Page, PushBatch
from .schema import configure_connection, ensure_schema

__all__ = [
    "AppliedPage",
    "ClientInfo",
    "Source",
    "Store",
    "partition_path",
]

log = logging.getLogger(__name__)

AppliedPage = pages.AppliedPage
Associations = str | Sequence[tuple[str, str]] | None


def partition_path(base: str | os.PathLike[str], partition: str) -> str:
    """Database path of ``partition``: ``user`` lives at ``base``, others at ``<stem>-<partition><suffix>``.

    ``":memory:"`` stays in memory for every partition (each Store gets its own database).
    """
    text = os.fspath(base)
    if text == ":memory:" or partition == "user":
        return text
    path = Path(text)
    return str(path.with_name(f"{path.stem}-{partition}{path.suffix}"))


@dataclass(frozen=True)
class ClientInfo:
    """The single ``client_info`` row (docs/protocol.md#local-storage); ``session`` is the cookie string."""

    client_id: str | None = None
    session: str | None = None
    reset: bool = False
    token: str | None = None
    token_sent: int = 0
    port: str | None = None
    last_sync_success: str | None = None


@dataclass(frozen=True)
class Source:
    """One ``sources`` row: a model that syncs (or not) with the server."""

    source_id: int
    name: str
    token: int
    sync_priority: int
    partition: str
    sync_type: str
    metadata: str | None = None
    schema: str | None = None
    associations: str | None = None
    blob_attribs: str | None = None
    last_updated: int = 0
    # A page's ``refresh_time`` (docs/protocol.md#page-layout); 0 until a server sends one (RhoConnect 7.8
    # never does).
    backend_refresh_time: int = 0

    @property
    def synced(self) -> bool:
        """False for local-only models (``sync_type`` ``none``), which never queue changes."""
        return self.sync_type != "none"

    @property
    def association_pairs(self) -> list[tuple[str, str]]:
        """``(child source name, attribute)`` pairs of models whose attribute holds an id of this one."""
        return _pairs(self.associations)

    @property
    def blob_attributes(self) -> frozenset[str]:
        """Attribute names stored as files (``blob_attribs`` is ``attr,overwrite,attr,overwrite...``)."""
        parts = [p.strip() for p in (self.blob_attribs or "").split(",")]
        return frozenset(p for p in parts[::2] if p)


_SOURCE_COLUMNS = (
    "source_id, name, token, sync_priority, partition, sync_type, metadata, schema, associations, "
    "blob_attribs, last_updated, backend_refresh_time"
)


def _pairs(text: str | None) -> list[tuple[str, str]]:
    parts = [p.strip() for p in (text or "").split(",")]
    return [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2) if parts[i] and parts[i + 1]]


def _source(row: Sequence[Any]) -> Source:
    return Source(
        source_id=int(row[0]),
        name=str(row[1]),
        token=int(row[2] or 0),
        sync_priority=int(row[3] if row[3] is not None else 1000),
        partition=str(row[4] or "user"),
        sync_type=str(row[5] or "incremental"),
        metadata=row[6],
        schema=row[7],
        associations=row[8],
        blob_attribs=row[9],
        last_updated=int(row[10] or 0),
        backend_refresh_time=int(row[11] or 0),
    )


class Store:
    """SQLite database of one partition with the Rhodes tables."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        partition: str = "user",
        synchronous: str = "FULL",
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = os.fspath(path)
        self.partition = partition
        self.synchronous = synchronous.upper()
        self.lock = threading.RLock()
        self._depth = 0
        if not self.in_memory:
            bulkswap.remove_leftovers(self.path)
        self.conn = self._open()

    # ------------------------------------------------------------------ connection and transactions

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            configure_connection(conn, on_disk=not self.in_memory, synchronous=self.synchronous)
            ensure_schema(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a usable database: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        return conn

    def reopen(self) -> None:
        """Close and open the file again (after a bulk swap replaced it)."""
        with self.lock:
            self.conn.close()
            self.conn = self._open()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested calls become savepoints of the outer transaction."""
        with self.lock:
            depth = self._depth
            try:
                self.conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT rc_sp{depth}")
            except sqlite3.OperationalError as exc:  # e.g. another process holds the write lock
                raise StoreError(f"cannot write {self.path}: {exc}") from exc
            self._depth = depth + 1
            try:
                yield self.conn
            except BaseException as exc:
                self._depth = depth
                if depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO rc_sp{depth}")
                    self.conn.execute(f"RELEASE rc_sp{depth}")
                if isinstance(exc, sqlite3.DatabaseError):  # disk full, I/O error, corruption
                    raise StoreError(f"database error in {self.path}: {exc}") from exc
                raise
            self._depth = depth
            try:
                self.conn.execute("COMMIT" if depth == 0 else f"RELEASE rc_sp{depth}")
            except sqlite3.DatabaseError as exc:
                if depth == 0 and self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StoreError(f"cannot commit to {self.path}: {exc}") from exc

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or the first problem found."""
        with self.lock:
            return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------ client_info

    def client_info(self) -> ClientInfo:
        with self.lock:
            row = self.conn.execute(
                "SELECT client_id, session, reset, token, token_sent, port, last_sync_success "
                "FROM client_info LIMIT 1"
            ).fetchone()
        if row is None:
            return ClientInfo()
        return ClientInfo(
            client_id=row[0] or None,
            session=row[1] or None,
            reset=bool(row[2]),
            token=row[3],
            token_sent=int(row[4] or 0),
            port=row[5],
            last_sync_success=row[6],
        )

    def _set_client_field(self, column: str, value: object) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT count(*) FROM client_info").fetchone()[0] == 0:
                conn.execute("INSERT INTO client_info (client_id) VALUES (NULL)")
            conn.execute(f'UPDATE client_info SET "{column}"=?', (value,))

    def set_client_id(self, client_id: str | None) -> None:
        self._set_client_field("client_id", client_id)

    def set_session(self, session: str | None) -> None:
        self._set_client_field("session", session)

    def set_reset(self, reset: bool) -> None:
        self._set_client_field("reset", 1 if reset else 0)

    def clear_client_info(self) -> None:
        """Forget client id and session (``set_syncserver`` with another URL, decision "Sessions and
        servers")."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM client_info")

    # ------------------------------------------------------------------ sources

    def register_source(
        self,
        name: str,
        *,
        sync_priority: int = 1000,
        sync_type: str = "incremental",
        partition: str | None = None,
        schema: str | None = None,
        associations: Associations = None,
        blob_attribs: str | None = None,
        source_id: int | None = None,
    ) -> Source:
        """Declare a model; idempotent. An existing source keeps its id and token and takes the new
        properties. ``source_id`` lets the engine keep ids unique across partitions; otherwise the
        next free id is used."""
        if not name:
            raise ValueError("a source needs a name")
        if sync_type not in ("incremental", "bulk_sync_only", "none"):
            raise ValueError(f"sync_type must be incremental, bulk_sync_only or none, not {sync_type!r}")
        assoc = (
            associations
            if isinstance(associations, str) or associations is None
            else ",".join(f"{child},{attrib}" for child, attrib in associations)
        )
        with self.transaction() as conn:
            existing = self.source(name)
            values = (sync_priority, partition or self.partition, sync_type, schema, assoc, blob_attribs)
            if existing is not None:
                conn.execute(
                    "UPDATE sources SET sync_priority=?, partition=?, sync_type=?, "
                    "schema=coalesce(?, schema), associations=?, blob_attribs=? WHERE source_id=?",
                    (*values, existing.source_id),
                )
                return self._require(existing.source_id)
            if source_id is None:
                source_id = int(
                    conn.execute("SELECT coalesce(max(source_id), 0) + 1 FROM sources").fetchone()[0]
                )
            elif self.source(source_id) is not None:
                raise StoreError(f"source id {source_id} is already used by {self._require(source_id).name}")
            conn.execute(
                "INSERT INTO sources (source_id, name, token, sync_priority, partition, sync_type, schema, "
                "associations, blob_attribs) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)",
                (source_id, name, *values),
            )
            return self._require(source_id)

    def sources(self) -> list[Source]:
        """All sources in sync order: ``sync_priority`` ascending, then id."""
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM sources ORDER BY sync_priority, source_id"
            ).fetchall()
        return [_source(r) for r in rows]

    def source(self, name_or_id: str | int) -> Source | None:
        column = "source_id" if isinstance(name_or_id, int) else "name"
        with self.lock:
            row = self.conn.execute(
                f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE {column}=?", (name_or_id,)
            ).fetchone()
        return None if row is None else _source(row)

    def _require(self, name_or_id: str | int) -> Source:
        src = self.source(name_or_id)
        if src is None:
            raise UnknownSource(name_or_id)
        return src

    def set_token(self, source_id: int, token: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sources SET token=? WHERE source_id=?", (token, source_id))

    def set_metadata(self, source_id: int, metadata: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sources SET metadata=? WHERE source_id=?", (metadata, source_id))

    def record_sync(
        self, source_id: int, *, inserted: int, deleted: int, duration: float, success: bool
    ) -> None:
        """Statistics Rhodes keeps per source after each sync (``last_*`` columns)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sources SET last_updated=?, last_inserted_size=?, last_deleted_size=?, "
                "last_sync_duration=?, last_sync_success=? WHERE source_id=?",
                (int(time.time()), inserted, deleted, int(duration * 1000), 1 if success else 0, source_id),
            )

    def parents_of(self, source: Source) -> list[tuple[int, str]]:
        """``(parent source id, attribute)``: attributes of ``source`` holding ids of another source."""
        return [
            (parent.source_id, attrib)
            for parent in self.sources()
            for child, attrib in parent.association_pairs
            if child == source.name
        ]

    def children_of(self, source: Source) -> list[tuple[int, str]]:
        """``(child source id, attribute)`` pairs whose values must follow a rename of ``source`` ids."""
        out: list[tuple[int, str]] = []
        for child, attrib in source.association_pairs:
            child_src = self.source(child)
            if child_src is not None:
                out.append((child_src.source_id, attrib))
        return out

    # ------------------------------------------------------------------ pull

    def apply_page(self, source_id: int, page: Page) -> pages.AppliedPage:
        """Apply one page atomically (metadata, links, delete, insert, token); see ``pages``."""
        with self.transaction() as conn:
            source = self._require(source_id)
            return pages.apply_page(conn, source, page, self.children_of(source))

    def purge_confirmed(self, source_id: int) -> int:
        """Drop outbox rows the server has confirmed (``sent >= 3``); called at token 0."""
        with self.transaction() as conn:
            return pages.purge_confirmed(conn, source_id)

    # ------------------------------------------------------------------ push

    def begin_push(self, source_id: int) -> PushBatch | None:
        """Mark unsent changes as in flight and return them, or None when there is nothing to send."""
        with self.transaction() as conn:
            source = self._require(source_id)
            return outbox.begin_push(conn, source, self.parents_of(source))

    def push_succeeded(self, source_id: int) -> None:
        with self.transaction() as conn:
            outbox.push_succeeded(conn, source_id)

    def push_failed(self, source_id: int) -> None:
        with self.transaction() as conn:
            outbox.push_failed(conn, source_id)

    def push_interrupted(self, source_id: int) -> None:
        """No answer to the POST (reset, timeout): creates wait for links, the rest is unsent again."""
        with self.transaction() as conn:
            outbox.push_interrupted(conn, source_id)

    def resend_creates(self, source_id: int, object_ids: Sequence[str]) -> int:
        """Creates held by ``push_interrupted`` that got no link after a full pull go out again."""
        with self.transaction() as conn:
            return outbox.resend_creates(conn, source_id, list(object_ids))

    def request_push(self, source_id: int) -> None:
        """Make the next push POST even without data (Rhom ``push_changes``)."""
        with self.transaction() as conn:
            outbox.request_push(conn, source_id)

    def waiting_creates(self, source_id: int) -> list[str]:
        """Ids of creates sent and waiting for their link (state 2)."""
        with self.lock:
            return outbox.waiting_creates(self.conn, source_id)

    def pending_count(self, source_id: int | None = None) -> int:
        """Objects with changes the server has not confirmed yet (``sent`` 0, 1 or 2)."""
        with self.lock:
            return outbox.pending_count(self.conn, source_id)

    # ------------------------------------------------------------------ recovery
    # (docs/protocol.md#recovery-after-adapter-errors)

    def on_sync_create_error(self, source_id: int, object_ids: object, action: object) -> None:
        with self.transaction() as conn:
            recovery.on_sync_create_error(conn, self._synced(source_id), object_ids, action)

    def on_sync_update_error(
        self,
        source_id: int,
        objects: object,
        action: object,
        rollback_objects: Mapping[str, Any] | None = None,
    ) -> None:
        with self.transaction() as conn:
            recovery.on_sync_update_error(conn, self._synced(source_id), objects, action, rollback_objects)

    def on_sync_delete_error(self, source_id: int, objects: object, action: object) -> None:
        with self.transaction() as conn:
            recovery.on_sync_delete_error(conn, self._synced(source_id), objects, action)

    def _synced(self, source_id: int) -> Source:
        source = self._require(source_id)
        if not source.synced:
            raise StoreError(f"source {source.name} does not sync (sync_type none)")
        return source

    # ------------------------------------------------------------------ bulk and reset

    def install_bulk_database(
        self, new_file: str | os.PathLike[str], *, reserved_ids: Collection[int] = ()
    ) -> None:
        """Swap in a downloaded bulk file, keeping pending local changes and source ids
        (docs/protocol.md#installing-a-bulk-file).

        ``reserved_ids`` are the source ids of the other partitions: a source that only the file
        knows gets an id outside them, so that an id names one source across partitions. See
        ``bulkswap``.
        """
        with self.lock:
            bulkswap.install(self, Path(new_file), reserved_ids)

    def full_reset(self) -> None:
        """Rhodes ``database_full_reset``: data and outbox emptied, tokens 0, ``reset`` flag set so the
        next sync asks for a client reset; the client id and session are kept."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM object_values")
            conn.execute("DELETE FROM changed_values")
            conn.execute("UPDATE sources SET token=0, metadata=NULL")
            if conn.execute("SELECT count(*) FROM client_info").fetchone()[0] == 0:
                conn.execute("INSERT INTO client_info (reset) VALUES (1)")
            else:
                conn.execute("UPDATE client_info SET reset=1")
