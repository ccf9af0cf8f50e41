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

Durability rule (WAL journal, every write in a transaction):

* whatever the sync engine writes (pages, push states, recovery) is committed with the store's
  ``synchronous`` level, ``FULL`` by default: once a page's token is acknowledged the server forgets
  the page, so the page must survive a power cut;
* an app's local write (``Model.create/update/destroy`` outside an explicit transaction) is committed
  with ``synchronous=NORMAL`` (no fsync): it survives a crash of the process at once, and a power cut
  or OS crash from the next durable commit on, which at the latest is the start of the next push
  (``begin_push`` commits with ``FULL``, which flushes every earlier commit with it). So nothing the
  server was told about can be lost, and a power cut can only lose local changes made since the
  last sync started. Without WAL (a filesystem refusing it) every commit uses the store's level.
  A few milliseconds after such a commit a helper thread flushes the log file (``walflush``), so in
  practice a local write reaches the disk soon after it returns; the rule above promises no more,
  but SQLite's flush before each checkpoint then has little left to write;
* a create written ahead (``pending``: one row, folded in place before anything reads or writes
  through ``conn``) follows the same rule: its row is committed before ``create`` returns.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import bulkswap, fixed, outbox, pages, pending, recovery, walflush
from .exceptions import StoreError, UnknownSource
from .protocol import Page, PushBatch
from .schema import DEFERRABLE_INDEXES, configure_connection, ensure_schema
from .store_rows import SOURCE_COLUMNS, ClientInfo, Source, source_from_row

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


class _Undone(Exception):
    """Rolls back ``Store.apply_page_ahead``'s transaction and hands back the parsed page."""

    def __init__(self, page: Page) -> None:
        super().__init__("page applied the usual way")
        self.page = page


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
        self._level = self.synchronous  # the connection's current PRAGMA synchronous
        self._wal = False
        self.indexes_deferred = False  # see defer_indexes
        self._last_source: tuple[tuple[Any, ...], Source] | None = None  # see source()
        self._write_sources: dict[str, tuple[int, Source]] = {}  # see write_source()
        self._flusher: walflush.LogFlusher | None = None  # see _committed
        self._pending = 0  # creates written ahead and not folded yet, about (see ``conn``)
        self._fold_held = 0  # > 0 while writing ahead or folding: ``conn`` must not fold then
        self._ahead = False  # whether this SQLite can fold creates written ahead (``pending``)
        if not self.in_memory:
            bulkswap.remove_leftovers(self.path)
            if walflush.SUPPORTED:
                self._flusher = walflush.LogFlusher(self.path)
        self.conn = self._open()

    # ------------------------------------------------------------------ connection and transactions

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    @property
    def conn(self) -> sqlite3.Connection:
        """The partition's connection, with every create written ahead folded in place first
        (``pending``): whoever reads or writes through it sees the store as if each create had
        been written in place."""
        if self._pending and not self._fold_held:
            self._fold_pending()
        return self._conn

    @conn.setter
    def conn(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _fold_pending(self) -> None:
        """Fold the creates written ahead into the Rhodes tables, in one local-write transaction."""
        with self.lock:
            if not self._pending or self._fold_held:
                return
            self._fold_held += 1
            try:
                with self.transaction(durable=False) as conn:
                    pending.fold(conn)
                self._pending = 0
            finally:
                self._fold_held -= 1

    def create_ahead(
        self,
        name: str,
        object_id: str,
        attrs: Mapping[str, str],
        check: Callable[[sqlite3.Connection, Source], None],
    ) -> bool:
        """An app's create of ``object_id`` in model ``name``, written ahead when it can be (``pending``).

        ``check(conn, source)`` runs first, inside the create's transaction, and raises to refuse
        it (unknown properties, an id already used). False, with nothing written: the create must
        be written in place (inside an explicit transaction, or a fixed-schema model).
        """
        with self.lock:
            if self._depth or not self._ahead:
                return False
            self._fold_held += 1
            try:
                with self.transaction(durable=False) as conn:
                    source = self.write_source(name)
                    if source is None:
                        raise UnknownSource(name)
                    if fixed.is_fixed(source):
                        return False  # nothing was written: the commit is empty
                    check(conn, source)
                    try:
                        pending.append(conn, source, object_id, attrs)
                    except sqlite3.IntegrityError:
                        raise StoreError(f"{name} already has an object {object_id!r}") from None
            finally:
                self._fold_held -= 1
            self._pending += 1
            if self._pending >= pending.FOLD_LIMIT:
                try:
                    self._fold_pending()
                except StoreError as exc:  # the create is committed: it must not look failed
                    log.warning("creates written ahead stay pending for now: %s", exc)
            return True

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            configure_connection(conn, on_disk=not self.in_memory, synchronous=self.synchronous)
            ensure_schema(conn)
            self._ahead = pending.supported(conn)
            self._pending = pending.count(conn)  # left by a process that ended before folding them
            self._watch_sources(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(f"SELECT {SOURCE_COLUMNS} FROM sources").fetchall()
                fixed.install_all(conn, [source_from_row(r) for r in rows])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._wal = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            self._level = self.synchronous
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a usable database: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        return conn

    def _watch_sources(self, conn: sqlite3.Connection) -> None:
        """Forget the sources rows ``write_source`` keeps whenever this connection changes one:
        temporary triggers (this connection only, nothing written to the file) call back into
        Python on every insert, update or delete of a ``sources`` row, whichever module ran it."""
        self._write_sources.clear()
        conn.create_function("rc_sources_changed", 0, self._write_sources.clear)
        for event in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS rc_sources_{event.lower()} AFTER {event} "
                "ON main.sources BEGIN SELECT rc_sources_changed(); END"
            )

    def reopen(self) -> None:
        """Close and open the file again (after a bulk swap replaced it)."""
        with self.lock:
            self.conn.close()
            self.conn = self._open()

    @property
    def local_write_level(self) -> str:
        """``synchronous`` level of an app's own writes (see the durability rule above)."""
        if self._wal and self.synchronous in ("FULL", "EXTRA"):
            return "NORMAL"
        return self.synchronous

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested calls become savepoints of the outer transaction.

        ``durable=False`` (an app's local write) commits without fsync in WAL mode; the outermost
        transaction decides (module docstring: durability rule).
        """
        with self.lock:
            depth = self._depth
            if depth == 0:
                self._fold_pending()  # its own transaction, before this one takes its level
            conn = self._conn
            if depth == 0:
                level = self.synchronous if durable else self.local_write_level
                if level != self._level:
                    conn.execute(f"PRAGMA synchronous={level}")
                    self._level = level
            try:
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT rc_sp{depth}")
            except sqlite3.OperationalError as exc:  # e.g. another process holds the write lock
                raise StoreError(f"cannot write {self.path}: {exc}") from exc
            self._depth = depth + 1
            try:
                yield conn
            except BaseException as exc:
                self._depth = depth
                self._write_sources.clear()  # rows read in the rolled-back part may be gone
                if depth == 0:
                    conn.execute("ROLLBACK")
                    self._recount_pending()
                else:
                    conn.execute(f"ROLLBACK TO rc_sp{depth}")
                    conn.execute(f"RELEASE rc_sp{depth}")
                if isinstance(exc, sqlite3.DatabaseError):  # disk full, I/O error, corruption
                    raise StoreError(f"database error in {self.path}: {exc}") from exc
                raise
            self._depth = depth
            try:
                conn.execute("COMMIT" if depth == 0 else f"RELEASE rc_sp{depth}")
            except sqlite3.DatabaseError as exc:
                if depth == 0 and conn.in_transaction:
                    conn.execute("ROLLBACK")
                    self._write_sources.clear()
                    self._recount_pending()
                raise StoreError(f"cannot commit to {self.path}: {exc}") from exc
            if depth == 0:
                self._committed()

    def _recount_pending(self) -> None:
        """After a rollback: a fold rolled back leaves its creates pending again."""
        try:
            self._pending = max(self._pending, pending.count(self._conn))
        except sqlite3.Error:
            self._pending = max(self._pending, 1)  # unknown: the next access tries to fold

    def _committed(self) -> None:
        """A commit without fsync (``synchronous=NORMAL`` in WAL mode) has its log flushed behind
        the app's back a few milliseconds later (``walflush``): SQLite must flush the log before every
        checkpoint anyway, and doing it early takes that wait out of the app's next writes."""
        if self._flusher is not None and self._wal and self._level == "NORMAL":
            self._flusher.poke()

    def close(self) -> None:
        """Fold what was written ahead (``pending``), then close; the creates are safe either way."""
        with self.lock:
            try:
                self._fold_pending()
            finally:
                self._conn.close()
        if self._flusher is not None:
            self._flusher.close()

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
        """A new client id must be registered again (``token_sent`` back to 0)."""
        with self.transaction():
            self._set_client_field("client_id", client_id)
            self._set_client_field("token_sent", 0)

    def set_push_token(self, token: str | None, port: str) -> bool:
        """Remember the push pin and port; True when they changed (registration due again)."""
        with self.transaction():
            info = self.client_info()
            if info.token == token and info.port == port:
                return False
            self._set_client_field("token", token)
            self._set_client_field("port", port)
            self._set_client_field("token_sent", 0)
            return True

    def mark_token_sent(self, token: str) -> None:
        """The server accepted the registration of ``token`` (unless the app changed it meanwhile)."""
        with self.transaction() as conn:
            conn.execute("UPDATE client_info SET token_sent=1 WHERE token=?", (token,))

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
        options: Collection[str] = (),
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
            attribs = ",".join(sorted(set(options))) or None
            if existing is not None:
                if attribs is None and not existing.options:
                    attribs = existing.source_attribs  # a bulk file's attribute counts stay
                conn.execute(
                    "UPDATE sources SET sync_priority=?, partition=?, sync_type=?, "
                    "schema=coalesce(?, schema), associations=?, blob_attribs=?, source_attribs=? "
                    "WHERE source_id=?",
                    (*values, attribs, existing.source_id),
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
                "associations, blob_attribs, source_attribs) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                (source_id, name, *values, attribs),
            )
            return self._require(source_id)

    def sources(self) -> list[Source]:
        """All sources in sync order: ``sync_priority`` ascending, then id."""
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY sync_priority, source_id"
            ).fetchall()
        return [source_from_row(r) for r in rows]

    def source(self, name_or_id: str | int) -> Source | None:
        column = "source_id" if isinstance(name_or_id, int) else "name"
        with self.lock:
            row = self.conn.execute(
                f"SELECT {SOURCE_COLUMNS} FROM sources WHERE {column}=?", (name_or_id,)
            ).fetchone()
        if row is None:
            return None
        # Every local write reads its source row: the last row read turns into a Source once.
        # Source is frozen, and a changed row (a new token, a bulk renumbering) is another key.
        last = self._last_source
        if last is not None and last[0] == row:
            return last[1]
        source = source_from_row(row)
        self._last_source = (row, source)
        return source

    def write_source(self, name: str) -> Source | None:
        """``source(name)`` for an app's local write, without reading the row again for every one.

        A row read here is kept until it may have changed: this connection changing any
        ``sources`` row (the triggers of ``_watch_sources``), a rollback, a bulk swap, or another
        connection committing (``PRAGMA data_version``, cheap inside the write's transaction,
        where it is meant to be called).
        """
        with self.lock:
            version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
            kept = self._write_sources.get(name)
            if kept is not None and kept[0] == version:
                return kept[1]
            source = self.source(name)
            if source is not None:
                self._write_sources[name] = (version, source)
            return source

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

    def apply_page_ahead(
        self, source_id: int, text: str, path: str, parse: pages.PendingParse
    ) -> tuple[Page, pages.AppliedPage | None]:
        """Apply a page whose rows are written from its ``text`` while it is still being parsed.

        One transaction: the rows at ``path`` are inserted (``pages.insert_text_ahead``) while
        ``parse`` runs on another thread, then the parsed page is applied without inserting them
        again. Nothing is committed before the parse (and the checks it runs) succeeded: an error
        rolls everything back and propagates. A page that turns out not to be a plain insert page of
        that layout (``pages.text_rows_stand``) is rolled back too and returned with None, for the
        caller to apply the usual way.
        """
        try:
            with self.transaction() as conn:
                source = self._require(source_id)
                rows = pages.insert_text_ahead(conn, source, text, path, parse)
                page = parse.result()
                if not pages.text_rows_stand(source, page, path, rows):
                    raise _Undone(page)
                return page, pages.apply_page(conn, source, page, self.children_of(source), inserted=True)
        except _Undone as undone:
            return undone.page, None

    def defer_indexes(self, source_id: int, incoming: int) -> bool:
        """Drop the secondary indexes before a large initial load (``pages.defer_indexes``); when
        True, :meth:`build_indexes` must follow however the load ends (a crash is harmless: every
        open re-creates missing indexes)."""
        with self.transaction() as conn:
            self.indexes_deferred = pages.defer_indexes(conn, source_id, incoming) or self.indexes_deferred
        return self.indexes_deferred

    def build_indexes(self) -> None:
        """Build the indexes :meth:`defer_indexes` dropped (no-op when they exist).

        The sort spills to temporary files rather than memory, so that building them over millions
        of rows stays within the client's memory bound. ``by_src_value``, the costly one (long
        values), is sorted with one helper thread: SQLite sorts the spilled runs on it while the
        main thread reads the table, 10 to 20 % faster on two cores from 100,000 objects up (no gain
        for ``by_src_id``, whose keys are all alike). The build runs under a rollback journal
        (:meth:`_rollback_journal`): the new index pages go straight into the database file.
        """
        with self.lock, self._rollback_journal():
            self.conn.execute("PRAGMA temp_store=FILE")
            try:
                with self.transaction() as conn:
                    for name, ddl in DEFERRABLE_INDEXES.items():
                        conn.execute(f"PRAGMA threads={1 if name == 'by_src_value' else 0}")
                        conn.execute(ddl)
                self.indexes_deferred = False
            finally:
                self.conn.execute("PRAGMA threads=0")
                self.conn.execute("PRAGMA temp_store=MEMORY")

    @contextmanager
    def _rollback_journal(self) -> Iterator[None]:
        """Leave WAL mode for the duration of the block, when this connection is the file's only one.

        In WAL mode every page of a new index is written twice: into the log at the commit, then
        into the database by the checkpoint that follows (a checkpoint of the whole index, inside
        the commit). With a rollback journal the new pages, all beyond the file's old end, are
        written once and need no journal; the commit is as durable (``synchronous`` applies), and a
        crash leaves a hot journal that the next open rolls back (the indexes are then re-created
        on open). Leaving WAL checkpoints the log first. Another connection to the file (another
        process reading it) makes SQLite refuse the switch at once: the block then runs in WAL
        mode as before. Outside a transaction only; the journal is WAL again afterwards.
        """
        switched = False
        if self._wal and self._depth == 0:
            try:
                mode = self.conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.OperationalError:  # "database is locked": the file is open elsewhere
                mode = "wal"
            switched = str(mode).lower() == "delete"
        try:
            yield
        finally:
            if switched:
                try:
                    mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                except sqlite3.OperationalError:
                    mode = "delete"
                self._wal = str(mode).lower() == "wal"
                if not self._wal:  # the next open tries again (configure_connection)
                    log.warning("SQLite refused to return to WAL mode after the index build (got %s)", mode)

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
            outbox.push_succeeded(conn, source_id, keep_creates=not self._require(source_id).pass_through)

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
        self, new_file: str | os.PathLike[str], *, reserved_ids: Collection[int] = (), take: bool = False
    ) -> None:
        """Swap in a downloaded bulk file, keeping pending local changes and source ids
        (docs/protocol.md#installing-a-bulk-file).

        ``reserved_ids`` are the source ids of the other partitions: a source that only the file
        knows gets an id outside them, so that an id names one source across partitions.
        ``take``: the file is the caller's to give away and may be moved rather than copied. See
        ``bulkswap``.
        """
        with self.lock:
            try:
                bulkswap.install(self, Path(new_file), reserved_ids, take=take)
            finally:
                self._write_sources.clear()  # an in-memory swap copies rows in without triggers

    def full_reset(self) -> None:
        """Rhodes ``database_full_reset``: data and outbox emptied, tokens 0, ``reset`` flag set so the
        next sync asks for a client reset; the client id and session are kept."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM object_values")
            for source in self.sources():
                if fixed.is_fixed(source):
                    conn.execute(f"DELETE FROM {fixed.values_table(source)}")
            conn.execute("DELETE FROM changed_values")
            conn.execute("UPDATE sources SET token=0, metadata=NULL")
            if conn.execute("SELECT count(*) FROM client_info").fetchone()[0] == 0:
                conn.execute("INSERT INTO client_info (reset) VALUES (1)")
            else:
                conn.execute("UPDATE client_info SET reset=1")
