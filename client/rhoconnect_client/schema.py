"""The Rhodes table layout of a partition database: DDL, versioning, and validation of foreign files.

The four tables are byte-for-byte those of a RhoConnect 7.8 bulk file (recorded exchange errors-07), so a
bulk file can be swapped in as it is and a database written here can be read by Rhodes tooling. The
client adds only indexes of its own (``IF NOT EXISTS``), which it re-creates whenever it opens a file,
and records its schema version in ``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from .exceptions import BulkError, StoreError

__all__ = [
    "DEFERRABLE_INDEXES",
    "REQUIRED_COLUMNS",
    "SCHEMA_VERSION",
    "WAL_CHECKPOINT_PAGES",
    "configure_connection",
    "ensure_schema",
    "missing_tables",
    "validate_bulk_file",
]

log = logging.getLogger(__name__)

# Version 1: the Rhodes tables plus the client's changed_values indexes. Version 2: creates written
# ahead (``rc_pending_create``, see ``pending``); a client of version 1 would not see them, so it
# refuses the file rather than show a store without them.
SCHEMA_VERSION = 2

# Pages of write-ahead log between automatic checkpoints (64 MB of log at 4 KB pages).
WAL_CHECKPOINT_PAGES = 16000

_TABLES = """
CREATE TABLE IF NOT EXISTS client_info (
 "client_id" VARCHAR(255) default NULL,
 "session" VARCHAR(255) default NULL,
 "token" VARCHAR(255) default NULL,
 "token_sent" BIGINT default 0,
 "reset" BIGINT default 0,
 "port" VARCHAR(10) default NULL,
 "last_sync_success" VARCHAR(100) default NULL);
CREATE TABLE IF NOT EXISTS object_values (
 "source_id" BIGINT default NULL,
 "attrib" varchar(255) default NULL,
 "object" varchar(255) default NULL,
 "value" varchar default NULL);
CREATE TABLE IF NOT EXISTS changed_values (
 "source_id" BIGINT default NULL,
 "attrib" varchar(255) default NULL,
 "object" varchar(255) default NULL,
 "value" varchar default NULL,
 "attrib_type" varchar(255) default NULL,
 "update_type" varchar(255) default NULL,
 "sent" BIGINT default 0);
CREATE TABLE IF NOT EXISTS sources (
 "source_id" BIGINT PRIMARY KEY,
 "name" VARCHAR(255) default NULL,
 "token" BIGINT default NULL,
 "sync_priority" BIGINT,
 "partition" VARCHAR(255),
 "sync_type" VARCHAR(255),
 "metadata" varchar default NULL,
 "last_updated" BIGINT default 0,
 "last_inserted_size" BIGINT default 0,
 "last_deleted_size" BIGINT default 0,
 "last_sync_duration" BIGINT default 0,
 "last_sync_success" BIGINT default 0,
 "backend_refresh_time" BIGINT default 0,
 "source_attribs" varchar default NULL,
 "schema" varchar default NULL,
 "schema_version" varchar default NULL,
 "associations" varchar default NULL,
 "blob_attribs" varchar default NULL);
CREATE TABLE IF NOT EXISTS rc_pending_create (
 "object" varchar(255) NOT NULL,
 "source_id" BIGINT NOT NULL,
 "seq" BIGINT NOT NULL,
 "attrs" varchar NOT NULL,
 "queue" BIGINT NOT NULL,
 PRIMARY KEY ("object", "source_id")) WITHOUT ROWID;
"""

# The Rhodes indexes (same names as in a bulk file), then the client's own for the outbox, which
# Rhodes lacks: without them renaming 10,000 linked objects would scan changed_values each time.
# Per-object queries elsewhere write ``+source_id``: without statistics SQLite would otherwise pick
# by_src_id (every row of the source) over the per-object index, making find/push O(table size).
#
# ``by_src_id`` and ``by_src_value`` are the *deferrable* ones: no write of the sync needs them (the
# upserts rely on ``by_src_object``), so a large initial load drops them and builds them once at the
# end (``Store.defer_indexes``); a file opened without them gets them back here.
DEFERRABLE_INDEXES: dict[str, str] = {
    "by_src_id": 'CREATE INDEX IF NOT EXISTS by_src_id on object_values ("source_id");',
    "by_src_value": (
        'CREATE INDEX IF NOT EXISTS by_src_value ON object_values ("attrib", "source_id", "value");'
    ),
}
_INDEXES = (
    DEFERRABLE_INDEXES["by_src_id"]
    + """
CREATE UNIQUE INDEX IF NOT EXISTS by_src_object ON object_values ("object", "attrib", "source_id");
"""
    + DEFERRABLE_INDEXES["by_src_value"]
    + """
CREATE INDEX IF NOT EXISTS rc_changed_object ON changed_values ("object", "source_id");
CREATE INDEX IF NOT EXISTS rc_changed_sent ON changed_values ("source_id", "sent");
"""
)

REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "client_info": frozenset({"client_id", "session", "token", "token_sent", "reset", "port"}),
    "object_values": frozenset({"source_id", "attrib", "object", "value"}),
    "changed_values": frozenset(
        {"source_id", "attrib", "object", "value", "attrib_type", "update_type", "sent"}
    ),
    "sources": frozenset(
        {"source_id", "name", "token", "sync_priority", "partition", "sync_type", "metadata"}
    ),
}


# Columns newer Rhodes versions added; an older database or bulk file gets them with their defaults.
_OPTIONAL_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "client_info": (("last_sync_success", "VARCHAR(100) default NULL"),),
    "sources": (
        ("last_updated", "BIGINT default 0"),
        ("last_inserted_size", "BIGINT default 0"),
        ("last_deleted_size", "BIGINT default 0"),
        ("last_sync_duration", "BIGINT default 0"),
        ("last_sync_success", "BIGINT default 0"),
        ("backend_refresh_time", "BIGINT default 0"),
        ("source_attribs", "varchar default NULL"),
        ("schema", "varchar default NULL"),
        ("schema_version", "varchar default NULL"),
        ("associations", "varchar default NULL"),
        ("blob_attribs", "varchar default NULL"),
    ),
}


def configure_connection(conn: sqlite3.Connection, *, on_disk: bool, synchronous: str) -> None:
    """WAL journal (readers never block the writer; a killed process loses no committed page) and
    the requested ``synchronous`` level (FULL by default: committed data also survives power loss)."""
    conn.execute("PRAGMA foreign_keys=OFF")
    if on_disk:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a filesystem without shared memory
            log.warning("SQLite refused WAL mode (got %s); using the rollback journal", mode)
        # A checkpoint (copying the log into the database, two fsyncs) every WAL_CHECKPOINT_PAGES
        # instead of SQLite's 1000: an app's local write touches about a dozen pages, so with the
        # default a checkpoint would follow every 80 or so creates. Each checkpoint copies the
        # latest version of every page the log holds; the hot pages (the right edge of each index)
        # are rewritten by every create, so a longer log copies fewer pages per create: 10,000
        # creates in a row took about a sixth less time at 16,000 pages than at 4,000.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA temp_store=MEMORY")


def _columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA "{schema}".table_info("{table}")')}


def missing_tables(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """Rhodes tables (or their required columns) absent from ``schema``, as readable strings."""
    problems: list[str] = []
    for table, needed in REQUIRED_COLUMNS.items():
        have = _columns(conn, table, schema)
        if not have:
            problems.append(f"table {table}")
        elif needed - have:
            problems.append(f"{table} columns {', '.join(sorted(needed - have))}")
    return problems


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables of a new database, or check and upgrade an existing one.

    A file written by Rhodes or a RhoConnect bulk job has ``user_version`` 0 and the tables: it is
    accepted and stamped. A file from a newer client (higher version) is refused rather than guessed at.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this client supports ({SCHEMA_VERSION})"
        )
    has_tables = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
        "('client_info','object_values','changed_values','sources')"
    ).fetchone()[0]
    if has_tables and version == 0:
        # Absent tables are created below; an existing table without the Rhodes columns is not ours.
        problems = [p for p in missing_tables(conn) if not p.startswith("table ")]
        if problems:
            raise StoreError("database lacks the Rhodes layout: missing " + "; ".join(problems))
    upgrades = [
        f'ALTER TABLE {table} ADD COLUMN "{column}" {decl};'
        for table, columns in _OPTIONAL_COLUMNS.items()
        if (have := _columns(conn, table))
        for column, decl in columns
        if column not in have
    ]
    conn.executescript(
        "BEGIN IMMEDIATE;"
        + _TABLES
        + "".join(upgrades)
        + _INDEXES
        + f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
    )


def validate_bulk_file(path: Path) -> None:
    """Raise ``BulkError`` unless ``path`` is an intact SQLite database with the Rhodes tables.

    Opened read-only, so a bad file is never modified, and checked with ``quick_check`` so a
    truncated download is caught before anything of the current database is touched.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise BulkError(f"cannot read bulk file {path}: {exc}") from exc
    if header != b"SQLite format 3\x00":
        raise BulkError(f"bulk file {path.name} is not an SQLite database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BulkError(f"cannot open bulk file {path.name}: {exc}") from exc
    try:
        check = conn.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise BulkError(f"bulk file {path.name} is damaged: {check[0][0]}")
        problems = missing_tables(conn)
        if problems:
            raise BulkError(f"bulk file {path.name} lacks the Rhodes layout: missing " + "; ".join(problems))
    except sqlite3.DatabaseError as exc:
        raise BulkError(f"bulk file {path.name} is not a usable database: {exc}") from exc
    finally:
        conn.close()
