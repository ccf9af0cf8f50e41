"""Installing a downloaded bulk file as a partition database, keeping local changes
(docs/protocol.md#installing-a-bulk-file).

Steps, each leaving the current database untouched until the final atomic rename:

1. validate the file (SQLite header, ``quick_check``, the four Rhodes tables) - else ``BulkError``;
2. copy it next to the database (same filesystem, so the rename is atomic; a file the caller gives
   away, the bulk sync's own download, is moved there instead) and give the copy the client's
   indexes and schema version (a copy whose ids change is renumbered without its indexes, which
   are then rebuilt, see ``_renumber``);
3. in one transaction on the copy: take ``client_info`` from the current database, turn the file's
   ``<attr>-rhoblob`` attributes into blob attributes (``_server_blob_attrs``), keep the local
   declaration and id of every source (sync type, priority, associations; the file's ids are
   renumbered, see ``_file_ids``), carry over sources the file does not know with their data,
   unpivot fixed-schema tables into ``object_values`` (the reopened store moves them back into a
   table per source, ``fixed``), copy ``changed_values``, and re-apply pending creates/updates
   (upsert) and deletes;
4. swap: the current database leaves WAL mode (checkpointed, no ``-wal`` file that could be replayed
   onto the new file), is closed, and the copy is renamed over it; then it is reopened.

A crash before the rename leaves the old database; after it, the complete new one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from . import fixed, rhoblob
from .exceptions import BulkError, StoreError
from .schema import configure_connection, ensure_schema, validate_bulk_file
from .store_rows import options_in

if TYPE_CHECKING:
    from .store import Store

__all__ = ["install", "remove_leftovers"]

log = logging.getLogger(__name__)

_SOURCE_COPY = (
    "name, token, sync_priority, partition, sync_type, metadata, last_updated, last_inserted_size, "
    "last_deleted_size, last_sync_duration, last_sync_success, backend_refresh_time, source_attribs, "
    "schema, schema_version, associations, blob_attribs"
)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(new_file: Path, staged: Path, *, take: bool) -> None:
    """Put the file at ``staged``: moved when the caller gives it away (``take``, the bulk sync's
    own download on the database's filesystem: a rename instead of copying 40 MB), else copied."""
    if take:
        try:
            os.replace(new_file, staged)
            return
        except OSError:  # another filesystem (an in-memory store's scratch folder): copy it
            pass
    try:
        shutil.copyfile(new_file, staged)
    except OSError as exc:  # e.g. disk full: a local problem the sync reports, not a crash
        raise StoreError(f"cannot copy the bulk file next to the database: {exc.strerror or exc}") from exc


def _prepare_copy(
    new_file: Path, staged: Path, local: dict[str, int], reserved: Collection[int], *, take: bool = False
) -> None:
    _stage(new_file, staged, take=take)
    try:
        conn = sqlite3.connect(staged, isolation_level=None)
        try:
            # The copy is scratch until it is fsynced and renamed over the database (``_swap_file``);
            # whatever goes wrong before, it is deleted. So its writes need neither a rollback
            # journal nor fsyncs: renumbering 500,000 rows and building their indexes take a third
            # less time without them.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            changes = _file_ids(conn, local, reserved)
            if changes:
                # The rebuild below sorts on this thread: SQLite's helper threads (``PRAGMA threads``)
                # made the swap of 100,000 records slower, not faster, on two cores (1.58 s vs 1.40 s).
                _renumber(conn, changes)
            ensure_schema(conn)  # rebuilds the dropped indexes; adds the unique one the upserts rely on
        finally:
            conn.close()
    except (sqlite3.DatabaseError, StoreError) as exc:
        raise BulkError(f"bulk file {new_file.name} cannot take the client's schema: {exc}") from exc


def _file_ids(conn: sqlite3.Connection, local: dict[str, int], reserved: Collection[int]) -> dict[int, int]:
    """Which source ids of the file must change: {file id: id it gets}.

    A bulk file numbers its partition's sources 1..N, so ids from the ``user`` and ``app`` files
    collide, and ids would change at every swap (breaking ``source_id`` routing of notifications
    registered earlier, and models holding their source). Instead a source the client knows keeps
    its local id (``local``: name -> id), and a source only in the file keeps the file's id unless
    that id is used locally or in another partition (``reserved``), in which case it gets the next
    free one.
    """
    in_file = conn.execute("SELECT source_id, name FROM sources ORDER BY source_id").fetchall()
    used = set(local.values()) | {int(i) for i in reserved}
    next_free = max(used | {int(fid) for fid, _ in in_file}, default=0) + 1
    changes: dict[int, int] = {}
    for file_id, name in in_file:
        wanted = local.get(name)
        if wanted is None:
            wanted = int(file_id)
            if wanted in used:
                wanted, next_free = next_free, next_free + 1
            used.add(wanted)
        if wanted != file_id:
            changes[int(file_id)] = wanted
    return changes


def _renumber(conn: sqlite3.Connection, changes: dict[int, int]) -> None:
    """Give the staged file's sources their new ids, in ``sources`` and ``object_values``.

    Updating ``source_id`` in every row under the file's three indexes costs about 9 s for 500,000
    rows, so the indexes are dropped first (``ensure_schema`` rebuilds them). The new ids come from
    one ``CASE`` over the changed ids: every row is rewritten once, all ids at the same time, so ids
    may swap (1 -> 2, 2 -> 1); a subquery per row into a mapping table cost twice as much.
    ``sources`` keeps its primary key, so its rows first take the negated target id, then are
    negated back.
    """
    arms = " ".join("WHEN ? THEN ?" for _ in changes)
    pairs = [v for pair in changes.items() for v in pair]
    olds = ",".join("?" * len(changes))
    conn.execute("BEGIN IMMEDIATE")  # no journal (``_prepare_copy``): a failure discards the copy
    try:
        indexes = conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type='index' AND tbl_name='object_values' "
            "AND sql IS NOT NULL"
        ).fetchall()
        for (name,) in indexes:
            conn.execute(f'DROP INDEX main."{name}"')
        conn.execute(
            f"UPDATE main.object_values SET source_id=CASE source_id {arms} END WHERE source_id IN ({olds})",
            [*pairs, *changes],
        )
        conn.execute(
            f"UPDATE main.sources SET source_id=-CASE source_id {arms} END WHERE source_id IN ({olds})",
            [*pairs, *changes],
        )
        conn.execute("UPDATE main.sources SET source_id=-source_id WHERE source_id<0")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _local_values(conn: sqlite3.Connection) -> str:
    """The current database's ``(source_id, attrib, object, value)`` rows: ``object_values``, plus
    the views of fixed-schema sources when there are any (``fixed``)."""
    views = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type='view' AND name LIKE 'rc_values_%' ORDER BY name"
        )
    ]
    if not views:
        return "main.object_values"
    arms = " UNION ALL ".join(
        f"SELECT source_id, attrib, object, value FROM main.{v}" for v in ["object_values", *views]
    )
    return f"({arms})"


def _map_sources(conn: sqlite3.Connection) -> None:
    """Make ``bulk.sources`` (already renumbered, see ``_file_ids``) hold every local source."""
    local = conn.execute(
        "SELECT source_id, sync_priority, sync_type, associations, blob_attribs, schema, source_attribs "
        "FROM main.sources"
    ).fetchall()
    for source_id, priority, sync_type, associations, blob_attribs, schema, source_attribs in local:
        options = source_attribs if options_in(source_attribs) else None  # the app's pass_through...
        keep_local_data = sync_type == "none"  # a local-only model's objects are the app's own
        if conn.execute("SELECT 1 FROM bulk.sources WHERE source_id=?", (source_id,)).fetchone():
            # The app's declaration decides how a model syncs; the server's file decides the data.
            conn.execute(
                "UPDATE bulk.sources SET token=0, sync_priority=?, sync_type=?, "
                "associations=coalesce(?, associations), blob_attribs=coalesce(?, blob_attribs), "
                "schema=coalesce(schema, ?), source_attribs=coalesce(?, source_attribs) WHERE source_id=?",
                (priority, sync_type, associations, blob_attribs, schema, options, source_id),
            )
            if keep_local_data:  # the file lists unrequested sources too (finding 17)
                conn.execute("DELETE FROM bulk.object_values WHERE source_id=?", (source_id,))
        else:
            conn.execute(
                f"INSERT INTO bulk.sources (source_id, {_SOURCE_COPY}) SELECT source_id, {_SOURCE_COPY} "
                "FROM main.sources WHERE source_id=?",
                (source_id,),
            )
            keep_local_data = True
        if keep_local_data:
            conn.execute(
                "INSERT INTO bulk.object_values (source_id, attrib, object, value) "
                f"SELECT source_id, attrib, object, value FROM {_local_values(conn)} WHERE source_id=?",
                (source_id,),
            )
    conn.execute("UPDATE bulk.sources SET token=0 WHERE token IS NULL")


def _server_blob_attrs(conn: sqlite3.Connection) -> dict[int, dict[str, str]]:
    """Rename the file's ``<attr>-rhoblob`` rows to ``<attr>`` and take those pairs out of
    ``source_attribs``; returns ``{source id: {attr: count}}`` for ``_add_blob_attribs``.

    Rhodes does this after the swap (``processServerBlobAttrs``, property-bag sources only); here it
    is part of the merge, so a crash never leaves a swapped file with the suffixed names. Where an
    object has both rows, the suffixed one wins.
    """
    found: dict[int, dict[str, str]] = {}
    rows = conn.execute(
        "SELECT source_id, source_attribs FROM bulk.sources "
        "WHERE coalesce(schema, '')='' AND source_attribs LIKE ?",
        (f"%{rhoblob.SUFFIX}%",),
    ).fetchall()
    for source_id, source_attribs in rows:
        kept, blobs = rhoblob.split_source_attribs(source_attribs)
        if not blobs:
            continue
        conn.execute("UPDATE bulk.sources SET source_attribs=? WHERE source_id=?", (kept, source_id))
        conn.executemany(
            "UPDATE OR REPLACE bulk.object_values SET attrib=? WHERE attrib=? AND source_id=?",
            [(name, name + rhoblob.SUFFIX, source_id) for name in blobs],
        )
        found[int(source_id)] = blobs
    return found


def _add_blob_attribs(conn: sqlite3.Connection, found: dict[int, dict[str, str]]) -> None:
    """After ``_map_sources``: the attributes ``_server_blob_attrs`` found join ``blob_attribs`` with the
    file's object count as their flag, as in Rhodes (so they overwrite); attributes the app declared
    keep its flag, and local-only models take none."""
    for source_id, blobs in found.items():
        row = conn.execute(
            "SELECT blob_attribs FROM bulk.sources WHERE source_id=? AND coalesce(sync_type, '')<>'none'",
            (source_id,),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE bulk.sources SET blob_attribs=? WHERE source_id=?",
                (rhoblob.with_blob_attribs(row[0], blobs), source_id),
            )


def _unpivot_fixed_tables(conn: sqlite3.Connection) -> None:
    """Fixed-schema sources arrive as their own table; their rows join ``object_values`` so that the
    merge below treats both kinds alike, and the table is dropped."""
    for source_id, name, schema in conn.execute(
        "SELECT source_id, name, schema FROM bulk.sources WHERE schema IS NOT NULL AND schema<>'' "
        "AND coalesce(sync_type, '')<>'none'"
    ).fetchall():
        exists = conn.execute(
            "SELECT 1 FROM bulk.sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        if not exists:
            continue
        columns = [r[1] for r in conn.execute(f'PRAGMA bulk.table_info("{name}")') if r[1] != "object"]
        try:
            declared = set(json.loads(schema).get("property", {}))
        except (ValueError, AttributeError):
            declared = set(columns)
        for column in columns:
            if declared and column not in declared:
                continue
            conn.execute(
                "INSERT OR REPLACE INTO bulk.object_values (source_id, attrib, object, value) "
                f'SELECT ?, ?, "object", "{column}" FROM bulk."{name}" WHERE "{column}" IS NOT NULL',
                (source_id, column),
            )
        # Opening the swapped file builds the table again from these rows, pending local changes
        # applied, with the schema the file brings (``fixed.install_all``).
        conn.execute(f'DROP TABLE bulk."{name}"')


def _carry_changes(conn: sqlite3.Connection) -> None:
    """Copy the outbox (source ids are the same on both sides) and re-apply what the server has not
    confirmed yet."""
    conn.execute("DELETE FROM bulk.changed_values")
    conn.execute(
        "INSERT INTO bulk.changed_values (source_id, attrib, object, value, attrib_type, update_type, sent) "
        "SELECT source_id, attrib, object, value, attrib_type, update_type, sent "
        "FROM main.changed_values WHERE source_id IN (SELECT source_id FROM main.sources) ORDER BY rowid"
    )
    # Creates and updates: the local object's current values win over the file's.
    conn.execute(
        "INSERT OR REPLACE INTO bulk.object_values (source_id, attrib, object, value) "
        "SELECT DISTINCT ov.source_id, ov.attrib, ov.object, ov.value FROM main.changed_values cv "
        f"JOIN {_local_values(conn)} ov ON ov.object=cv.object AND +ov.source_id=cv.source_id "
        "AND (ov.attrib=cv.attrib OR cv.update_type='create') "
        "WHERE cv.sent<=2 AND cv.update_type IN ('create', 'update')"
    )
    conn.execute(
        "DELETE FROM bulk.object_values WHERE rowid IN (SELECT b.rowid FROM main.changed_values cv "
        "JOIN bulk.object_values b ON b.object=cv.object AND +b.source_id=cv.source_id "
        "AND (b.attrib=cv.attrib OR cv.attrib='object') WHERE cv.sent<=2 AND cv.update_type='delete')"
    )


def _merge(conn: sqlite3.Connection, staged: Path) -> None:
    conn.execute("ATTACH DATABASE ? AS bulk", (str(staged),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM bulk.client_info")
            conn.execute(
                "INSERT INTO bulk.client_info (client_id, session, token, token_sent, reset, port, "
                "last_sync_success) SELECT client_id, session, token, token_sent, reset, port, "
                "last_sync_success FROM main.client_info"
            )
            blobs = _server_blob_attrs(conn)
            _map_sources(conn)
            _add_blob_attribs(conn, blobs)
            _unpivot_fixed_tables(conn)
            _carry_changes(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE bulk")


def _swap_memory(store: Store, staged: Path) -> None:
    src = sqlite3.connect(staged)
    try:
        src.backup(store.conn)
    finally:
        src.close()
    configure_connection(store.conn, on_disk=False, synchronous=store.synchronous)
    ensure_schema(store.conn)
    with store.transaction() as conn:
        fixed.install_all(conn, store.sources())  # a file reopened from disk gets this in Store._open


def _swap_file(store: Store, staged: Path) -> None:
    target = Path(store.path)
    mode = store.conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    if str(mode).lower() != "delete":
        # Another connection keeps the WAL open; renaming now could replay it onto the new file.
        store.conn.execute("PRAGMA journal_mode=WAL")
        raise StoreError(f"cannot swap {target.name}: another connection has the database open")
    store.conn.close()
    try:
        _fsync(staged)
        os.replace(staged, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StoreError(f"cannot replace {target.name} by the bulk file: {exc}") from exc
    finally:
        store.conn = store._open()


def remove_leftovers(db_path: str) -> None:
    """Delete a staged copy left by a process killed in the middle of a swap (it is never used)."""
    for suffix in (".bulk-new", ".bulk-new-journal"):
        Path(db_path + suffix).unlink(missing_ok=True)


def install(store: Store, new_file: Path, reserved_ids: Collection[int] = (), *, take: bool = False) -> None:
    """Validate ``new_file`` and make it the store's database (caller holds ``store.lock``).

    ``reserved_ids``: source ids used by the other partitions, which a source new to this one must
    not take. ``take``: the caller gives the file away, so it may be moved instead of copied (it is
    gone afterwards, whether the swap succeeds or not); else it is left as it was.
    """
    validate_bulk_file(new_file)
    if store.in_memory:
        workdir = Path(tempfile.mkdtemp(prefix="rhoconnect-bulk-"))
        staged = workdir / "bulk.data"
    else:
        workdir = None
        staged = Path(store.path + ".bulk-new")
    try:
        local = {source.name: source.source_id for source in store.sources()}
        _prepare_copy(new_file, staged, local, reserved_ids, take=take)
        try:
            _merge(store.conn, staged)
        except sqlite3.DatabaseError as exc:
            raise BulkError(f"bulk file {new_file.name} could not be merged: {exc}") from exc
        if store.in_memory:
            _swap_memory(store, staged)
        else:
            _swap_file(store, staged)
        log.info("installed bulk file %s as %s partition", new_file.name, store.partition)
    finally:
        staged.unlink(missing_ok=True)
        Path(str(staged) + "-journal").unlink(missing_ok=True)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
