"""The local object API apps use (Rhom's ``create``/``find``/``update``/``destroy``), filling the outbox.

Objects are plain dicts: their attributes as strings plus the id under ``"object"``. A new object
gets a temporary id (microseconds since 2009-01-01, as Rhodes ``generate_id``) until the server's
``links`` give it the real one; ``find`` with the old id then returns ``None``.

A ``Model`` holds the source *name*, not its id: a bulk swap renumbers sources from the server's file.
Every write takes ``store.lock`` and runs in one transaction, committed without fsync when it is the
outermost one: a local change survives a crash of the app at once and a power cut from the next sync
on (the durability rule in ``store``). A create outside an explicit transaction is written ahead as
one small row and folded in place before anything reads the store (``pending``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from . import outbox
from .exceptions import StoreError, UnknownSource
from .fixed import properties, values_table
from .store import Source, Store

__all__ = ["EPOCH_2009", "Model", "ObjectNotFound", "generate_id"]

EPOCH_2009 = 1230768000  # 2009-01-01T00:00:00Z, the epoch of Rhodes temporary ids
_RESERVED = frozenset({"object", "source_id"})

_id_lock = threading.Lock()
_last_id = 0


def generate_id() -> str:
    """A new temporary object id, strictly increasing within the process even within one microsecond."""
    global _last_id
    with _id_lock:
        now = int((time.time() - EPOCH_2009) * 1_000_000)
        _last_id = max(now, _last_id + 1)
        return str(_last_id)


class ObjectNotFound(StoreError):
    """``update``/``destroy`` of an id the model does not hold."""

    def __init__(self, source: str, object_id: str) -> None:
        super().__init__(f"{source} has no object {object_id!r}")
        self.source = source
        self.object_id = object_id


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _clean(attrs: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(attrs, Mapping):
        raise TypeError(f"attributes must be a mapping, not {type(attrs).__name__}")
    out: dict[str, str] = {}
    for key, value in attrs.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"attribute names must be non-empty strings, not {key!r}")
        if key in _RESERVED:
            raise ValueError(f"{key!r} is reserved and cannot be an attribute")
        out[key] = _text(value)
    return out


def _check_properties(source: Source, attrs: Mapping[str, str]) -> None:
    """A fixed-schema model has a column per property and nothing else."""
    props = properties(source.schema)
    unknown = sorted(set(attrs) - set(props)) if props else []
    if unknown:
        raise ValueError(
            f"{source.name} has no propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}"
        )


class Model:
    """Objects of one source in one partition store."""

    def __init__(self, store: Store, source: Source | str) -> None:
        self.store = store
        self.name = source.name if isinstance(source, Source) else source

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    @property
    def source(self) -> Source:
        src = self.store.source(self.name)
        if src is None:
            raise UnknownSource(self.name)
        return src

    def _write_source(self) -> Source:
        """The source row for a write, inside its transaction (kept by the store between writes)."""
        src = self.store.write_source(self.name)
        if src is None:
            raise UnknownSource(self.name)
        return src

    # ------------------------------------------------------------------ writes

    def create(self, attrs: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Store a new object and queue its create; returns it with its temporary id."""
        if attrs is not None and not isinstance(attrs, Mapping):
            raise TypeError(f"attributes must be a mapping, not {type(attrs).__name__}")
        values = dict(attrs or {})
        object_id = _text(values.pop("object", None)) or generate_id()
        clean = _clean(values)

        def check(conn: Any, source: Source) -> None:
            _check_properties(source, clean)
            if self._exists(conn, source, object_id):
                raise StoreError(f"{self.name} already has an object {object_id!r}")

        # Written ahead (one small row, folded in place before anything reads: ``pending``) unless
        # an explicit transaction is open or the model has a fixed schema.
        if not self.store.create_ahead(self.name, object_id, clean, check):
            with self.store.transaction(durable=False) as conn:
                source = self._write_source()
                check(conn, source)
                outbox.local_create(conn, source, object_id, clean)
        return {"object": object_id, **clean}

    def update(self, object_id: str, attrs: Mapping[str, Any]) -> dict[str, str]:
        """Change attributes; only the ones whose value differs are written and queued."""
        clean = _clean(attrs)
        with self.store.transaction(durable=False) as conn:
            source = self._write_source()
            _check_properties(source, clean)
            current = self._read(conn, source, object_id)
            if current is None:
                raise ObjectNotFound(self.name, object_id)
            changes = {k: v for k, v in clean.items() if current.get(k) != v}
            if changes:
                outbox.local_update(conn, source, object_id, changes)
            current.update(changes)
        return {"object": object_id, **current}

    def destroy(self, object_id: str) -> None:
        """Delete locally; the server delete is queued unless the create was never sent."""
        with self.store.transaction(durable=False) as conn:
            source = self._write_source()
            if not self._exists(conn, source, object_id) and not outbox.has_unsent_create(
                conn, source.source_id, object_id
            ):
                raise ObjectNotFound(self.name, object_id)
            outbox.local_destroy(conn, source, object_id)

    # ------------------------------------------------------------------ reads

    def find(self, object_id: str) -> dict[str, str] | None:
        with self.store.lock:
            found = self._read(self.store.conn, self.source, object_id)
        return None if found is None else {"object": object_id, **found}

    def find_all(
        self,
        conditions: Mapping[str, Any] | None = None,
        *,
        order_by: str | Sequence[str] | None = None,
        order_dir: str = "ASC",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, str]]:
        """Objects whose attributes equal every condition (all objects without conditions).

        Results are in object id order unless ``order_by`` names attributes (missing ones sort
        first); ``order_dir`` ``"DESC"`` reverses it; ``limit`` and ``offset`` take one page of the
        result (Rhom ``find(:all, :conditions, :order, :orderdir, :per_page, :offset)``).
        """
        direction = str(order_dir).upper()
        if direction not in ("ASC", "DESC"):
            raise ValueError(f"order_dir must be 'ASC' or 'DESC', not {order_dir!r}")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, not {limit!r}")
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a non-negative int, not {offset!r}")
        with self.store.lock:
            objects = self._load(self.source, conditions)
        result = [{"object": oid, **attrs} for oid, attrs in objects.items()]
        if order_by:
            keys = [order_by] if isinstance(order_by, str) else list(order_by)
            result.sort(key=lambda obj: tuple(obj.get(k, "") for k in keys), reverse=direction == "DESC")
        elif direction == "DESC":
            result.reverse()
        end = None if limit is None else offset + limit
        return result[offset:end]

    def count(self, conditions: Mapping[str, Any] | None = None) -> int:
        with self.store.lock:
            source = self.source
            if not conditions:
                return _count_objects(self.store.conn, source)
            return self._count_matching(source, conditions)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _exists(conn: Any, source: Source, object_id: str) -> bool:
        row = conn.execute(
            f"SELECT 1 FROM {values_table(source)} WHERE object=? AND +source_id=? LIMIT 1",
            (object_id, source.source_id),
        ).fetchone()
        return row is not None

    @staticmethod
    def _read(conn: Any, source: Source, object_id: str) -> dict[str, str] | None:
        rows = conn.execute(
            f"SELECT attrib, value FROM {values_table(source)} WHERE object=? AND +source_id=?",
            (object_id, source.source_id),
        ).fetchall()
        if not rows:
            # An object created without attributes exists only through its outbox row.
            if outbox.has_unsent_create(conn, source.source_id, object_id):
                return {}
            return None
        return {attrib: value for attrib, value in rows}

    @staticmethod
    def _condition_sql(source: Source, conditions: Mapping[str, Any]) -> tuple[str, list[object]]:
        """One ``SELECT object`` per condition (each an ``(attrib, source_id, value)`` index range,
        or a column compare of a fixed-schema table), intersected inside SQLite so the matching ids
        never travel through Python."""
        table = values_table(source)
        parts = [f"SELECT object FROM {table} WHERE attrib=? AND source_id=? AND value=?"] * len(conditions)
        args: list[object] = []
        for attrib, value in conditions.items():
            args += [attrib, source.source_id, _text(value)]
        return " INTERSECT ".join(parts), args

    def _count_matching(self, source: Source, conditions: Mapping[str, Any]) -> int:
        sql, args = self._condition_sql(source, conditions)
        return int(self.store.conn.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0])

    def _load(self, source: Source, conditions: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
        """Attributes of every (matching) object, in object id order, in one query."""
        sid, table = source.source_id, values_table(source)
        if conditions:
            sql, args = self._condition_sql(source, conditions)
            query = (
                f"SELECT object, attrib, value FROM {table} "
                f"WHERE object IN ({sql}) AND +source_id=? ORDER BY object"
            )
            params: list[object] = [*args, sid]
        else:
            query = f"SELECT object, attrib, value FROM {table} WHERE source_id=? ORDER BY object"
            params = [sid]
        objects: dict[str, dict[str, str]] = {}
        for oid, attrib, value in self.store.conn.execute(query, params):
            objects.setdefault(oid, {})[attrib] = value
        return objects


def _count_objects(conn: Any, source: Source) -> int:
    """How many objects ``source`` holds.

    ``count(DISTINCT object)`` over the source's rows puts every row into a temporary b-tree (0.3 s
    for 500,000 rows, e.g. on the first pull after a bulk sync); when the source holds most of
    ``object_values`` a scan of ``by_src_object``, where an object's rows are adjacent, counts the
    same objects in a fifth of that time. Both row counts come from ``by_src_id`` at little cost.
    """
    table = values_table(source)
    if table == "object_values":
        mine = conn.execute("SELECT count(*) FROM object_values WHERE source_id=?", (source.source_id,))
        rows = int(mine.fetchone()[0])
        if rows == 0:
            return 0
        if 2 * rows >= int(conn.execute("SELECT count(*) FROM object_values").fetchone()[0]):
            row = conn.execute(
                "SELECT count(DISTINCT object) FROM object_values INDEXED BY by_src_object "
                "WHERE +source_id=?",
                (source.source_id,),
            ).fetchone()
            return int(row[0])
    row = conn.execute(f"SELECT count(DISTINCT object) FROM {table} WHERE source_id=?", (source.source_id,))
    return int(row.fetchone()[0])
