"""Creates written ahead: an app's ``Model.create`` as one small row, folded into the Rhodes tables later.

Written in place, a create touches about a dozen B-tree pages: an ``object_values`` row per
attribute, each landing on its own leaf of ``by_src_value``, the outbox row and the leaves of
``by_src_object``, ``by_src_id`` and the two outbox indexes. The durability rule (``store``) wants
a commit per create, and every commit writes each page it touched to the log again: under the
profiler, 10,000 creates in a row spent 1.5 of their 3.3 s committing. Written ahead, a create is
one row of ``rc_pending_create``, a table without rowid keyed by object id: ids made by
``generate_id`` grow, so each row lands on the table's last leaf, about one log page per commit.
Creates are then *folded* into ``object_values`` and ``changed_values`` together, in one
transaction, where a page shared by many creates is written once.

What keeps this invisible to the app and to the sync: the store folds pending creates before
anything reads or writes through its connection (``Store.conn``), so every find, count, update,
destroy, push or bulk swap sees what writing each create in place would have left, rows in the same
order. Nothing can be lost or doubled: the row is committed exactly as the in-place write would
have been (the same ``synchronous`` level, so the same durability), the table's key refuses a second
pending create of an id (from any connection), and a fold is one transaction that inserts the rows
into the Rhodes tables and empties the table. A process killed with creates pending leaves them in
the file, and the next open folds them.

Another connection to the same file (another process) reads the Rhodes tables, so it sees a create
once the store that wrote it has folded it: at that store's next read or write, at its ``close``,
or when ``FOLD_LIMIT`` creates are pending.

Only creates of property-bag models outside an explicit transaction are written ahead; inside a
transaction (``Store.transaction``) the outer commit groups the writes anyway, and a fixed-schema
model's create fills one row of its own table. The fold unpacks the attributes with SQLite's JSON
functions (built in since SQLite 3.38, and in the JSON1 extension most builds before it have); a
store whose SQLite lacks them writes every create in place (``supported``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .outbox import OBJECT_MARKER

if TYPE_CHECKING:
    from .store_rows import Source

__all__ = ["FOLD_LIMIT", "append", "count", "fold", "supported"]

#: Pending creates that make the next create fold them all (one transaction of this many creates,
#: a few tens of milliseconds): bounds the table, and how long another connection waits to see them.
FOLD_LIMIT = 2000

_seq_lock = threading.Lock()
_last_seq = 0


def _next_seq() -> int:
    """The order of a create among pending ones: nanoseconds, strictly increasing in the process."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(time.time_ns(), _last_seq + 1)
        return _last_seq


def supported(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite can fold (has ``json_each``)."""
    try:
        conn.execute("SELECT count(*) FROM json_each('{}')").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def append(conn: sqlite3.Connection, source: Source, object_id: str, attrs: Mapping[str, str]) -> None:
    """Queue the create of ``object_id`` (``sqlite3.IntegrityError`` if one is pending already)."""
    conn.execute(
        "INSERT INTO rc_pending_create (object, source_id, seq, attrs, queue) VALUES (?, ?, ?, ?, ?)",
        (
            object_id,
            source.source_id,
            _next_seq(),
            json.dumps(attrs, separators=(",", ":")),
            1 if source.synced else 0,
        ),
    )


def count(conn: sqlite3.Connection) -> int:
    """Creates pending in the file (``ensure_schema`` gives every file the table)."""
    return int(conn.execute("SELECT count(*) FROM rc_pending_create").fetchone()[0])


def fold(conn: sqlite3.Connection) -> None:
    """Write every pending create in place, in the order they were made, inside the caller's
    transaction: the rows ``outbox.local_create`` writes for each, an ``object_values`` row per
    attribute (upserted, as there) and, for a model that syncs, the outbox's ``create`` row.

    Set-based: unpacking the attributes inside SQLite took 0.27 s for 10,000 creates where
    building the rows in Python took 0.45 s.
    """
    conn.execute(
        "INSERT INTO object_values (source_id, attrib, object, value) "
        "SELECT p.source_id, a.key, p.object, a.value FROM rc_pending_create p, json_each(p.attrs) a "
        "WHERE true ORDER BY p.seq, a.id "  # WHERE: SQLite's rule for an upsert from a SELECT
        "ON CONFLICT (object, attrib, source_id) DO UPDATE SET value=excluded.value"
    )
    conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
        "SELECT source_id, ?, object, NULL, 'create', 0 FROM rc_pending_create WHERE queue ORDER BY seq",
        (OBJECT_MARKER,),
    )
    conn.execute("DELETE FROM rc_pending_create")
