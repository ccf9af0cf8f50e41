"""Fixed-schema sources: one table per source, a column per schema property, as Rhodes keeps them.

A source whose ``sources.schema`` is set (``add_model(..., schema=...)`` or the schema a bulk file
brings) keeps its objects in a table named after the source: ``"object" varchar(255) PRIMARY KEY``
and one ``varchar`` column per property (every column varchar, as RhoConnect's bulk files write
them), plus the schema's ``index`` / ``unique_index`` indexes. Attributes that are not properties
are dropped, as Rhodes skips them.

The rest of the client speaks ``(source_id, attrib, object, value)`` rows. So that every algorithm
(page apply, outbox, links, recovery, bulk merge) works unchanged on both kinds, each fixed source
gets a view ``rc_values_<source id>`` with those four columns over its table, and ``INSTEAD OF``
triggers turning inserts (upserts), updates (values, renamed objects) and deletes of rows into
column writes of the table. The SQL of those modules names ``values_table(source)`` instead of
``object_values``; the triggers run inside the caller's transaction, so atomicity is unchanged.

``install`` (re)creates table, view and triggers and moves the source's rows out of
``object_values`` (a model declared with a schema after it had data, a bulk file unpivoted by
``bulkswap``); ``rebuild`` applies a changed schema: the rows go back to ``object_values``, the table
is re-created from the new schema and they come back, so pending local changes (``changed_values``)
are never touched.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store_rows import Source

__all__ = [
    "RESERVED_NAMES",
    "install",
    "install_all",
    "is_fixed",
    "properties",
    "rebuild",
    "uninstall",
    "upsert_sql",
    "values_table",
    "values_table_of",
    "view_name",
]

RESERVED_NAMES = frozenset({"client_info", "object_values", "changed_values", "sources"})


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def properties(schema: str | None) -> list[str]:
    """Property names of a schema's JSON text, in its order; ``[]`` when it has none."""
    if not schema:
        return []
    try:
        data = json.loads(schema)
    except ValueError:
        return []
    props = data.get("property") if isinstance(data, dict) else None
    return [str(p) for p in props if str(p) != "object"] if isinstance(props, dict) else []


def is_fixed(source: Source) -> bool:
    return bool(properties(source.schema))


def view_name(source_id: int) -> str:
    return f"rc_values_{int(source_id)}"


def values_table(source: Source) -> str:
    """Where the rows of ``source`` are read and written: its view, or ``object_values``."""
    return view_name(source.source_id) if is_fixed(source) else "object_values"


def values_table_of(conn: sqlite3.Connection, source_id: int) -> str:
    """``values_table`` for a source known only by id."""
    row = conn.execute("SELECT schema FROM sources WHERE source_id=?", (source_id,)).fetchone()
    return view_name(source_id) if row is not None and properties(row[0]) else "object_values"


def upsert_sql(table: str) -> str:
    """Insert-or-replace one ``(source_id, attrib, object, value)`` row (a view's trigger upserts)."""
    if table == "object_values":
        return (
            "INSERT INTO object_values (source_id, attrib, object, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (object, attrib, source_id) DO UPDATE SET value=excluded.value"
        )
    return f"INSERT INTO {table} (source_id, attrib, object, value) VALUES (?, ?, ?, ?)"


def _index_ddl(table: str, schema: str | None, columns: list[str]) -> list[str]:
    try:
        data = json.loads(schema or "{}")
    except ValueError:
        return []
    out: list[str] = []
    for key, unique in (("index", ""), ("unique_index", "UNIQUE ")):
        for name, spec in (data.get(key) or {}).items() if isinstance(data, dict) else []:
            cols = [c.strip() for c in str(spec).split(",") if c.strip() in columns]
            if cols:
                out.append(
                    f"CREATE {unique}INDEX IF NOT EXISTS {_q(str(name))} ON {_q(table)} "
                    f"({', '.join(_q(c) for c in cols)})"
                )
    return out


def _drop_view(conn: sqlite3.Connection, source_id: int) -> None:
    view = view_name(source_id)
    for suffix in ("ins", "upd", "del"):
        conn.execute(f"DROP TRIGGER IF EXISTS {view}_{suffix}")
    conn.execute(f"DROP VIEW IF EXISTS {view}")


def install(conn: sqlite3.Connection, source: Source) -> None:
    """Create (or complete) the table, view and triggers of ``source`` and move its
    ``object_values`` rows into the table. Runs in the caller's transaction."""
    props = properties(source.schema)
    if not props:
        return
    if source.name in RESERVED_NAMES or source.name.startswith(("sqlite_", "rc_")):
        raise ValueError(f"a fixed-schema source cannot be called {source.name!r}")
    table, sid, view = _q(source.name), source.source_id, view_name(source.source_id)
    conn.execute(f'CREATE TABLE IF NOT EXISTS {table} ("object" varchar(255) PRIMARY KEY)')
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    for prop in props:
        if prop not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {_q(prop)} varchar default NULL")
    for ddl in _index_ddl(source.name, source.schema, props):
        conn.execute(ddl)
    _drop_view(conn, sid)
    arms = " UNION ALL ".join(
        f'SELECT {sid} AS source_id, {_lit(p)} AS attrib, "object" AS object, {_q(p)} AS value '
        f"FROM {table} WHERE {_q(p)} IS NOT NULL"
        for p in props
    )
    conn.execute(f"CREATE VIEW {view} (source_id, attrib, object, value) AS {arms}")

    def assign(row: str, null: bool) -> str:
        value = "NULL" if null else f"{row}.value"
        return ", ".join(
            f"{_q(p)}=CASE WHEN {row}.attrib={_lit(p)} THEN {value} ELSE {_q(p)} END" for p in props
        )

    all_null = " AND ".join(f"{_q(p)} IS NULL" for p in props)
    conn.execute(
        f"CREATE TRIGGER {view}_ins INSTEAD OF INSERT ON {view} BEGIN "
        f'INSERT OR IGNORE INTO {table} ("object") VALUES (NEW.object); '
        f'UPDATE {table} SET {assign("NEW", False)} WHERE "object"=NEW.object; END'
    )
    conn.execute(
        f"CREATE TRIGGER {view}_upd INSTEAD OF UPDATE ON {view} BEGIN "
        f'UPDATE OR REPLACE {table} SET "object"=NEW.object '
        'WHERE "object"=OLD.object AND NEW.object<>OLD.object; '
        f'UPDATE {table} SET {assign("NEW", False)} WHERE "object"=NEW.object; END'
    )
    conn.execute(
        f"CREATE TRIGGER {view}_del INSTEAD OF DELETE ON {view} BEGIN "
        f'UPDATE {table} SET {assign("OLD", True)} WHERE "object"=OLD.object; '
        f'DELETE FROM {table} WHERE "object"=OLD.object AND {all_null}; END'
    )
    moved = conn.execute(
        "SELECT source_id, attrib, object, value FROM object_values WHERE source_id=? ORDER BY rowid", (sid,)
    ).fetchall()
    if moved:
        conn.executemany(upsert_sql(view), moved)
        conn.execute("DELETE FROM object_values WHERE source_id=?", (sid,))


def uninstall(conn: sqlite3.Connection, source: Source) -> None:
    """Move the table's values back into ``object_values`` and drop table, view and triggers."""
    view = view_name(source.source_id)
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='view' AND name=?", (view,)).fetchone()
    if exists:
        conn.execute(
            "INSERT OR REPLACE INTO object_values (source_id, attrib, object, value) "
            f"SELECT source_id, attrib, object, value FROM {view}"
        )
    _drop_view(conn, source.source_id)
    conn.execute(f"DROP TABLE IF EXISTS {_q(source.name)}")


def rebuild(conn: sqlite3.Connection, old: Source, new: Source) -> None:
    """A schema change: the values survive through ``object_values``; new columns start empty and
    values of properties the new schema drops are dropped with them."""
    uninstall(conn, old)
    install(conn, new)


def install_all(conn: sqlite3.Connection, sources: list[Source]) -> None:
    """Make sure every fixed source has its table, view and triggers (a freshly swapped bulk file
    has the tables only, and its rows may sit in ``object_values``)."""
    for source in sources:
        if not is_fixed(source):
            continue
        view = view_name(source.source_id)
        has_view = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='view' AND name=?", (view,)
        ).fetchone()
        pending = conn.execute(
            "SELECT 1 FROM object_values WHERE source_id=? LIMIT 1", (source.source_id,)
        ).fetchone()
        if not has_view or pending:
            install(conn, source)
