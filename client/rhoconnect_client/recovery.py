"""App-driven recovery after adapter errors: ``on_sync_create/update/delete_error``
(docs/protocol.md#recovery-after-adapter-errors).

``objects`` may be one id, a list of ids, or the hash the app received in
``server_errors["create-error"]`` (``{id: {"message": m, "attributes": {...}}}``); a raw page hash
(``{id: {attrs}}``) is accepted too. Actions are strings, optionally written like Ruby symbols
(``":delete"``); anything else raises ``InvalidAction`` before the database is touched.

Row effects follow the Rhodes C++ client's ``syncengine_spec.rb``:
* create ``delete``: every outbox row of the object and the object itself go;
* create ``recreate``: if a ``delete`` is pending, as ``delete``; otherwise all rows of the object are
  replaced by one unsent create marker (the object is created again at the next sync);
* update ``retry``: an unsent ``update`` row per reported attribute unless one is pending already;
* update ``rollback``: the server's attributes (``update-rollback``) are written into the object,
  with no outbox rows;
* delete ``retry``: a ``delete`` row per reported attribute unless one is pending already.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidAction
from .fixed import upsert_sql, values_table, values_table_of
from .outbox import OBJECT_MARKER

if TYPE_CHECKING:
    from .store import Source

__all__ = [
    "normalize_action",
    "normalize_objects",
    "on_sync_create_error",
    "on_sync_delete_error",
    "on_sync_update_error",
]


def normalize_action(action: object, allowed: tuple[str, ...]) -> str:
    """``"delete"``, ``":delete"`` (a Ruby symbol as text) -> ``"delete"``; else ``InvalidAction``."""
    if isinstance(action, str):
        name = action[1:] if action.startswith(":") else action
        if name in allowed:
            return name
    raise InvalidAction(action, allowed)


def _attributes(entry: Any) -> dict[str, str]:
    if not isinstance(entry, Mapping):
        return {}
    inner = entry.get("attributes") if ("attributes" in entry or "message" in entry) else entry
    if not isinstance(inner, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in inner.items()}


def normalize_objects(objects: object) -> dict[str, dict[str, str]]:
    """Object ids with the attributes the server reported (empty when only ids were given)."""
    if isinstance(objects, str | int):
        return {str(objects): {}}
    if isinstance(objects, Mapping):
        return {str(oid): _attributes(entry) for oid, entry in objects.items()}
    if isinstance(objects, list | tuple | set | frozenset):
        out: dict[str, dict[str, str]] = {}
        for item in objects:
            if not isinstance(item, str | int):
                raise TypeError(f"object ids must be strings, got {type(item).__name__}")
            out[str(item)] = {}
        return out
    raise TypeError(
        f"objects must be an id, a list of ids or a server_errors hash, not {type(objects).__name__}"
    )


def _delete_object(conn: sqlite3.Connection, sid: int, oid: str) -> None:
    conn.execute("DELETE FROM changed_values WHERE object=? AND +source_id=?", (oid, sid))
    conn.execute(f"DELETE FROM {values_table_of(conn, sid)} WHERE object=? AND +source_id=?", (oid, sid))


def on_sync_create_error(conn: sqlite3.Connection, source: Source, objects: object, action: object) -> None:
    name = normalize_action(action, ("delete", "recreate"))
    sid = source.source_id
    for oid in normalize_objects(objects):
        delete_pending = conn.execute(
            "SELECT 1 FROM changed_values WHERE object=? AND +source_id=? AND update_type='delete' LIMIT 1",
            (oid, sid),
        ).fetchone()
        if name == "delete" or delete_pending:
            _delete_object(conn, sid, oid)
            continue
        conn.execute("DELETE FROM changed_values WHERE object=? AND +source_id=?", (oid, sid))
        conn.execute(
            "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
            "VALUES (?, ?, ?, NULL, 'create', 0)",
            (sid, OBJECT_MARKER, oid),
        )


def _queue_missing(
    conn: sqlite3.Connection, source: Source, oid: str, attrs: Mapping[str, str], update_type: str
) -> None:
    sid = source.source_id
    for attrib, value in attrs.items():
        pending = conn.execute(
            "SELECT 1 FROM changed_values WHERE object=? AND +source_id=? AND attrib=? AND update_type=? "
            "AND sent<3 LIMIT 1",
            (oid, sid, attrib, update_type),
        ).fetchone()
        if not pending:
            conn.execute(
                "INSERT INTO changed_values (source_id, attrib, object, value, attrib_type, update_type, "
                "sent) VALUES (?, ?, ?, ?, ?, ?, 0)",
                (
                    sid,
                    attrib,
                    oid,
                    value,
                    "blob.file" if attrib in source.blob_attributes else None,
                    update_type,
                ),
            )


def on_sync_update_error(
    conn: sqlite3.Connection,
    source: Source,
    objects: object,
    action: object,
    rollback_objects: Mapping[str, Any] | None = None,
) -> None:
    name = normalize_action(action, ("retry", "rollback"))
    sid = source.source_id
    if name == "rollback":
        if rollback_objects is None:
            raise InvalidAction(action, detail="the rollback action needs rollback_objects (update-rollback)")
        wanted = set(normalize_objects(objects))
        for oid, attrs in normalize_objects(rollback_objects).items():
            if wanted and oid not in wanted:
                continue
            conn.executemany(upsert_sql(values_table(source)), [(sid, a, oid, v) for a, v in attrs.items()])
        return
    for oid, attrs in normalize_objects(objects).items():
        if not attrs:  # only an id: send the object's current values again
            attrs = dict(
                conn.execute(
                    f"SELECT attrib, value FROM {values_table(source)} WHERE object=? AND +source_id=?",
                    (oid, sid),
                ).fetchall()
            )
        _queue_missing(conn, source, oid, attrs, "update")


def on_sync_delete_error(conn: sqlite3.Connection, source: Source, objects: object, action: object) -> None:
    normalize_action(action, ("retry",))
    for oid, attrs in normalize_objects(objects).items():
        _queue_missing(conn, source, oid, attrs or {OBJECT_MARKER: ""}, "delete")
