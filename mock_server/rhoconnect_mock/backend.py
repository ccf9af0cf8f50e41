"""The simulated backend: master documents (records plus a change log) and adapter failures.

A ``MasterDocument`` holds the current records of one source for one partition owner (a user, or
the app) and an append-only log of object ids, one entry per insert, update or delete. A log
position is the change's sequence number, so "what changed after position S, in order" is a slice
of the log: a client document is just a cursor into it (see ``documents``). Record value dicts are
never mutated in place, only replaced, so documents of several users can share the same dicts and
a page can reference them without copying. Older versions of an object are kept (``history``) only
once it changes, which lets a client's view "as of position S" be rebuilt for any object.

``AdapterFailures`` simulates source adapters that raise, per stage (login, query, logoff, create,
update, delete, search), optionally limited to a user, to some object ids and to a number of times.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Record = Mapping[str, str]
Records = Mapping[str, Record]

STAGES: tuple[str, ...] = ("login", "query", "logoff", "create", "update", "delete", "search")


class Dataset:
    """The initial records of a source, shared (never modified) by every owner's master document.

    Log positions of the initial records are their order here; the id -> position index is built
    only when first needed (a change to an initial object, or an inspection of one), once per
    dataset, so a million-record source costs nothing extra per user.
    """

    def __init__(self, records: Records) -> None:
        self.records: Records = records
        self._ids: list[str] | None = None
        self._positions: dict[str, int] | None = None
        self._lock = threading.Lock()
        #: Derived, never state: the JSON of ``{id: record}`` for a run of initial records, by
        #: (start, stop) log index, so every fresh client of every owner gets the same page bytes
        #: without encoding them again (``query_engine``). Bounded by ``memo_budget`` bytes.
        self._memo: dict[tuple[int, int], bytes] = {}
        self._memo_size = 0

    def remembered(self, start: int, stop: int) -> bytes | None:
        """The JSON remembered for the initial records ``start:stop`` (``None``: not yet)."""
        return self._memo.get((start, stop))

    def remember(self, start: int, stop: int, encoded: bytes, budget: int) -> None:
        """Keep ``encoded`` for ``start:stop`` unless the memo would exceed ``budget`` bytes."""
        with self._lock:
            if (start, stop) not in self._memo and self._memo_size + len(encoded) <= budget:
                self._memo[(start, stop)] = encoded
                self._memo_size += len(encoded)

    def ids(self) -> list[str]:
        with self._lock:
            if self._ids is None:
                self._ids = list(self.records)
            return self._ids

    def position(self, oid: str) -> int | None:
        """1-based position of an initial object (``None``: not in the dataset)."""
        if oid not in self.records:
            return None
        ids = self.ids()
        with self._lock:
            if self._positions is None:
                self._positions = {o: i for i, o in enumerate(ids, start=1)}
            return self._positions[oid]


class MasterDocument:
    """Records of one (source, owner) and the ordered log of every change made to them."""

    def __init__(self, records: Records | Dataset | None = None) -> None:
        base = records if isinstance(records, Dataset) else Dataset(dict(records or {}))
        self._base = base
        #: id -> attributes; values are shared, never mutated (replace the dict to change it).
        self.records: dict[str, Record] = dict(base.records)
        #: log[p - 1] is the object changed at position p (1-based); append-only.
        self.log: list[str] = list(base.ids())
        #: id -> position of its latest change, for objects changed since the initial load
        #: (deleted objects stay, as tombstones). Initial objects not in it are at their load position.
        self.moved: dict[str, int] = {}
        #: id -> [(position, value or None when deleted)], only for objects changed after load.
        self.history: dict[str, list[tuple[int, Record | None]]] = {}
        #: Bumped on every write; bulk files compare it to know when to rebuild.
        self.version = 0
        #: Log position and record count as of the last successful adapter query: pages show
        #: the data up to here (RhoConnect's master document is refreshed only by the query).
        self.visible = len(self.log)
        self.visible_count = len(self.records)
        #: Older versions of an object that RhoConnect's element store still holds next to the
        #: current one (a search result written into a polled master document, see ``poll_cache``).
        #: A client holding one of them gets the current version whole, with no ``delete``.
        self.extras: dict[str, list[Record]] = {}
        self._next_id = 0

    @property
    def dataset(self) -> Dataset:
        """The initial records this document was loaded with."""
        return self._base

    @property
    def end(self) -> int:
        """Position of the latest change (0 when empty)."""
        return len(self.log)

    def publish(self) -> None:
        """The adapter's query ran: clients may now see every change made so far."""
        self.visible = len(self.log)
        self.visible_count = len(self.records)

    def show(self, count_change: int) -> None:
        """Make every change visible at once and move the reported size by ``count_change``.

        For a polled master document, whose size is RhoConnect's ``md_size`` counter: it moves
        by one per processed create, delete and stored search result, whether or not an object
        really appeared or went (a delete of attributes that are not the whole object removes
        nothing, yet counts).
        """
        self.visible = len(self.log)
        self.visible_count += count_change

    def position(self, oid: str) -> int | None:
        """Position of the latest change of ``oid`` (``None``: never seen)."""
        p = self.moved.get(oid)
        return p if p is not None else self._base.position(oid)

    def value_as_of(self, oid: str, position: int) -> Record | None:
        """The object as it was right after log position ``position`` (``None``: did not exist)."""
        versions = self.history.get(oid)
        if versions is None:
            p = self.position(oid)
            return self.records.get(oid) if p is not None and p <= position else None
        i = bisect.bisect_right(versions, position, key=lambda v: v[0])
        return versions[i - 1][1] if i else None

    def position_as_of(self, oid: str, position: int) -> int | None:
        """Position of the latest change of ``oid`` at or before ``position`` (``None``: none)."""
        versions = self.history.get(oid)
        if versions is None:
            p = self.position(oid)
            return p if p is not None and p <= position else None
        i = bisect.bisect_right(versions, position, key=lambda v: v[0])
        return versions[i - 1][0] if i else None

    def _change(self, oid: str, value: Record | None) -> None:
        position = len(self.log) + 1
        if oid not in self.history:
            old_pos = self.position(oid)
            if old_pos is not None:
                self.history[oid] = [(old_pos, self.records.get(oid))]
        if oid in self.history:
            self.history[oid].append((position, value))
        if value is None:
            self.records.pop(oid, None)
        else:
            self.records[oid] = value
        self.log.append(oid)
        self.moved[oid] = position
        self.version += 1

    def put(self, oid: str, attrs: Record) -> Record:
        """Insert or replace an object; returns the stored value."""
        value = {str(k): str(v) for k, v in attrs.items()}
        self._change(oid, value)
        return value

    def merge(self, oid: str, attrs: Record) -> Record:
        """Update some attributes (an unknown object is created with them)."""
        value = {**self.records.get(oid, {}), **{str(k): str(v) for k, v in attrs.items()}}
        self._change(oid, value)
        return value

    def delete(self, oid: str) -> bool:
        """Remove an object; ``False`` if it was not there."""
        if oid not in self.records:
            return False
        self._change(oid, None)
        return True

    def replace_all(self, records: Records) -> None:
        """Make the records exactly ``records``, logging each difference as a change."""
        for oid in [o for o in self.records if o not in records]:
            self._change(oid, None)
        for oid, attrs in records.items():
            value = {str(k): str(v) for k, v in attrs.items()}
            if self.records.get(oid) != value:
                self._change(str(oid), value)
        self.version += 1

    def new_id(self, template: str, source: str) -> str:
        """A server id for a created object that no object of this document has used."""
        while True:
            self._next_id += 1
            oid = template.format(n=self._next_id, source=source)
            if oid not in self.records and oid not in self.moved and oid not in self._base.records:
                return oid


@dataclass
class PolledView:
    """The cached master document of one (source, owner) of a source with a poll interval
    (see ``poll_cache``), and when it is next refreshed."""

    doc: MasterDocument
    #: ``time.monotonic()`` at or after which the next query runs the adapter again.
    refresh_at: float = 0.0
    #: Position of the adapter's change log the cache has been refreshed up to.
    synced: int = 0


@dataclass
class AdapterFailure:
    """One simulated adapter exception."""

    stage: str
    source: str
    message: str
    user: str | None = None
    objects: frozenset[str] | None = None
    times: int | None = None

    def matches(self, stage: str, source: str, user: str | None, oid: str | None) -> bool:
        if self.stage != stage or self.source != source:
            return False
        if self.user is not None and self.user != user:
            return False
        return self.objects is None or (oid is not None and oid in self.objects)


class AdapterFailures:
    """The adapter failures switched on, consulted by every simulated adapter call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[AdapterFailure] = []

    def add(
        self,
        stage: str,
        source: str,
        message: str,
        *,
        user: str | None = None,
        objects: Iterable[str] | None = None,
        times: int | None = None,
    ) -> AdapterFailure:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        rule = AdapterFailure(
            stage,
            source,
            str(message),
            user,
            None if objects is None else frozenset(str(o) for o in objects),
            times,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[AdapterFailure]:
        with self._lock:
            return list(self._rules)

    def check(self, stage: str, source: str, user: str | None, oid: str | None = None) -> str | None:
        """The message if this adapter call must fail (one use of a limited rule is consumed)."""
        if not self._rules:  # the common path: one attribute read
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(stage, source, user, oid):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule.message
        return None
