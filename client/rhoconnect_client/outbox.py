"""The outbox (``changed_values``): local writes queue rows, a push moves them through ``sent`` states.

States (docs/protocol.md#outbox-states): 0 not sent; 1 in the request being sent; 2 create sent, waiting for
its
link; 3 linked or deleted by the server; 4 server overwrote an attribute of a waiting create. Rows in
3 and 4 are purged at token 0 (``pages.purge_confirmed``). Nothing is deleted before the server
confirmed it: an update/delete row leaves only after its POST succeeded, a create row only after its
link (or a recovery action by the app).

Local writes (Rhom semantics, docs/protocol.md#local-storage):
* create: object attributes in ``object_values`` plus one row ``update_type='create', attrib='object'``;
* update: one ``update`` row per changed attribute (replacing an unsent row of that attribute), none
  while the object still has an unsent create (the create carries the values);
* destroy: the object's unsent rows go; nothing is queued if the create was unsent, otherwise one
  ``delete`` row per attribute with its last value.

Every function here runs inside the caller's transaction and is set-based SQL, so pushing 10,000
creates is a few statements, not 10,000 round trips through Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .fixed import upsert_sql, values_table
from .protocol import PushBatch

if TYPE_CHECKING:
    from .store import Source

__all__ = [
    "BLOB_TYPE",
    "begin_push",
    "has_unsent_create",
    "local_create",
    "local_destroy",
    "local_update",
    "pending_count",
    "push_failed",
    "push_interrupted",
    "push_succeeded",
    "request_push",
    "resend_creates",
    "waiting_creates",
]

BLOB_TYPE = "blob.file"
OBJECT_MARKER = "object"  # attrib of the single row that stands for a whole new object


def _attrib_type(source: Source, attrib: str) -> str | None:
    return BLOB_TYPE if attrib in source.blob_attributes else None


# --------------------------------------------------------------------------- local writes


def has_unsent_create(conn: sqlite3.Connection, source_id: int, object_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM changed_values WHERE object=? AND +source_id=? AND update_type='create' AND sent=0 "
        "LIMIT 1",
        (object_id, source_id),
    ).fetchone()
    return row is not None


def local_create(conn: sqlite3.Connection, source: Source, object_id: str, attrs: Mapping[str, str]) -> None:
    sid = source.source_id
    conn.executemany(upsert_sql(values_table(source)), [(sid, a, object_id, v) for a, v in attrs.items()])
    if source.synced:
        conn.execute(
            "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
            "VALUES (?, ?, ?, NULL, 'create', 0)",
            (sid, OBJECT_MARKER, object_id),
        )


def local_update(
    conn: sqlite3.Connection, source: Source, object_id: str, changes: Mapping[str, str]
) -> None:
    """Write ``changes`` (only attributes whose value differs) and queue them unless a create is unsent."""
    sid = source.source_id
    conn.executemany(upsert_sql(values_table(source)), [(sid, a, object_id, v) for a, v in changes.items()])
    if not source.synced or has_unsent_create(conn, sid, object_id):
        return
    conn.executemany(
        "DELETE FROM changed_values WHERE object=? AND +source_id=? AND attrib=? AND update_type='update' "
        "AND sent=0",
        [(object_id, sid, a) for a in changes],
    )
    conn.executemany(
        "INSERT INTO changed_values (source_id, attrib, object, value, attrib_type, update_type, sent) "
        "VALUES (?, ?, ?, ?, ?, 'update', 0)",
        [(sid, a, object_id, v, _attrib_type(source, a)) for a, v in changes.items()],
    )


def local_destroy(conn: sqlite3.Connection, source: Source, object_id: str) -> None:
    sid = source.source_id
    if source.synced:
        unsent_create = has_unsent_create(conn, sid, object_id)
        conn.execute(
            "DELETE FROM changed_values WHERE object=? AND +source_id=? AND sent=0", (object_id, sid)
        )
        if not unsent_create:
            rows = conn.execute(
                f"SELECT attrib, value FROM {values_table(source)} WHERE object=? AND +source_id=?",
                (object_id, sid),
            ).fetchall()
            if not rows:  # an object without attributes still has to be deleted on the server
                rows = [(OBJECT_MARKER, None)]
            conn.executemany(
                "INSERT INTO changed_values (source_id, attrib, object, value, attrib_type, update_type, "
                "sent) VALUES (?, ?, ?, ?, ?, 'delete', 0)",
                [(sid, a, object_id, v, _attrib_type(source, a)) for a, v in rows],
            )
    conn.execute(f"DELETE FROM {values_table(source)} WHERE object=? AND +source_id=?", (object_id, sid))


# --------------------------------------------------------------------------- push states


def _exclude_waiting(conn: sqlite3.Connection, source: Source, parents: list[tuple[int, str]]) -> None:
    """Fill ``temp.rc_hold`` with objects that must not be pushed now (docs/protocol.md#outbox-states,
    ``checkIgnorePushObjects``).

    Held: objects with a create waiting for its link (a row in state 2: pushing again would create
    them twice; states 3/4 mean the server knows the object, so changes queued since may go), and
    children whose belongs-to attribute holds the id of a parent create the server has not linked yet
    (the server would store a temporary id). Rhodes only checks parents in state 2; a parent whose
    push failed (state 0) would equally leave a dangling id, so it is held too.
    """
    sid = source.source_id
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rc_hold (object TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.rc_hold")
    conn.execute(
        "INSERT OR IGNORE INTO temp.rc_hold SELECT object FROM changed_values WHERE source_id=? AND sent=2",
        (sid,),
    )
    for parent_id, attrib in parents:
        conn.execute(
            f"INSERT OR IGNORE INTO temp.rc_hold SELECT ov.object FROM {values_table(source)} ov "
            "WHERE ov.source_id=? AND ov.attrib=? AND ov.value IN (SELECT object FROM changed_values "
            "WHERE source_id=? AND update_type='create' AND sent<3)",
            (sid, attrib, parent_id),
        )


def begin_push(conn: sqlite3.Connection, source: Source, parents: list[tuple[int, str]]) -> PushBatch | None:
    """Mark unsent rows ``0 -> 1``, expand creates to one row per attribute and build the batch.

    Rows left in state 1 by a process that died mid-push are rolled back first: the server may or
    may not have seen them, and sending them again is the only choice that loses nothing.
    """
    sid = source.source_id
    if conn.execute("SELECT 1 FROM changed_values WHERE source_id=? AND sent=1 LIMIT 1", (sid,)).fetchone():
        push_failed(conn, sid)
    _exclude_waiting(conn, source, parents)
    cur = conn.execute(
        "UPDATE changed_values SET sent=1 WHERE source_id=? AND sent=0 "
        "AND object NOT IN (SELECT object FROM temp.rc_hold)",
        (sid,),
    )
    if cur.rowcount == 0:
        return None
    table = values_table(source)
    order = "ov.rowid" if table == "object_values" else "ov.attrib"  # a view has no rowid
    if source.full_update:
        _expand_updates(conn, sid, table, order)
    blob_list = sorted(source.blob_attributes)
    marks = ",".join("?" * len(blob_list))
    blob_sql = f"CASE WHEN ov.attrib IN ({marks}) THEN '{BLOB_TYPE}' END" if blob_list else "NULL"
    conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, value, attrib_type, update_type, sent) "
        f"SELECT ov.source_id, ov.attrib, ov.object, ov.value, {blob_sql}, 'create', 1 "
        f"FROM changed_values cv JOIN {table} ov ON ov.object=cv.object AND +ov.source_id=cv.source_id "
        "WHERE cv.source_id=? AND cv.update_type='create' AND cv.attrib=? AND cv.sent=1 "
        f"ORDER BY cv.rowid, {order}",
        (*blob_list, sid, OBJECT_MARKER),
    )
    # The marker goes once the attribute rows carry the create (kept for an object without attributes).
    conn.execute(
        "DELETE FROM changed_values WHERE source_id=? AND update_type='create' AND attrib=? AND sent=1 "
        f"AND EXISTS (SELECT 1 FROM {table} ov "
        "WHERE ov.object=changed_values.object AND +ov.source_id=?)",
        (sid, OBJECT_MARKER, sid),
    )
    batch = PushBatch()
    rows = conn.execute(
        "SELECT object, attrib, value, attrib_type, update_type FROM changed_values "
        "WHERE source_id=? AND sent=1 ORDER BY rowid",
        (sid,),
    )
    sections = {"create": batch.create, "update": batch.update, "delete": batch.delete}
    for object_id, attrib, value, attrib_type, update_type in rows:
        section = sections.get(update_type)
        if section is None:  # 'push_changes' marker: post even without data
            batch.push_changes = True
            continue
        attrs = section.setdefault(object_id, {})
        if attrib == OBJECT_MARKER:
            continue
        attrs[attrib] = "" if value is None else str(value)
        if attrib_type == BLOB_TYPE and value:
            batch.blobs[f"{attrib}-{object_id}"] = Path(str(value))
    return batch


def _expand_updates(conn: sqlite3.Connection, sid: int, table: str, order: str) -> None:
    """``full_update``: every object with an update in flight sends all its attributes (Rhodes
    ``updateFullUpdateChanges``); the added rows travel and leave with the changed ones."""
    conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
        f"SELECT ov.source_id, ov.attrib, ov.object, ov.value, 'update', 1 FROM {table} ov "
        "WHERE ov.object IN (SELECT object FROM changed_values WHERE source_id=? AND sent=1 "
        "AND update_type='update') AND +ov.source_id=? AND NOT EXISTS (SELECT 1 FROM changed_values c "
        "WHERE c.object=ov.object AND c.source_id=? AND c.attrib=ov.attrib AND c.sent=1 "
        f"AND c.update_type='update') ORDER BY ov.object, {order}",
        (sid, sid, sid),
    )


def push_succeeded(conn: sqlite3.Connection, source_id: int, *, keep_creates: bool = True) -> None:
    """The POST got 200: creates now wait for their link, updates and deletes are done.

    ``keep_creates`` False (a ``pass_through`` source, whose server keeps no objects to link):
    creates are done too, as in Rhodes.
    """
    if keep_creates:
        conn.execute(
            "UPDATE changed_values SET sent=2 WHERE source_id=? AND sent=1 AND update_type='create'",
            (source_id,),
        )
    conn.execute("DELETE FROM changed_values WHERE source_id=? AND sent=1", (source_id,))


def push_failed(conn: sqlite3.Connection, source_id: int) -> None:
    """The POST failed: everything in flight is unsent again, and what the app did meanwhile wins.

    * a create whose object was destroyed during the push is dropped with its delete rows (the
      server never confirmed the object, so there is nothing to delete there);
    * other creates collapse back to one marker row; update rows queued meanwhile for them are
      dropped because the create carries the current values;
    * an update/delete row is dropped if a newer unsent row exists for the same attribute.
    """
    sid = source_id
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rc_failed (object TEXT PRIMARY KEY, gone INTEGER)")
    conn.execute("DELETE FROM temp.rc_failed")
    conn.execute(
        "INSERT OR IGNORE INTO temp.rc_failed SELECT c.object, EXISTS (SELECT 1 FROM changed_values d "
        "WHERE d.object=c.object AND d.source_id=c.source_id AND d.update_type='delete') "
        "FROM changed_values c WHERE c.source_id=? AND c.sent=1 AND c.update_type='create'",
        (sid,),
    )
    conn.execute(
        "DELETE FROM changed_values WHERE source_id=? AND object IN "
        "(SELECT object FROM temp.rc_failed WHERE gone)",
        (sid,),
    )
    conn.execute(
        "DELETE FROM changed_values WHERE source_id=? AND update_type IN ('create', 'update') "
        "AND object IN (SELECT object FROM temp.rc_failed WHERE NOT gone)",
        (sid,),
    )
    conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
        "SELECT ?, ?, object, NULL, 'create', 0 FROM temp.rc_failed WHERE NOT gone",
        (sid, OBJECT_MARKER),
    )
    conn.execute(
        "DELETE FROM changed_values WHERE source_id=? AND sent=1 AND EXISTS (SELECT 1 FROM changed_values n "
        "WHERE n.object=changed_values.object AND +n.source_id=changed_values.source_id "
        "AND n.attrib=changed_values.attrib AND n.update_type=changed_values.update_type AND n.sent=0)",
        (sid,),
    )
    conn.execute("UPDATE changed_values SET sent=0 WHERE source_id=? AND sent=1", (sid,))


def push_interrupted(conn: sqlite3.Connection, source_id: int) -> None:
    """The POST broke off without an answer: the server may have created the objects.

    Creates wait for their link as after a success (state 2: not pushed twice); updates and deletes,
    harmless to send again, go back to unsent as after a failure.
    """
    conn.execute(
        "UPDATE changed_values SET sent=2 WHERE source_id=? AND sent=1 AND update_type='create'", (source_id,)
    )
    push_failed(conn, source_id)


def resend_creates(conn: sqlite3.Connection, source_id: int, object_ids: list[str]) -> int:
    """Creates held in state 2 that the server turned out never to have received become unsent again
    (collapsed to their marker row, as after a failed push); returns how many objects."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS rc_resend (object TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.rc_resend")
    conn.executemany("INSERT OR IGNORE INTO temp.rc_resend VALUES (?)", [(o,) for o in object_ids])
    found = conn.execute(
        "SELECT count(DISTINCT object) FROM changed_values WHERE source_id=? AND sent=2 "
        "AND update_type='create' AND object IN (SELECT object FROM temp.rc_resend)",
        (source_id,),
    ).fetchone()[0]
    if found:
        if conn.execute(
            "SELECT 1 FROM changed_values WHERE source_id=? AND sent=1 LIMIT 1", (source_id,)
        ).fetchone():
            push_failed(conn, source_id)  # never mix with rows of another push in flight
        conn.execute(
            "UPDATE changed_values SET sent=1 WHERE source_id=? AND sent=2 AND update_type='create' "
            "AND object IN (SELECT object FROM temp.rc_resend)",
            (source_id,),
        )
        push_failed(conn, source_id)
    return int(found)


def request_push(conn: sqlite3.Connection, source_id: int) -> None:
    """Queue a ``push_changes`` marker (Rhom ``push_changes``): the next push POSTs even if it has no
    data, which makes the server process creates it re-queued after a failed one (errors
    transcript, finding 5)."""
    exists = conn.execute(
        "SELECT 1 FROM changed_values WHERE source_id=? AND update_type='push_changes' AND sent=0 LIMIT 1",
        (source_id,),
    ).fetchone()
    if not exists:
        conn.execute(
            "INSERT INTO changed_values (source_id, attrib, object, update_type, sent) "
            "VALUES (?, ?, '', 'push_changes', 0)",
            (source_id, OBJECT_MARKER),
        )


def waiting_creates(conn: sqlite3.Connection, source_id: int) -> list[str]:
    """Objects whose create was sent and still waits for its link (state 2), oldest first."""
    rows = conn.execute(
        "SELECT object FROM changed_values WHERE source_id=? AND sent=2 AND update_type='create' "
        "GROUP BY object ORDER BY min(rowid)",
        (source_id,),
    )
    return [r[0] for r in rows]


def pending_count(conn: sqlite3.Connection, source_id: int | None = None) -> int:
    """Distinct objects with rows the server has not confirmed (states 0-2)."""
    if source_id is None:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT source_id, object FROM changed_values "
            "WHERE sent<3 AND update_type<>'push_changes')"
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT count(DISTINCT object) FROM changed_values WHERE source_id=? AND sent<3 "
            "AND update_type<>'push_changes'",
            (source_id,),
        ).fetchone()
    return int(row[0])
