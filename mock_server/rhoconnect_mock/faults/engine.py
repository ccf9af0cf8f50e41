"""The fault engine: the live rules of one app, and what the fired ones do to a request.

The request pipeline asks the engine, in order: which rules fire on this request (``fire``),
what they do before the handler (``before``), to the real response (``after``) and on the wire
(``plan``). Each action's behaviour comes from its registered ``ActionKind``.

With no rules installed the pipeline's check is one attribute read, so the engine costs nothing
measurable on the benchmark (see ``benchmarks/faults_overhead.py``). Admin requests
(operation ``admin``) are never faulted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, Response

from ..request_info import RequestInfo
from .model import FaultRule
from .params import FaultRuleError
from .registry import ACTIONS, Delivery, FaultContext
from .rules import parse_rule, parse_rules

logger = logging.getLogger(__name__)

EXTENSION = "rhoconnect_mock.faults"


class FaultEngine:
    """The live rule set of one app: add, list, remove and clear rules; match requests.

    ``rules`` is replaced, never mutated, so the request path reads it without a lock; the
    per-rule counters have their own lock (``FaultRule.consider``).
    """

    def __init__(self, baseline: Sequence[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        self.rules: tuple[FaultRule, ...] = ()
        # Rules given at start-up (scenario file, --fail): ``reset()`` brings them back fresh.
        self._baseline = [dict(r) for r in baseline]
        self.reset()

    def reset(self) -> None:
        """Back to the start-up rules, with their counters at zero (and ids numbered afresh)."""
        rules = parse_rules(self._baseline) if self._baseline else []
        with self._lock:
            self._next_id = 1
            self._name(rules, set())
            self.rules = tuple(rules)

    def _name(self, rules: Sequence[FaultRule], existing: set[str]) -> None:
        # Unnamed rules are numbered per app (rule-1, rule-2...), skipping ids already taken, so
        # ids are predictable in tests. The caller holds the lock.
        taken = existing | {r.id for r in rules if r.id}
        for rule in rules:
            while not rule.id:
                candidate = f"rule-{self._next_id}"
                self._next_id += 1
                if candidate not in taken:
                    rule.id = candidate
                    taken.add(candidate)

    def add(self, data: Mapping[str, Any] | FaultRule, where: str = "") -> FaultRule:
        """Validate and add one rule; ``FaultRuleError`` names the bad field or a duplicate id."""
        rule = data if isinstance(data, FaultRule) else parse_rule(data, where)
        with self._lock:
            if rule.id and any(r.id == rule.id for r in self.rules):
                raise FaultRuleError(f"{where}.id" if where else "id", f"a rule with id {rule.id!r} exists")
            self._name([rule], {r.id for r in self.rules})
            self.rules = (*self.rules, rule)
        logger.info("fault rule %s added: %s", rule.id, rule.source_data)
        return rule

    def add_many(self, items: Any, where: str = "faults") -> list[FaultRule]:
        """Validate every rule first (``items`` must be a list), then add them all, or none."""
        rules = parse_rules(items, where)
        with self._lock:
            taken = {r.id for r in self.rules}
            for i, rule in enumerate(rules):
                if rule.id in taken:
                    raise FaultRuleError(f"{where}[{i}].id", f"a rule with id {rule.id!r} exists")
            self._name(rules, taken)
            self.rules = (*self.rules, *rules)
        return rules

    def get(self, rule_id: str) -> FaultRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def set_paused(self, rule_id: str, paused: bool) -> FaultRule | None:
        """Pause or resume one rule (``None`` if there is none with that id)."""
        rule = self.get(rule_id)
        if rule is not None:
            rule.paused = paused
            logger.info("fault rule %s %s", rule_id, "paused" if paused else "resumed")
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; ``False`` if there was none with that id."""
        with self._lock:
            kept = tuple(r for r in self.rules if r.id != rule_id)
            found = len(kept) != len(self.rules)
            self.rules = kept
        return found

    def clear(self) -> None:
        """Remove every rule (including the start-up ones, until ``reset``)."""
        with self._lock:
            self.rules = ()

    def describe(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.rules]

    def fire(self, rc: RequestInfo, login: str | None = None) -> list[FaultRule]:
        """The rules that fire on this request, in the order they were added."""
        return [rule for rule in self.rules if rule.consider(rc, login)]

    # -- what fired rules do, at each point of the request pipeline ------------------------------

    @staticmethod
    def before(ctx: FaultContext, fired: Sequence[FaultRule]) -> Response | None:
        """Run the before-handler behaviours; the first answer given replaces the handler's."""
        answer: Response | None = None
        for rule in fired:
            behaviour = ACTIONS[rule.action.type].before
            if behaviour is not None:
                given = behaviour(ctx, rule)
                answer = answer or given
        return answer

    @staticmethod
    def after(ctx: FaultContext, fired: Sequence[FaultRule], response: Response) -> Response:
        """Run the response-rewriting behaviours in rule order."""
        for rule in fired:
            behaviour = ACTIONS[rule.action.type].after
            if behaviour is not None:
                response = behaviour(ctx, rule, response)
        return response

    @staticmethod
    def plan(fired: Sequence[FaultRule]) -> Delivery | None:
        """The delivery plan of the network behaviours (``None``: deliver normally)."""
        on_wire = [rule for rule in fired if ACTIONS[rule.action.type].wire is not None]
        if not on_wire:
            return None
        plan = Delivery()
        for rule in on_wire:
            wire = ACTIONS[rule.action.type].wire
            assert wire is not None
            wire(plan, rule)
        return plan


def engine_of(app: Flask) -> FaultEngine:
    """The fault engine of ``app``."""
    engine: FaultEngine = app.extensions[EXTENSION]
    return engine
