"""Applying a query or search page to the local tables (docs/protocol.md#page-layout,
docs/protocol.md#acknowledgement-and-paging, docs/protocol.md#outbox-states).

This is the hot path of a sync: a 2000-object page is a handful of statements driven by the page's
own rows (its ``insert`` rows read by SQLite straight from the page text when it can, see
``_insert_from_text``), so its cost depends on the page, not on how many rows the table already holds
(every statement is an index lookup). The caller runs it inside one transaction.

Rhodes order inside a page: ``metadata``, ``links``, ``delete``, ``insert``, then the token (and
``refresh_time``, when the page has one).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from . import rhoblob
from .fixed import upsert_sql, values_table, values_table_of
from .protocol import Page, RawInsert
from .schema import DEFERRABLE_INDEXES

if TYPE_CHECKING:  # avoid an import cycle: store imports this module
    from .store import Source

__all__ = [
    "AppliedPage",
    "PendingParse",
    "apply_page",
    "defer_indexes",
    "insert_text_ahead",
    "is_plain",
    "local_blob_files",
    "purge_confirmed",
    "rename_links",
    "sqlite_reads_pages_like_python",
    "text_rows_stand",
]


@dataclass(frozen=True)
class AppliedPage:
    """What a page changed, for object notifications (docs/protocol.md#object-notifications) and counters.

    ``created`` holds the *temporary* ids that got a server id (``links``), ``updated`` the inserted
    object ids, ``deleted`` the deleted ones. ``resent`` is true when the page repeated the stored
    token and was skipped (Rhodes ``processToken``).
    """

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    resent: bool = False

    @property
    def object_count(self) -> int:
        return len(self.updated) + len(self.deleted)


def rename_links(
    conn: sqlite3.Connection, source_id: int, links: dict[str, str], children: list[tuple[int, str]]
) -> None:
    """Give linked objects their server id everywhere.

    ``object_values`` and ``changed_values`` rows are renamed; outbox rows of the create (``sent`` 2)
    become 3 (confirmed, purged at token 0). Rows the app queued after the create left (``sent`` 0,
    e.g. an update or a destroy while the link was outstanding) keep their state and are pushed under
    the new id: Rhodes marks them 3 too and so loses them. Belongs-to attributes of child sources that
    held the temporary id follow. A link to the same id (the adapter kept the client's id) renames
    nothing but confirms the create all the same.
    """
    conn.executemany(
        "UPDATE changed_values SET object=?, sent=CASE WHEN sent>=2 THEN 3 ELSE sent END "
        "WHERE object=? AND +source_id=?",
        [(real, temp, source_id) for temp, real in links.items()],
    )
    pairs = [(real, temp, source_id) for temp, real in links.items() if real != temp]
    if not pairs:
        return
    # OR REPLACE: if the server already sent the object under its real id, the local row wins.
    table = values_table_of(conn, source_id)
    conn.executemany(f"UPDATE OR REPLACE {table} SET object=? WHERE object=? AND +source_id=?", pairs)
    if not children:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rc_links (temp TEXT PRIMARY KEY, real TEXT)")
    conn.execute("DELETE FROM temp.rc_links")
    conn.executemany("INSERT OR REPLACE INTO temp.rc_links VALUES (?, ?)", [(t, r) for r, t, _ in pairs])
    for child_id, attrib in children:
        conn.executemany(
            f"UPDATE {values_table_of(conn, child_id)} SET value=? "
            "WHERE attrib=? AND source_id=? AND value=?",
            [(real, attrib, child_id, temp) for real, temp, _ in pairs],
        )
        # One pass over the child's outbox (usually small) instead of one scan per link.
        conn.execute(
            "UPDATE changed_values "
            "SET value=(SELECT real FROM temp.rc_links WHERE temp=changed_values.value) "
            "WHERE source_id=? AND attrib=? AND value IN (SELECT temp FROM temp.rc_links)",
            (child_id, attrib),
        )


def _apply_deletes(
    conn: sqlite3.Connection, table: str, sid: int, delete: dict[str, dict[str, str]], waiting: bool
) -> None:
    """A page's ``delete``: the listed attributes go; outbox rows of creates still waiting for their
    link that the server deleted become ``sent=3``."""
    keys = [(oid, attrib, sid) for oid, attrs in delete.items() for attrib in attrs]
    conn.executemany(f"DELETE FROM {table} WHERE object=? AND attrib=? AND source_id=?", keys)
    if waiting:
        conn.executemany(
            "UPDATE changed_values SET sent=3 WHERE object=? AND attrib=? AND source_id=? AND sent>1",
            keys,
        )


def _apply_inserts(
    conn: sqlite3.Connection, table: str, sid: int, page: Page, waiting: bool, inserted: bool
) -> None:
    """A page's ``insert``: one upsert per attribute (from the page text where it can, unless
    ``inserted`` says that is done); outbox rows the server wrote over while their create waits for
    its link become ``sent=4``."""
    if not inserted and not _insert_from_text(conn, table, sid, page.raw_insert):
        conn.executemany(
            upsert_sql(table),
            [
                (sid, attrib, oid, value)
                for oid, attrs in page.insert.items()
                for attrib, value in attrs.items()
            ],
        )
    if waiting:
        conn.executemany(
            "UPDATE changed_values SET sent=4 WHERE object=? AND attrib=? AND source_id=? AND sent>1",
            [(oid, attrib, sid) for oid, attrs in page.insert.items() for attrib in attrs],
        )


def apply_page(
    conn: sqlite3.Connection,
    source: Source,
    page: Page,
    children: list[tuple[int, str]],
    *,
    inserted: bool = False,
) -> AppliedPage:
    """Apply ``page`` to ``source``; the caller holds the transaction.

    ``insert`` is an upsert per attribute, ``delete`` removes the listed attributes only. Where the
    server writes an attribute of an object whose create is still waiting for its link, that outbox
    row becomes ``sent=4`` (Rhodes "oo conflicts"); a deleted one becomes 3. Both are purged at token 0.
    Attributes named ``<attr>-rhoblob`` are written as ``<attr>``, a blob attribute (``rhoblob``).
    ``inserted``: the ``insert`` rows are already written, from the page text, in this transaction
    (``insert_text_ahead``, for a page ``text_rows_stand`` accepted).
    """
    sid, table = source.source_id, values_table(source)
    if page.token > 1 and page.token == source.token:
        return AppliedPage(resent=True)
    page, blob_names = rhoblob.without_suffix(page)
    if blob_names:
        source = _learn_blob_attribs(conn, source, blob_names)
    if source.pass_through:
        # The page replaces the source's data (Rhodes pass_through); objects with local changes the
        # server has not confirmed stay, so that nothing of the app's is lost.
        conn.execute(
            f"DELETE FROM {table} WHERE source_id=? AND object NOT IN "
            "(SELECT object FROM changed_values WHERE source_id=? AND sent<3)",
            (sid, sid),
        )
    if page.metadata is not None:
        conn.execute("UPDATE sources SET metadata=? WHERE source_id=?", (page.metadata, sid))
    if page.links:
        rename_links(conn, sid, page.links, children)
    waiting = (
        conn.execute("SELECT 1 FROM changed_values WHERE source_id=? AND sent>1 LIMIT 1", (sid,)).fetchone()
        is not None
    )
    if page.delete:
        _apply_deletes(conn, table, sid, page.delete, waiting)
    kept = local_blob_files(conn, source, page) if page.insert else []
    if page.insert:
        _apply_inserts(conn, table, sid, page, waiting, inserted)
    if kept:
        conn.executemany(f"UPDATE {table} SET value=? WHERE object=? AND attrib=? AND source_id=?", kept)
    # docs/protocol.md#page-layout: a page's ``refresh_time`` is kept in ``backend_refresh_time``; pages
    # without one (the
    # modern server never sends it) leave the stored value alone.
    token = 0 if source.pass_through else page.token  # pass_through: one page ends the pull
    conn.execute(
        "UPDATE sources SET token=?, backend_refresh_time=coalesce(?, backend_refresh_time) "
        "WHERE source_id=?",
        (token, page.refresh_time, sid),
    )
    if token == 0:
        purge_confirmed(conn, sid)
    return AppliedPage(
        created=list(page.links),
        updated=list(page.insert),
        deleted=list(page.delete),
        links=dict(page.links),
    )


def _learn_blob_attribs(conn: sqlite3.Connection, source: Source, names: frozenset[str]) -> Source:
    """Make ``names`` (sent as ``<attr>-rhoblob``) blob attributes of ``source`` in ``blob_attribs``.

    Rhodes downloads such a value while it applies the page and records nothing; this client
    downloads after the pull (``blobs.download_blobs``), so the attribute must be known as a blob
    until then, and across a restart if the download fails. Flag 0: an attribute not declared has no
    overwrite flag in Rhodes. A declared attribute keeps its own flag.
    """
    added = {name: "0" for name in sorted(names) if name not in source.blob_attributes}
    if not added:
        return source
    blob_attribs = rhoblob.with_blob_attribs(source.blob_attribs, added)
    conn.execute("UPDATE sources SET blob_attribs=? WHERE source_id=?", (blob_attribs, source.source_id))
    return replace(source, blob_attribs=blob_attribs)


def local_blob_files(conn: sqlite3.Connection, source: Source, page: Page) -> list[tuple[str, str, str, int]]:
    """The local files a page must not replace: ``(path, object, attrib, source_id)`` rows.

    For a blob attribute without the overwrite flag, Rhodes keeps a non-empty local value when the
    server sends the attribute again, and downloads nothing (``SyncSource::processBlob``). A value
    that is still a URL (its download has not happened yet) is no file: the server's new value
    replaces it.
    """
    names = source.blobs_kept_locally
    if not names:
        return []
    table, sid = values_table(source), source.source_id
    kept = []
    for oid, attrs in page.insert.items():
        for attrib in names.intersection(attrs):
            row = conn.execute(
                f"SELECT value FROM {table} WHERE object=? AND attrib=? AND source_id=?", (oid, attrib, sid)
            ).fetchone()
            if row is not None and row[0] and "://" not in row[0]:
                kept.append((row[0], oid, attrib, sid))
    return kept


# The page's ``insert`` rows read by SQLite from the page text, in the page's order: the same
# upsert as ``upsert_sql`` without a Python tuple per row. ``c.key = 'insert'`` rather than a path
# ending in ``.insert``: a path would take the first of duplicate keys, the parsed page the last.
_ROWS_FROM_TEXT = (
    "SELECT ?, a.key, o.key, a.value FROM json_each(?, ?) AS c, json_each(c.value) AS o, "
    "json_each(o.value) AS a WHERE c.key = 'insert'"
)
_INSERT_FROM_TEXT = (
    f"INSERT INTO object_values (source_id, attrib, object, value) {_ROWS_FROM_TEXT} "
    "ON CONFLICT (object, attrib, source_id) DO UPDATE SET value=excluded.value"
)
# Keys and values with the escapes a page may use (``protocol`` keeps pages with NUL or surrogate
# escapes away from SQLite): the SQLite in use must read them exactly as Python's json does.
_PROBE_PAGE = r'[{"insert":{"o\"\\\u00e9/":{"a\tb\u2028":"v\"\\\/\b\f\n\r\t\u00e9 x"},"2":{"":""}}}]'


@functools.cache
def sqlite_reads_pages_like_python() -> bool:
    """Whether this process's SQLite has the JSON functions and reads a page's keys and strings
    exactly as ``json.loads`` does (checked once, on a page full of escapes); if not, pages are
    always inserted from their parsed rows."""
    conn = sqlite3.connect(":memory:")
    try:
        rows = conn.execute(_ROWS_FROM_TEXT, (1, _PROBE_PAGE, "$[0]")).fetchall()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    parsed = json.loads(_PROBE_PAGE)[0]["insert"]
    expected = [(1, attrib, oid, value) for oid, attrs in parsed.items() for attrib, value in attrs.items()]
    return rows == expected


def _insert_from_text(conn: sqlite3.Connection, table: str, source_id: int, raw: RawInsert | None) -> bool:
    """Insert a page's objects straight from its JSON text (``protocol.RawInsert``); False when the
    caller must insert the parsed rows instead.

    About half the cost of ``executemany`` over a large page. Used for ``object_values`` only (a view's
    trigger would hide the row count). The rows must come out exactly as parsed: when SQLite reads
    another number of pairs (duplicate keys) or cannot read the text at all (a build without JSON
    functions), the statement is undone and the parsed page is used.
    """
    if raw is None or table != "object_values" or not sqlite_reads_pages_like_python():
        return False
    conn.execute("SAVEPOINT rc_page_text")
    try:
        same = conn.execute(_INSERT_FROM_TEXT, (source_id, raw.text, raw.path)).rowcount == raw.rows
    except sqlite3.OperationalError:
        same = False
    if not same:
        conn.execute("ROLLBACK TO rc_page_text")
    conn.execute("RELEASE rc_page_text")
    return same


class PendingParse(Protocol):
    """A page being parsed elsewhere (on a helper thread) while the store writes its rows."""

    def start(self) -> None:
        """Let the parse begin (called right before the long insert statement)."""

    def result(self) -> Page:
        """The parsed (and checked) page; raises what the parse or the checks raised."""


def is_plain(page: Page) -> bool:
    """A page that only inserts, readable from its text: nothing to delete, link, report or store
    before its rows, so its rows may be written before the page is parsed (``insert_text_ahead``)."""
    return (
        page.raw_insert is not None
        and not page.delete
        and not page.links
        and page.errors is None
        and page.metadata is None
    )


def insert_text_ahead(
    conn: sqlite3.Connection, source: Source, text: str, path: str, parse: PendingParse
) -> int | None:
    """Write the ``insert`` rows at ``path`` of a page's ``text`` before the page is parsed, and let
    the parse run meanwhile; returns the row count, or None when the rows cannot come from the text.

    The parse begins only now (``parse.start``): SQLite lets other threads run while it executes the
    statement, but the parse, once started, would hold the interpreter until it ends and keep this
    thread from reaching the statement. The rows stand only if ``text_rows_stand`` accepts the parsed
    page; otherwise the caller rolls the transaction back. Sources whose pages are not plain upserts
    into ``object_values`` (pass_through, blob files kept locally, a table of their own) get no rows.
    """
    eligible = (
        values_table(source) == "object_values"
        and not source.pass_through
        and not source.blobs_kept_locally
        and sqlite_reads_pages_like_python()
    )
    parse.start()
    if not eligible:
        return None
    try:
        return int(conn.execute(_INSERT_FROM_TEXT, (source.source_id, text, path)).rowcount)
    except sqlite3.OperationalError:  # e.g. text SQLite cannot read as JSON: the parse decides
        return None


def text_rows_stand(source: Source, page: Page, path: str, rows: int | None) -> bool:
    """Whether the rows ``insert_text_ahead`` wrote are exactly those of the parsed ``page``: a plain
    page (``is_plain``) whose text path and row count match, no re-send of the stored token, and no
    ``<attr>-rhoblob`` names (those are renamed before they are written)."""
    raw = page.raw_insert
    return (
        rows is not None
        and raw is not None
        and is_plain(page)
        and raw.path == path
        and raw.rows == rows
        and not (page.token > 1 and page.token == source.token)
        and rhoblob.without_suffix(page)[0] is page
    )


def purge_confirmed(conn: sqlite3.Connection, source_id: int) -> int:
    """Delete outbox rows in states 3 and 4 (confirmed by the server); returns how many."""
    cur = conn.execute("DELETE FROM changed_values WHERE source_id=? AND sent>=3", (source_id,))
    return cur.rowcount


def defer_indexes(conn: sqlite3.Connection, source_id: int, incoming: int) -> bool:
    """Before a large initial load of an empty source: drop ``by_src_id`` and ``by_src_value``.

    Keeping those two up to date row by row (``by_src_value`` over long values above all) is most of
    the cost of a first sync; built once over the loaded rows they cost a fraction, the way a bulk
    file arrives with its indexes built. Only done when the source holds no object and the table
    has fewer rows than ``incoming`` objects, so the rebuild never costs more than the rows it
    saves. Reads stay correct meanwhile, only slower. Returns True when the indexes were dropped.
    """
    if values_table_of(conn, source_id) != "object_values":
        return False  # a fixed-schema source loads into its own table
    if conn.execute("SELECT 1 FROM object_values WHERE source_id=? LIMIT 1", (source_id,)).fetchone():
        return False
    rows = conn.execute("SELECT count(*) FROM (SELECT 1 FROM object_values LIMIT ?)", (incoming,)).fetchone()[
        0
    ]
    if rows >= incoming:
        return False
    for name in DEFERRABLE_INDEXES:
        conn.execute(f'DROP INDEX IF EXISTS "{name}"')
    return True
