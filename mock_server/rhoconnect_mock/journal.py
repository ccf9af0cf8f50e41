"""The request journal: every protocol request and its response, for assertions and the admin API.

Each request the protocol classifier saw (admin requests excepted) becomes one ``JournalEntry``:
operation, family, source, user, client id, the token the client sent and the one the server
issued, status, content type, timing, the fault rules that fired, the start of both bodies, and
what the client actually received (``outcome``: a reset, a truncated body with ``bytes_sent``,
a ``delay_ms``; an unexpected exception's ``error``). The request pipeline opens an entry
(``exchange.Exchange``) when a request arrives and records it once the answer is decided.
Entries live in a bounded deque: when it is full the oldest entry is dropped and counted in
``dropped``, so a long run never grows without limit and never loses entries silently.

Unexpected exceptions raised while handling a request are kept in ``errors`` (the pytest plugin
fails the test that caused one).

Reading: ``journal.entries(operation="query", source="Product")`` gives an ``Entries`` sequence
with ``filter``, ``first``, ``index`` and ``assert_order``::

    entries.assert_order({"operation": "query", "source": "Product", "token_sent": token},
                         {"operation": "cud"})
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

from flask import Flask

EXTENSION = "rhoconnect_mock.journal"
DEFAULT_SIZE = 10_000
DEFAULT_BODY_LIMIT = 2048
MAX_ERRORS = 100

__all__ = ["DEFAULT_SIZE", "EXTENSION", "Entries", "Journal", "JournalEntry", "journal_of"]


@dataclass(frozen=True)
class JournalEntry:
    """One request and its response, in protocol terms."""

    seq: int
    time: float
    method: str
    path: str
    query_string: str
    operation: str
    family: str | None
    source: str | None
    sources: list[str]
    user: str | None
    client_id: str | None
    token_sent: str | None
    token_issued: str | None
    #: The status the client received (``None``: the connection was reset before the status line).
    status: int | None
    content_type: str | None
    #: The body length the answer declared (``Content-Length``).
    response_bytes: int | None
    duration_ms: float
    faults: list[str] = field(default_factory=list)
    #: The action types of those rules.
    actions: list[str] = field(default_factory=list)
    request_body: str | None = None
    #: The start of the body the client received (of the part sent, when truncated).
    response_body: str | None = None
    #: How the answer ended on the wire: ``complete``, ``reset_before_headers``,
    #: ``reset_after_headers``, ``truncated`` or ``trickled``.
    outcome: str = "complete"
    #: Body bytes the client received (``None`` when not known, e.g. a file the server streamed).
    bytes_sent: int | None = None
    #: Time a fault rule held the answer back, in milliseconds (``None``: no delay).
    delay_ms: float | None = None
    #: The message of an unexpected exception the mock raised (answered 500 with it).
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, filters: Mapping[str, Any]) -> bool:
        """True if every ``key=value`` holds (``faults=ID`` means that rule fired here)."""
        for key, want in filters.items():
            if key == "faults":
                if want not in self.faults:
                    return False
                continue
            if not hasattr(self, key):
                raise KeyError(f"journal entries have no field {key!r}")
            if getattr(self, key) != want:
                return False
        return True


class Entries(Sequence[JournalEntry]):
    """A snapshot of journal entries in arrival order, with helpers for assertions."""

    def __init__(self, items: Sequence[JournalEntry], dropped: int = 0) -> None:
        self._items = list(items)
        self.dropped = dropped

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Entries: ...
    def __getitem__(self, index: int | slice) -> JournalEntry | Entries:
        if isinstance(index, slice):
            return Entries(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"Entries({[_brief(e) for e in self._items]})"

    def __eq__(self, other: object) -> bool:
        # ``journal() == []`` reads naturally in tests; compare by content with lists too.
        if isinstance(other, Entries):
            return self._items == other._items
        if isinstance(other, list):
            return self._items == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def filter(self, **filters: Any) -> Entries:
        """The entries where every given field equals the given value."""
        return Entries([e for e in self._items if e.matches(filters)])

    def first(self, **filters: Any) -> JournalEntry | None:
        return next((e for e in self._items if e.matches(filters)), None)

    def index(self, *args: Any, **filters: Any) -> int:
        """Position of the first entry matching ``filters`` (``ValueError`` if none)."""
        if args:
            return self._items.index(*args)
        for i, entry in enumerate(self._items):
            if entry.matches(filters):
                return i
        raise ValueError(f"no journal entry with {filters}")

    def assert_order(self, *steps: Mapping[str, Any]) -> list[JournalEntry]:
        """Assert that entries matching each step occur in this order; return the matched entries.

        Each step is a dict of field values; a later step must match an entry after the one that
        matched the step before it. The message lists the journal when the order does not hold.
        """
        found: list[JournalEntry] = []
        start = 0
        for n, step in enumerate(steps):
            for i in range(start, len(self._items)):
                if self._items[i].matches(step):
                    found.append(self._items[i])
                    start = i + 1
                    break
            else:
                where = "at all" if n == 0 else f"after step {n} ({dict(steps[n - 1])})"
                lines = "\n".join(f"  {_brief(e)}" for e in self._items) or "  (empty)"
                raise AssertionError(f"journal: no request matching {dict(step)} {where}; journal:\n{lines}")
        return found

    def assert_acknowledged_before(self, source: str, token: str, operation: str, **then: Any) -> None:
        """Assert a query for ``source`` acknowledged ``token`` before a request of ``operation``."""
        self.assert_order(
            {"operation": "query", "source": source, "token_sent": token}, {"operation": operation, **then}
        )

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self._items]


def _brief(e: JournalEntry) -> str:
    parts = [f"#{e.seq}", e.operation, e.method, e.path]
    if e.source:
        parts.append(f"source={e.source}")
    if e.token_sent is not None:
        parts.append(f"token_sent={e.token_sent!r}")
    if e.token_issued is not None:
        parts.append(f"token_issued={e.token_issued!r}")
    parts.append(f"-> {e.status}" if e.outcome == "complete" else f"-> {e.status} {e.outcome}")
    if e.faults:
        parts.append(f"faults={e.faults} {e.actions}")
    return " ".join(parts)


class Journal:
    """The bounded store of entries and unexpected errors of one app (thread-safe)."""

    def __init__(self, size: int = DEFAULT_SIZE, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        if size < 1:
            raise ValueError("journal size must be at least 1")
        self.size = size
        self.body_limit = body_limit
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._errors: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self._lock = threading.Lock()
        self._seq = 0
        self.dropped = 0

    def record(self, entry: JournalEntry | None = None, **fields: Any) -> JournalEntry:
        """Append ``entry``, or one built from ``fields`` with the next sequence number.

        Numbering and appending under one lock keeps ``seq`` in arrival order across threads.
        """
        with self._lock:
            self._seq += 1
            if entry is None:
                entry = JournalEntry(seq=self._seq, **fields)
            if len(self._entries) == self.size:
                self.dropped += 1
            self._entries.append(entry)
            return entry

    def record_error(self, error: dict[str, Any]) -> None:
        with self._lock:
            self._errors.append(error)

    def entries(self, since: int | None = None, limit: int | None = None, **filters: Any) -> Entries:
        """Entries with ``seq > since`` matching ``filters``, oldest first, at most ``limit``."""
        with self._lock:
            items = list(self._entries)
            dropped = self.dropped
        if since is not None:
            items = [e for e in items if e.seq > since]
        if filters:
            items = [e for e in items if e.matches(filters)]
        if limit is not None:
            items = items[-limit:] if limit else []
        return Entries(items, dropped)

    def errors(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._errors)

    def clear(self, errors: bool = True) -> None:
        """Forget every entry (and the error list); ``dropped`` restarts at zero."""
        with self._lock:
            self._entries.clear()
            self.dropped = 0
            if errors:
                self._errors.clear()

    def clear_errors(self) -> None:
        with self._lock:
            self._errors.clear()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "size": self.size,
                "count": len(self._entries),
                "dropped": self.dropped,
                "last_seq": self._seq,
                "errors": len(self._errors),
            }


def journal_of(app: Flask) -> Journal:
    """The journal of ``app``."""
    journal: Journal = app.extensions[EXTENSION]
    return journal
