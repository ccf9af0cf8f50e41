"""Fault rules as data: which requests a rule looks at, what it does, and its live counters.

A ``FaultRule`` is what ``rules.parse_rule`` makes of JSON-shaped rule data; the engine keeps
the live ones and asks each whether it fires on a request (``consider``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..request_info import OPERATIONS, RequestInfo

MATCHABLE_OPERATIONS: tuple[str, ...] = tuple(op for op in OPERATIONS if op != "admin")
FAMILIES = ("classic", "rest")


@dataclass(frozen=True)
class Match:
    """Which requests a rule looks at; ``None`` means any."""

    operations: frozenset[str] | None = None
    source: str | None = None
    user: str | None = None
    client_id: str | None = None
    family: str | None = None

    def matches(self, rc: RequestInfo) -> bool:
        return (
            (self.operations is None or rc.operation in self.operations)
            and (self.source is None or rc.source == self.source or self.source in rc.sources)
            and (self.user is None or rc.user == self.user)
            and (self.client_id is None or rc.client_id == self.client_id)
            and (self.family is None or rc.family == self.family)
        )


@dataclass(frozen=True)
class Action:
    """What a rule does when it fires: a type and its validated parameters."""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass
class FaultRule:
    """A validated rule plus its live counters (``hits`` matching requests, ``fired`` times acted)."""

    id: str
    match: Match
    action: Action
    when: Mapping[str, Any]
    times: int | None
    source_data: dict[str, Any]
    hits: int = 0
    fired: int = 0
    #: A paused rule keeps its counters but looks at no request until it is resumed.
    paused: bool = False
    _rng: random.Random | None = None
    #: Per-rule working state of actions (a delay's generator, a session's request count).
    scratch: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def consider(self, rc: RequestInfo, login: str | None = None) -> bool:
        """Count ``rc`` if it matches and say whether the rule fires on it (thread-safe).

        ``login`` is the login name a ``login`` request carries (an ``expire_session`` rule
        starts that user's new session there).
        """
        if self.paused:
            return False
        expiry = self.action.type == "expire_session"
        if expiry and rc.operation == "login":
            # A login starts a new session for that user: it lives ``after`` more requests.
            with self._lock:
                self.scratch.setdefault("since_login", {})[login or ""] = 0
            return False
        if not self.match.matches(rc):
            return False
        with self._lock:
            if self.exhausted:
                return False
            self.hits += 1
            if expiry:
                counts: dict[str, int] = self.scratch.setdefault("since_login", {})
                seen = counts[rc.user or ""] = counts.get(rc.user or "", 0) + 1
                if seen <= self.action.params["after"]:
                    return False
            if not self._occurs(self.hits):
                return False
            self.fired += 1
            return True

    def _occurs(self, n: int) -> bool:
        when = self.when
        if "nth" in when:
            return bool(n == when["nth"])
        if "first" in when:
            return bool(n <= when["first"])
        if "every" in when:
            return bool(n % when["every"] == 0)
        if "after" in when:
            return bool(n > when["after"])
        if "probability" in when:
            assert self._rng is not None
            return bool(self._rng.random() < when["probability"])
        return True

    def describe(self) -> dict[str, Any]:
        """The rule as JSON: what was given (normalised) plus its counters."""
        out = dict(self.source_data)
        out["id"] = self.id
        out["hits"] = self.hits
        out["fired"] = self.fired
        out["exhausted"] = self.exhausted
        if self.paused:  # only when set, so live rules keep the shape they always had
            out["paused"] = True
        return out
