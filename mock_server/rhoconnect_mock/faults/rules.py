"""Parsing fault rules: JSON-shaped data from any channel into a validated ``FaultRule``.

A rule is plain data (from a scenario file, a ``--fail`` flag, the admin API or Python) turned
into a ``FaultRule`` by ``parse_rule``. Every channel goes through this one function, so a rule
means the same thing wherever it came from, and a bad rule is rejected with a ``FaultRuleError``
whose message names the offending field (``faults[2].action.status: must be an integer between
100 and 599``).

Canonical shape::

    {"id": "optional-name",
     "match": {"operation": "query" | [...], "source": "Product", "user": "alice",
               "client_id": "...", "family": "classic" | "rest"},
     "when": {"nth": 2} | {"first": 3} | {"every": 2} | {"after": 1}
             | {"probability": 0.25, "seed": 7},
     "times": 1,            # lifetime: how often it may fire; null = until cleared
     "action": {"type": "status", "status": 500, ...}}

The action types and their parameters are those registered in ``registry.ACTIONS``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from .model import FAMILIES, MATCHABLE_OPERATIONS, FaultRule, Match
from .params import NONEMPTY_STRING, STRING, FaultRuleError, check_keys, choice, integer, join, number
from .registry import parse_action

WHEN_KEYS = ("nth", "first", "every", "after", "probability")
MATCH_KEYS = ("operation", "source", "user", "client_id", "family")

# -- parsing -------------------------------------------------------------------------------------


def _parse_match(data: Any, where: str) -> tuple[Match, dict[str, Any]]:
    if data is None:
        return Match(), {}
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table")
    check_keys(data, MATCH_KEYS, where)
    ops: frozenset[str] | None = None
    norm: dict[str, Any] = {}
    if "operation" in data:
        raw = data["operation"]
        names = [raw] if isinstance(raw, str) else raw
        op_where = join(where, "operation")
        if not isinstance(names, list) or not names:
            raise FaultRuleError(op_where, "must be an operation name or a list of them")
        for name in names:
            if name not in MATCHABLE_OPERATIONS:
                raise FaultRuleError(op_where, "must be one of " + ", ".join(MATCHABLE_OPERATIONS))
        ops = frozenset(names)
        norm["operation"] = raw
    strings: dict[str, str | None] = {}
    for key in ("source", "user", "client_id"):
        strings[key] = NONEMPTY_STRING(data[key], join(where, key)) if key in data else None
        if key in data:
            norm[key] = data[key]
    family = choice(*FAMILIES)(data["family"], join(where, "family")) if "family" in data else None
    if family is not None:
        norm["family"] = family
    match = Match(ops, strings["source"], strings["user"], strings["client_id"], family)
    return match, norm


def _parse_when(data: Any, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table with one of " + ", ".join(WHEN_KEYS))
    check_keys(data, [*WHEN_KEYS, "seed"], where)
    chosen = [k for k in WHEN_KEYS if k in data]
    if len(chosen) != 1:
        raise FaultRuleError(where, "must have exactly one of " + ", ".join(WHEN_KEYS))
    key = chosen[0]
    out: dict[str, Any] = {}
    if key == "probability":
        out["probability"] = number(0, 1)(data[key], join(where, key))
        out["seed"] = integer(0)(data.get("seed", 0), join(where, "seed"))
    else:
        if "seed" in data:
            raise FaultRuleError(join(where, "seed"), "only goes with probability")
        out[key] = integer(0 if key == "after" else 1)(data[key], join(where, key))
    return out


def parse_rule(data: Any, where: str = "") -> FaultRule:
    """Validate JSON-shaped ``data`` into a ``FaultRule``; ``where`` prefixes field names in errors."""
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table (a rule with match, when, times and action)")
    check_keys(data, ["id", "match", "when", "times", "action", "description"], where)
    rule_id = data.get("id")
    if rule_id is not None:
        NONEMPTY_STRING(rule_id, join(where, "id"))
    if "description" in data:
        STRING(data["description"], join(where, "description"))
    match, match_norm = _parse_match(data.get("match"), join(where, "match"))
    when = _parse_when(data.get("when"), join(where, "when"))
    times = data.get("times")
    if times is not None:
        integer(1)(times, join(where, "times"))
    if "action" not in data:
        raise FaultRuleError(join(where, "action"), "is required")
    action = parse_action(data["action"], join(where, "action"))
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
