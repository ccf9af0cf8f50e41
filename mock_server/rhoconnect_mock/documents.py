"""Client documents and the paging engine: what one client holds of one source, as a cursor.

A client document does not copy the data. It is a cursor into the master document's change log
(the position up to which the client has acknowledged) plus a small overlay of exceptions: objects
the client pushed itself, search results, created objects, and objects whose log entry the scan
skipped because a later change of the same object lies beyond the page. The version of an object
the client holds is the overlay entry if any, else the object as of the cursor.

A page scans the log forward from the cursor, skipping entries superseded by a later change of the
same object, and emits attribute-level ``insert``/``delete`` diffs between what the client holds
and the current record, until ``p_size`` objects changed. Its cost is proportional to the page, not
to the dataset. The page goes out pending (``PendingPage``): acknowledging it moves the cursor and
applies its overlay updates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .backend import Dataset, MasterDocument, Record

#: Marker in ``PendingPage.overlay``: drop the overlay entry (the cursor now covers the object).
REMOVE: Record = {"\x00remove": ""}

PageKind = Literal["data", "schema-changed"]


@dataclass
class PendingPage:
    """A page sent with a real token and not yet acknowledged."""

    token: str
    body: bytes
    count: int
    kind: PageKind = "data"
    #: Cursor once acknowledged.
    cursor: int = 0
    #: Overlay entries to set (or ``REMOVE``) once acknowledged.
    overlay: dict[str, Record | None] = field(default_factory=dict)
    #: What the client holds, once it applied this page, of each object the page changed.
    sent: Mapping[str, Record | None] = field(default_factory=dict)
    #: Metadata (JSON string) the client holds once acknowledged.
    metadata: str | None = None
    #: Page contents, kept for inspection (admin API).
    content: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchState:
    """An ongoing search of one source for one client: one token, the ids still to send."""

    token: str
    remaining: list[str]
    #: The last sub-array sent, for a client that asks for it again (``resend=1``).
    last: list[dict[str, Any]] | None = None


@dataclass
class ClientSourceDoc:
    """Everything one client holds and awaits for one source."""

    cursor: int = 0
    overlay: dict[str, Record | None] = field(default_factory=dict)
    pending: PendingPage | None = None
    #: temp id -> server id, for the next page.
    links: dict[str, str] = field(default_factory=dict)
    #: ``create-error``/``update-error``/``delete-error``/``update-rollback`` for the next page.
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: CUD operations not processed yet (after a failed create): (kind, object id, attributes).
    queue: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    metadata_seen: str | None = None
    schema_seen: str | None = None
    #: The schema-changed page was acknowledged: the next page carries only the new metadata.
    schema_reset: bool = False
    search: SearchState | None = None

    def held(self, master: MasterDocument, oid: str) -> Record | None:
        """The version of ``oid`` this client holds (``None``: it does not have the object).

        A pending page counts as applied: the client has it, and will acknowledge it (or, on
        RhoConnect 7.8, simply not send its token) before anything else is built.
        """
        page = self.pending
        if page is not None:
            pinned = page.overlay.get(oid, REMOVE)
            if pinned is not REMOVE:
                return pinned
            if oid in page.sent:
                return page.sent[oid]
        if oid in self.overlay:
            return self.overlay[oid]
        return master.value_as_of(oid, self.cursor)

    def set_held(self, oid: str, value: Record | None) -> None:
        """Record that the client now holds ``value`` for ``oid`` (also across a pending ack)."""
        self.overlay[oid] = value
        if self.pending is not None:
            self.pending.overlay[oid] = value

    def requeue_links(self) -> None:
        """Send the pending page's links again with the next page.

        RhoConnect keeps a links page until a token acknowledges it (a query without a token or
        a bulk download does not), so a client that lost the page still learns the server ids
        of what it created; a link it already applied is a no-op for it.
        """
        if self.pending is not None:
            lost = {temp: link["l"] for temp, link in self.pending.content.get("links", {}).items()}
            self.links = {**lost, **self.links}

    def acknowledge(self) -> None:
        """Apply the pending page: move the cursor, update the overlay, remember metadata."""
        page = self.pending
        if page is None:
            return
        self.pending = None
        if page.kind == "schema-changed":
            self.schema_reset = True
            return
        self.cursor = max(self.cursor, page.cursor)
        self._apply_overlay(page.overlay)
        if page.metadata is not None:
            self.metadata_seen = page.metadata

    def _apply_overlay(self, updates: dict[str, Record | None]) -> None:
        for oid, value in updates.items():
            if value is REMOVE:
                self.overlay.pop(oid, None)
            else:
                self.overlay[oid] = value

    def advance(self, cursor: int, updates: dict[str, Record | None]) -> None:
        """Apply a scan that sent nothing (no token): safe to move on at once."""
        self.cursor = max(self.cursor, cursor)
        self._apply_overlay(updates)

    def materialise(self, master: MasterDocument) -> dict[str, dict[str, str]]:
        """The whole document as ``{id: attrs}`` (inspection only: cost proportional to the log)."""
        out: dict[str, dict[str, str]] = {}
        for oid in dict.fromkeys(master.log[: self.cursor]):
            value = master.value_as_of(oid, self.cursor)
            if value is not None:
                out[oid] = dict(value)
        for oid, value in self.overlay.items():
            if value is None:
                out.pop(oid, None)
            else:
                out[oid] = dict(value)
        return out


class InitialRun(Mapping[str, Record]):
    """The initial records at log indexes ``start:stop`` of a dataset, as a read-only mapping.

    What a fresh page sends: nothing is copied per page (the dataset never changes), so clients
    of every owner share it; the id -> position index is built only if something asks whether an
    object is in it (``ClientSourceDoc.held`` while the page is pending).
    """

    def __init__(self, data: Dataset, start: int, stop: int) -> None:
        self.data, self.start, self.stop = data, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self) -> Iterator[str]:
        return iter(self.data.ids()[self.start : self.stop])

    def __contains__(self, oid: object) -> bool:
        position = self.data.position(oid) if isinstance(oid, str) else None
        return position is not None and self.start < position <= self.stop

    def __getitem__(self, oid: str) -> Record:
        if oid not in self:
            raise KeyError(oid)
        return self.data.records[oid]

    def as_dict(self) -> dict[str, Record]:
        """The run as a plain dict in log order. Walks the id slice directly: ``dict(run)`` would
        check every key's membership through ``__getitem__``, which costs more than encoding it."""
        records = self.data.records
        return {oid: records[oid] for oid in self.data.ids()[self.start : self.stop]}


@dataclass
class Diff:
    """The result of one scan."""

    inserts: Mapping[str, Record]
    deletes: dict[str, Record]
    cursor: int
    overlay: dict[str, Record | None]
    #: The current value of every object the diff changes (what the client holds after it).
    sent: Mapping[str, Record | None]

    @property
    def count(self) -> int:
        return len(self.inserts) + len(self.deletes)


def scan(master: MasterDocument, doc: ClientSourceDoc, p_size: int) -> Diff:
    """Diffs from the client's cursor forward, for at most ``p_size`` changed objects."""
    start = doc.cursor
    end = master.visible
    if not master.moved and not doc.overlay:
        # Nothing changed since the load and the client holds nothing of its own: every log entry
        # is an object the client does not have yet, so the page is the next slice of the log.
        run = InitialRun(master.dataset, start, min(end, start + max(p_size, 0)))
        return Diff(run, {}, run.stop, {}, run)
    log, moved, records, history, overlay, extras = (
        master.log,
        master.moved,
        master.records,
        master.history,
        doc.overlay,
        master.extras,
    )
    inserts: dict[str, Record] = {}
    deletes: dict[str, Record] = {}
    updates: dict[str, Record | None] = {}
    sent: dict[str, Record | None] = {}
    superseded: list[str] = []
    p = start
    changed = 0
    while p < end and changed < p_size:
        oid = log[p]
        p += 1
        latest = moved.get(oid)
        cur: Record | None
        if latest is None or latest == p:
            cur = records.get(oid)
        elif latest > end and oid not in overlay and master.position_as_of(oid, end) == p:
            # Changed again after the last adapter query: clients still see this version
            # (RhoConnect keeps its master document while the adapter fails).
            cur = master.value_as_of(oid, end)
        else:
            superseded.append(oid)
            continue
        if oid in overlay:
            held: Record | None = overlay[oid]
            updates[oid] = REMOVE
        else:
            # Not in history: its only log entry is after the cursor, the client has never had it.
            held = master.value_as_of(oid, start) if oid in history else None
        if held is not cur and _diff_object(oid, held, cur, extras, inserts, deletes, sent):
            changed += 1
    for oid in superseded:
        # The object changes again beyond this page (and this page did not send it): pin what
        # the client really holds.
        if moved[oid] > p and oid not in overlay and oid not in updates and oid not in sent:
            updates[oid] = master.value_as_of(oid, start)
    return Diff(inserts, deletes, p, updates, sent)


def _diff_object(
    oid: str,
    held: Record | None,
    cur: Record | None,
    extras: Mapping[str, list[Record]],
    inserts: dict[str, Record],
    deletes: dict[str, Record],
    sent: dict[str, Record | None],
) -> bool:
    """Add what takes the client from ``held`` to ``cur`` (either may be ``None``: no object) to
    ``inserts``/``deletes``/``sent``; whether the object changed for the client."""
    if held is None:
        if cur is None:
            return False
        inserts[oid] = sent[oid] = cur
        return True
    if cur is None:
        deletes[oid] = held
        sent[oid] = None
        return True
    if extras and held in extras.get(oid, ()):
        # The master document also holds the client's version: nothing to delete, the current
        # version goes out whole (RhoConnect diffs whole-object elements).
        inserts[oid] = sent[oid] = cur
        return True
    ins = {k: v for k, v in cur.items() if held.get(k) != v}
    dels = {k: v for k, v in held.items() if cur.get(k) != v}
    if ins:
        inserts[oid] = ins
    if dels:
        deletes[oid] = dels
    if ins or dels:
        sent[oid] = cur
        return True
    return False
