"""Building a bulk sync file: the Rhodes SQLite database and its ``.rzip``/``.gzip`` variants.

Pure file work, no Flask and no server state: the bulk blueprint gathers the sources and
their records and calls :func:`build_bulk_files`. The database matches what RhoConnect 7.8
writes (recorded listings errors-07 and errors-85): the same DDL text byte for byte, the
``sources`` table renumbered 1..N in partition order with unrequested sources listed as
``sync_type`` ``none``, one table per fixed-schema source, and a compact file (no free pages,
as RhoConnect's ``VACUUM`` at the end leaves it).

Speed matters (100,000 objects must build in about a second), so the rows of a source go in
through SQLite's JSON reader (one ``INSERT ... SELECT FROM json_each``) inside one transaction
of an in-memory database, the indexes are created after the inserts, the file is written by
SQLite's backup API (the database was never deleted from, so it is as compact as ``VACUUM``
would make it; a database too large for memory is built on disk and vacuumed), and the two
archives are compressed at the same time (zlib releases the GIL).
Files are written under temporary names and renamed into place, so a download running
while a file is rebuilt never sees half a file.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

log = logging.getLogger(__name__)

__all__ = [
    "COMPRESS_LEVEL",
    "INDEX_DDL",
    "IN_MEMORY_LIMIT",
    "SCHEMA_DDL",
    "BulkFiles",
    "BulkSource",
    "build_bulk_files",
    "rzip_entry_name",
    "source_attribs",
]

# The Rhodes empty-database schema exactly as RhoConnect 7.8's `.schema` prints it (recorded
# listing errors-07), including the stray space after the metadata column: clients and tests
# that compare schemas textually see the same bytes.
SCHEMA_DDL: tuple[str, ...] = (
    "CREATE TABLE client_info (\n"
    ' "client_id" VARCHAR(255) default NULL,\n'
    ' "session" VARCHAR(255) default NULL,\n'
    ' "token" VARCHAR(255) default NULL,\n'
    ' "token_sent" BIGINT default 0,\n'
    ' "reset" BIGINT default 0,\n'
    ' "port" VARCHAR(10) default NULL,\n'
    ' "last_sync_success" VARCHAR(100) default NULL)',
    "CREATE TABLE object_values (\n"
    ' "source_id" BIGINT default NULL,\n'
    ' "attrib" varchar(255) default NULL,\n'
    ' "object" varchar(255) default NULL,\n'
    ' "value" varchar default NULL)',
    "CREATE TABLE changed_values (\n"
    ' "source_id" BIGINT default NULL,\n'
    ' "attrib" varchar(255) default NULL,\n'
    ' "object" varchar(255) default NULL,\n'
    ' "value" varchar default NULL,\n'
    ' "attrib_type" varchar(255) default NULL,\n'
    ' "update_type" varchar(255) default NULL,\n'
    ' "sent" BIGINT default 0)',
    "CREATE TABLE sources (\n"
    ' "source_id" BIGINT PRIMARY KEY,\n'
    ' "name" VARCHAR(255) default NULL,\n'
    ' "token" BIGINT default NULL,\n'
    ' "sync_priority" BIGINT,\n'
    ' "partition" VARCHAR(255),\n'
    ' "sync_type" VARCHAR(255),\n'
    ' "metadata" varchar default NULL, \n'
    ' "last_updated" BIGINT default 0,\n'
    ' "last_inserted_size" BIGINT default 0,\n'
    ' "last_deleted_size" BIGINT default 0,\n'
    ' "last_sync_duration" BIGINT default 0,\n'
    ' "last_sync_success" BIGINT default 0,\n'
    ' "backend_refresh_time" BIGINT default 0,\n'
    ' "source_attribs" varchar default NULL,\n'
    ' "schema" varchar default NULL,\n'
    ' "schema_version" varchar default NULL,\n'
    ' "associations" varchar default NULL,\n'
    ' "blob_attribs" varchar default NULL)',
)

INDEX_DDL: tuple[str, ...] = (
    'CREATE INDEX by_src_id on object_values ("source_id")',
    'CREATE UNIQUE INDEX by_src_object ON object_values ("object", "attrib", "source_id")',
    'CREATE INDEX by_src_value ON object_values ("attrib", "source_id", "value")',
)

_INSERT_SOURCE = (
    "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type, source_attribs, metadata,"
    " schema, blob_attribs, associations, last_inserted_size, backend_refresh_time)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)

# Characters Ruby's URI.escape leaves alone: RhoConnect names the zip entry (and the URL) with it.
_URI_SAFE = "-_.!~*'();/?:@&=+$,[]"
# Above this many objects the database is built on disk instead of in memory (about 420 bytes
# per 5-attribute object in memory while building).
IN_MEMORY_LIMIT = 250_000
# zlib level for both archives: level 1 is five times faster than 6 on bulk files and only
# ~4% bigger; unzip still reports the entry as "deflated".
COMPRESS_LEVEL = 1
_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class BulkSource:
    """One row of the bulk file's ``sources`` table, with the data to store for it.

    ``selected`` is False for partition sources the client did not ask for: they are listed
    (sync_type ``none``) but carry no data, as on the real server. ``records`` maps object id
    to attributes; ``schema`` is the fixed schema (``property``, ``index``, ``unique_index``)
    or None for property-bag sources; ``metadata`` is the JSON string sent in query pages.
    """

    name: str
    partition: str
    priority: int
    records: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    selected: bool = True
    sync_type: str = "incremental"
    schema: Mapping[str, Any] | None = None
    metadata: str | None = None
    refresh_time: int = 0
    blob_attribs: str = ""
    associations: str | None = None


@dataclass(frozen=True)
class BulkFiles:
    """The three files of one bulk build and what went into them."""

    data: Path
    rzip: Path
    gzip: Path
    built_at: int
    object_count: int


def rzip_entry_name(data_path: Path) -> str:
    """The name of the single entry in the ``.rzip``: the ``.data`` basename, URI-escaped."""
    return quote(data_path.name, safe=_URI_SAFE)


def source_attribs(counts: Mapping[str, int]) -> str:
    """``"attr,count,attr2,count2"`` sorted by attribute name, as the ``sources`` table stores it."""
    return ",".join(f"{name},{counts[name]}" for name in sorted(counts))


def _quote_identifier(name: str) -> str:
    # The real server writes source names unquoted; we do the same for plain names (so the DDL
    # text matches) and quote anything else rather than produce broken SQL.
    if _PLAIN_IDENTIFIER.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _column(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# The rows of object_values come out of SQLite's own JSON reader: one json.dumps per chunk and
# one INSERT ... SELECT is about twice as fast as executemany over Python tuples. The CASE
# gives every value the text _text() would (strings as they are, containers as compact JSON).
_INSERT_OBJECT_VALUES = """
INSERT INTO object_values (source_id, attrib, object, value)
SELECT ?, a.key, o.key,
       CASE a.type WHEN 'text' THEN a.value WHEN 'null' THEN NULL
                   WHEN 'true' THEN 'True' WHEN 'false' THEN 'False'
                   WHEN 'object' THEN a.value WHEN 'array' THEN a.value
                   ELSE CAST(a.value AS TEXT) END
FROM json_each(?) AS o, json_each(o.value) AS a
"""
_JSON_CHUNK = 50_000


def _insert_object_values(
    conn: sqlite3.Connection, source_id: int, records: Mapping[str, Mapping[str, Any]]
) -> Counter[str]:
    """Insert every attribute of ``records``; return how many objects have each attribute."""
    counter: Counter[str] = Counter()
    items = iter(records.items())
    while chunk := dict(itertools.islice(items, _JSON_CHUNK)):
        counter.update(attrib for attrs in chunk.values() for attrib in attrs)
        conn.execute(_INSERT_OBJECT_VALUES, (source_id, _json_text(chunk)))
    return counter


def _json_text(chunk: dict[str, Any]) -> str:
    """The chunk as JSON text for SQLite's reader: orjson, or the standard library for what orjson
    refuses (a lone surrogate, an integer beyond 64 bits), so the rows are what they always were."""
    try:
        return orjson.dumps(chunk, default=str).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(chunk, default=str)


def _index_columns(spec: Any) -> str:
    columns = spec if isinstance(spec, list) else str(spec).split(",")
    return ",".join(_column(str(c).strip()) for c in columns)


def _fill_fixed_table(conn: sqlite3.Connection, source: BulkSource, schema: Mapping[str, Any]) -> None:
    """Create and fill the fixed-schema table: every column varchar, whatever the schema says."""
    table = _quote_identifier(source.name)
    properties = list(schema.get("property") or {})
    columns = ['"object" varchar(255) PRIMARY KEY']
    columns += [f"{_column(p)} varchar default NULL" for p in properties]
    conn.execute(f"CREATE TABLE {table}({','.join(columns)} )")
    if source.selected and source.records:
        names = ",".join(["object", *(_column(p) for p in properties)])
        marks = ",".join("?" * (len(properties) + 1))
        conn.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",
            ((oid, *(_text(attrs.get(p)) for p in properties)) for oid, attrs in source.records.items()),
        )
    for kind, key in (("INDEX", "index"), ("UNIQUE INDEX", "unique_index")):
        for index_name, spec in (schema.get(key) or {}).items():
            name = _quote_identifier(str(index_name))
            conn.execute(f"CREATE {kind} {name} on {table} ({_index_columns(spec)})")


def _fill_database(conn: sqlite3.Connection, sources: Sequence[BulkSource]) -> int:
    """Create the tables and rows inside one transaction; return the number of objects."""
    conn.execute("BEGIN")
    for ddl in SCHEMA_DDL:
        conn.execute(ddl)
    rows: list[tuple[Any, ...]] = []
    total = 0
    for source_id, source in enumerate(sources, start=1):
        data = source.records if source.selected else {}
        if source.schema is not None:
            _fill_fixed_table(conn, source, source.schema)
            attribs = ""
        else:
            attribs = source_attribs(_insert_object_values(conn, source_id, data))
        total += len(data)
        rows.append(
            (
                source_id,
                source.name,
                source.priority,
                source.partition,
                source.sync_type if source.selected else "none",
                attribs,
                source.metadata,
                json.dumps(source.schema, separators=(",", ":")) if source.schema is not None else None,
                source.blob_attribs,
                source.associations,
                len(data),
                source.refresh_time,
            )
        )
    conn.executemany(_INSERT_SOURCE, rows)
    # Indexes after the rows: building them once is far cheaper than maintaining them per insert.
    for ddl in INDEX_DDL:
        conn.execute(ddl)
    conn.execute("COMMIT")
    return total


def _write_database(path: Path, sources: Sequence[BulkSource]) -> int:
    """Write the SQLite file at ``path`` (which must not exist); return the number of objects.

    Up to ``IN_MEMORY_LIMIT`` objects the database is built in memory and its pages copied out
    (the only disk write, at once). Larger files are built on disk (to bound memory) and vacuumed
    in place.
    """
    objects = sum(len(s.records) for s in sources if s.selected)
    in_memory = objects <= IN_MEMORY_LIMIT
    conn = sqlite3.connect(":memory:" if in_memory else path, isolation_level=None)
    try:
        conn.execute("PRAGMA page_size=4096")
        # Let CREATE INDEX sort on helper threads. The sorter's spilled runs stay in temporary
        # files (the default temp_store): with temp_store=MEMORY the three index builds of 100,000
        # Faker records took 0.7 s longer (2.6 s instead of 1.9 s with their inserts).
        conn.execute("PRAGMA threads=2")
        conn.execute("PRAGMA journal_mode=DELETE" if not in_memory else "PRAGMA journal_mode=MEMORY")
        # A crash only loses a temporary file that is never served, so skip fsyncs while building.
        conn.execute("PRAGMA synchronous=OFF")
        total = _fill_database(conn, sources)
        if in_memory:
            # A database just built, never deleted from, is already as compact as VACUUM would make
            # it: copying its pages out (the backup API) writes the same file in a fraction of the time.
            with contextlib.closing(sqlite3.connect(path)) as out:
                conn.backup(out)
        else:
            conn.execute("VACUUM")
    finally:
        conn.close()
    return total


def _write_rzip(data: Path, target: Path, entry: str) -> None:
    # ZipFile.write streams the file and stamps the entry with its mtime (set to built_at).
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        archive.write(data, arcname=entry)


def _write_gzip(data: Path, target: Path, built_at: int) -> None:
    with (
        data.open("rb") as src,
        target.open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=built_at, compresslevel=COMPRESS_LEVEL
        ) as out,
    ):
        shutil.copyfileobj(src, out, 1 << 20)


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def build_bulk_files(
    data_path: Path, sources: Sequence[BulkSource], *, built_at: int | None = None
) -> BulkFiles:
    """Build ``data_path`` (SQLite), ``data_path.rzip`` and ``data_path.gzip`` from ``sources``.

    ``sources`` must already be in partition order (by priority); their row ids become 1..N in
    that order. Existing files of the same name are replaced atomically. ``built_at`` (unix
    seconds, default now) stamps the zip entry and the gzip header.
    """
    stamp = int(time.time()) if built_at is None else built_at
    data_path.parent.mkdir(parents=True, exist_ok=True)
    suffix = f".building-{os.getpid()}-{threading.get_ident()}"
    tmp_data = data_path.with_name(data_path.name + suffix)
    tmp_rzip = data_path.with_name(data_path.name + ".rzip" + suffix)
    tmp_gzip = data_path.with_name(data_path.name + ".gzip" + suffix)
    rzip_path = data_path.with_name(data_path.name + ".rzip")
    gzip_path = data_path.with_name(data_path.name + ".gzip")
    _remove_quietly(tmp_data, tmp_rzip, tmp_gzip)
    started = time.perf_counter()
    try:
        count = _write_database(tmp_data, sources)
        os.utime(tmp_data, (stamp, stamp))
        # The gzip runs on a second thread while this one deflates the zip.
        gzip_error: list[BaseException] = []

        def gzip_job() -> None:
            try:
                _write_gzip(tmp_data, tmp_gzip, stamp)
            except BaseException as exc:  # re-raised below, on the caller's thread
                gzip_error.append(exc)

        worker = threading.Thread(target=gzip_job, name="bulk-gzip", daemon=True)
        worker.start()
        _write_rzip(tmp_data, tmp_rzip, rzip_entry_name(data_path))
        worker.join()
        if gzip_error:
            raise gzip_error[0]
        for tmp in (tmp_rzip, tmp_gzip):
            os.utime(tmp, (stamp, stamp))
        # The .data goes last: a file set is "ready" once .data and .rzip both exist.
        os.replace(tmp_gzip, gzip_path)
        os.replace(tmp_rzip, rzip_path)
        os.replace(tmp_data, data_path)
    except BaseException:
        _remove_quietly(tmp_data, tmp_rzip, tmp_gzip)
        raise
    log.info(
        "built bulk file %s: %d sources, %d objects in %.3f s",
        data_path.name,
        len(sources),
        count,
        time.perf_counter() - started,
    )
    return BulkFiles(data=data_path, rzip=rzip_path, gzip=gzip_path, built_at=stamp, object_count=count)
