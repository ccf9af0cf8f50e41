"""Fault rules as data: the rule model and its validation.

A rule is plain JSON-shaped data (from a scenario file, a ``--fail`` flag, the admin API or
Python) turned into a ``FaultRule`` by ``parse_rule``. Every channel goes through this one
function, so a rule means the same thing wherever it came from, and a bad rule is rejected
with a ``FaultRuleError`` whose message names the offending field
(``faults[2].action.status: must be an integer between 100 and 599``).

Canonical shape::

    {"id": "optional-name",
     "match": {"operation": "query" | [...], "source": "Product", "user": "alice",
               "client_id": "...", "family": "classic" | "rest"},
     "when": {"nth": 2} | {"first": 3} | {"every": 2} | {"after": 1}
             | {"probability": 0.25, "seed": 7},
     "times": 1,            # lifetime: how often it may fire; null = until cleared
     "action": {"type": "status", "status": 500, ...}}

The action types and their parameters are listed in ``ACTION_PARAMS``.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import RhoconnectMockError
from .request_info import OPERATIONS, RequestInfo

MATCHABLE_OPERATIONS: tuple[str, ...] = tuple(op for op in OPERATIONS if op != "admin")
FAMILIES = ("classic", "rest")
ADAPTER_STAGES = ("login", "query", "logoff", "create", "update", "delete", "search")
OBJECT_STAGES = ("create", "update", "delete")
BULK_RESULTS = ("wait", "nop", "empty_url")
MAX_DELAY = 600  # seconds
MAX_INTERVAL = 60  # seconds between trickled chunks

# Action type -> {parameter: validator}. A validator takes (value, field path) and returns the
# normalised value or raises FaultRuleError. Kept as data so the admin API can list it.
Validator = Callable[[Any, str], Any]
_MISSING = object()


class FaultRuleError(RhoconnectMockError, ValueError):
    """A fault rule (or scenario file) is invalid; ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


# -- small validators ---------------------------------------------------------------------------


def _int(lo: int, hi: int | None = None) -> Validator:
    def check(value: Any, where: str) -> int:
        in_range = isinstance(value, int) and value >= lo and (hi is None or value <= hi)
        if isinstance(value, bool) or not in_range:
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise FaultRuleError(where, f"must be an integer {bound}")
        return int(value)

    return check


def _number(lo: float, hi: float | None = None) -> Validator:
    def check(value: Any, where: str) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise FaultRuleError(where, f"must be a number {bound}")
        return float(value)

    return check


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FaultRuleError(where, "must be a string")
    return value


def _nonempty_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FaultRuleError(where, "must be a non-empty string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise FaultRuleError(where, "must be true or false")
    return value


def _choice(*choices: str) -> Validator:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise FaultRuleError(where, "must be one of " + ", ".join(choices))
        return str(value)

    return check


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FaultRuleError(where, "must be a list of strings")
    return list(value)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FaultRuleError(where, "must be a table of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise FaultRuleError(f"{where}.{key}", "must be a string")
    return dict(value)


def _records(value: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        raise FaultRuleError(where, "must be a table of object id -> attributes")
    return {str(key): _str_map(attrs, f"{where}.{key}") for key, attrs in value.items()}


def _body(value: Any, where: str) -> Any:
    # A string is sent as it is; anything JSON-shaped is JSON-encoded.
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    raise FaultRuleError(where, "must be a string or JSON value")


def _permutation(value: Any, where: str) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or sorted(value) != list(range(len(value)))
    ):
        raise FaultRuleError(where, "must be a permutation of 0..n-1, e.g. [1, 0, 2]")
    return list(value)


ACTION_PARAMS: dict[str, dict[str, Validator]] = {
    # Answer with this status instead of running the handler (or after running it).
    "status": {
        "status": _int(100, 599),
        "body": _body,
        "content_type": _nonempty_str,
        "headers": _str_map,
        "run_handler": _bool,
    },
    # Override or drop headers of the real response.
    "headers": {"set": _str_map, "remove": _str_list},
    # Make the simulated adapter raise, so the real error shapes appear in the next page.
    "adapter_error": {
        "stage": _choice(*ADAPTER_STAGES),
        "message": _str,
        "objects": _str_list,
        "count": _int(1),
        "source": _nonempty_str,
    },
    "schema_changed": {"source": _nonempty_str},
    "wrong_version": {"version": _int(0)},
    "empty_array": {},
    "out_of_order": {"order": _permutation},
    "malformed_json": {"body": _str},
    "bulk": {"result": _choice(*BULK_RESULTS)},
    "corrupt_file": {"mode": _choice("corrupt", "truncate"), "bytes": _int(0)},
    # Network faults (applied at the socket, after the handler ran).
    # Bounded so a typo cannot park a server thread for hours.
    "delay": {
        "seconds": _number(0, MAX_DELAY),
        "min": _number(0, MAX_DELAY),
        "max": _number(0, MAX_DELAY),
        "seed": _int(0),
        "before_handler": _bool,
    },
    "trickle": {"chunk_size": _int(1), "interval": _number(0, MAX_INTERVAL)},
    "reset": {"at": _choice("before_headers", "after_headers")},
    "truncate": {"bytes": _int(0)},
    "expire_session": {"after": _int(0)},
    "backend_change": {
        "insert": _records,
        "update": _records,
        "delete": _str_list,
        "source": _nonempty_str,
        "user": _nonempty_str,
    },
}
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "adapter_error": ("stage",),
    "bulk": ("result",),
    "expire_session": ("after",),
}
ACTION_TYPES: tuple[str, ...] = tuple(sorted(ACTION_PARAMS))
WHEN_KEYS = ("nth", "first", "every", "after", "probability")
MATCH_KEYS = ("operation", "source", "user", "client_id", "family")


# -- the model -----------------------------------------------------------------------------------


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
    #: A paused rule is kept with its counters but ignores every request until resumed.
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
        if self.paused:  # only when set, so descriptions of live rules keep their shape
            out["paused"] = True
        return out


# -- parsing -------------------------------------------------------------------------------------


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...] | list[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise FaultRuleError(_join(where, str(key)), "unknown key; expected one of " + ", ".join(allowed))


def _parse_match(data: Any, where: str) -> tuple[Match, dict[str, Any]]:
    if data is None:
        return Match(), {}
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table")
    _check_keys(data, MATCH_KEYS, where)
    ops: frozenset[str] | None = None
    norm: dict[str, Any] = {}
    if "operation" in data:
        raw = data["operation"]
        names = [raw] if isinstance(raw, str) else raw
        op_where = _join(where, "operation")
        if not isinstance(names, list) or not names:
            raise FaultRuleError(op_where, "must be an operation name or a list of them")
        for name in names:
            if name not in MATCHABLE_OPERATIONS:
                raise FaultRuleError(op_where, "must be one of " + ", ".join(MATCHABLE_OPERATIONS))
        ops = frozenset(names)
        norm["operation"] = raw
    strings: dict[str, str | None] = {}
    for key in ("source", "user", "client_id"):
        strings[key] = _nonempty_str(data[key], _join(where, key)) if key in data else None
        if key in data:
            norm[key] = data[key]
    family = _choice(*FAMILIES)(data["family"], _join(where, "family")) if "family" in data else None
    if family is not None:
        norm["family"] = family
    match = Match(ops, strings["source"], strings["user"], strings["client_id"], family)
    return match, norm


def _parse_when(data: Any, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table with one of " + ", ".join(WHEN_KEYS))
    _check_keys(data, [*WHEN_KEYS, "seed"], where)
    chosen = [k for k in WHEN_KEYS if k in data]
    if len(chosen) != 1:
        raise FaultRuleError(where, "must have exactly one of " + ", ".join(WHEN_KEYS))
    key = chosen[0]
    out: dict[str, Any] = {}
    if key == "probability":
        out["probability"] = _number(0, 1)(data[key], _join(where, key))
        out["seed"] = _int(0)(data.get("seed", 0), _join(where, "seed"))
    else:
        if "seed" in data:
            raise FaultRuleError(_join(where, "seed"), "only goes with probability")
        out[key] = _int(0 if key == "after" else 1)(data[key], _join(where, key))
    return out


def _parse_action(data: Any, where: str) -> Action:
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table with a type")
    kind = data.get("type", _MISSING)
    if kind is _MISSING:
        raise FaultRuleError(_join(where, "type"), "is required; one of " + ", ".join(ACTION_TYPES))
    if kind not in ACTION_PARAMS:
        raise FaultRuleError(_join(where, "type"), "must be one of " + ", ".join(ACTION_TYPES))
    spec = ACTION_PARAMS[kind]
    _check_keys(data, ["type", *spec], where)
    params = {key: spec[key](value, _join(where, key)) for key, value in data.items() if key != "type"}
    for key in REQUIRED_PARAMS.get(kind, ()):
        if key not in params:
            raise FaultRuleError(_join(where, key), f"is required for {kind}")
    _cross_check(kind, params, where)
    return Action(kind, params)


def _cross_check(kind: str, params: dict[str, Any], where: str) -> None:
    """Rules between parameters of one action that single-field validators cannot see."""
    if kind == "delay":
        has_fixed = "seconds" in params
        has_range = "min" in params or "max" in params
        if has_fixed == has_range:
            raise FaultRuleError(_join(where, "seconds"), "give either seconds, or min and max")
        if has_range:
            if "min" not in params or "max" not in params:
                missing = "max" if "min" in params else "min"
                raise FaultRuleError(_join(where, missing), "min and max go together")
            if params["max"] < params["min"]:
                raise FaultRuleError(_join(where, "max"), "must be >= min")
        elif "seed" in params:
            raise FaultRuleError(_join(where, "seed"), "only goes with min and max")
    if kind == "adapter_error" and params["stage"] not in OBJECT_STAGES and "objects" in params:
        raise FaultRuleError(_join(where, "objects"), "only applies to create, update and delete stages")
    if kind == "backend_change" and not any(k in params for k in ("insert", "update", "delete")):
        raise FaultRuleError(_join(where, "insert"), "give at least one of insert, update, delete")


def parse_rule(data: Any, where: str = "") -> FaultRule:
    """Validate JSON-shaped ``data`` into a ``FaultRule``; ``where`` prefixes field names in errors."""
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table (a rule with match, when, times and action)")
    _check_keys(data, ["id", "match", "when", "times", "action", "description"], where)
    rule_id = data.get("id")
    if rule_id is not None:
        _nonempty_str(rule_id, _join(where, "id"))
    if "description" in data:
        _str(data["description"], _join(where, "description"))
    match, match_norm = _parse_match(data.get("match"), _join(where, "match"))
    when = _parse_when(data.get("when"), _join(where, "when"))
    times = data.get("times")
    if times is not None:
        _int(1)(times, _join(where, "times"))
    if "action" not in data:
        raise FaultRuleError(_join(where, "action"), "is required")
    action = _parse_action(data["action"], _join(where, "action"))
    normalised: dict[str, Any] = {
        "match": match_norm,
        "when": when,
        "times": times,
        "action": {"type": action.type, **action.params},
    }
    if "description" in data:
        normalised["description"] = data["description"]
    rng = random.Random(when["seed"]) if "probability" in when else None
    return FaultRule(
        id=rule_id or "",  # the engine names unnamed rules (rule-1, rule-2, ... per app)
        match=match,
        action=action,
        when=when,
        times=times,
        source_data=normalised,
        _rng=rng,
    )


def parse_rules(data: Any, where: str = "faults") -> list[FaultRule]:
    """Validate a list of rules, naming each by index (``faults[2].action.status``)."""
    if not isinstance(data, list):
        raise FaultRuleError(where, "must be a list of rules")
    rules = [parse_rule(item, f"{where}[{i}]") for i, item in enumerate(data)]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if not rule.id:
            continue
        if rule.id in seen:
            raise FaultRuleError(f"{where}[{i}].id", f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    return rules
