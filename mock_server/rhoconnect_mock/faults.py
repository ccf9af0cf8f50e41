"""The scenario and fault engine: rules that match a request and act on it.

``install(app)`` hangs three hooks on the app (the protocol classifier must already be
installed, because rules match on ``flask.g.rc``):

* a ``before_request`` hook that lets every live rule look at the request and collects the ones
  that fire; actions that decide the answer (a status, a bulk answer, an armed adapter failure,
  an expired session) act here, before the protocol handler;
* an ``after_request`` hook for actions that rewrite the real response (headers, page
  mutations, corrupt files, backend changes between pages);
* a WSGI middleware around ``app.wsgi_app`` for network faults (delay, trickle, reset,
  truncation), which need the raw connection that only the WSGI server has.

With no rules installed each hook is one attribute check, so the engine costs nothing
measurable on the benchmark (see ``benchmarks/faults_overhead.py``). Admin requests
(operation ``admin``) are never faulted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import flask
from flask import Flask, Response

from . import fault_actions
from .fault_rules import FaultRule, FaultRuleError, parse_rule, parse_rules

logger = logging.getLogger(__name__)

EXTENSION = "rhoconnect_mock.faults"
NETWORK_KEY = "rhoconnect_mock.network_faults"

__all__ = ["EXTENSION", "FaultEngine", "FaultRuleError", "engine_of", "install"]


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

    def fire(self, rc: Any, login: str | None = None) -> list[FaultRule]:
        """The rules that fire on this request, in the order they were added."""
        return [rule for rule in self.rules if rule.consider(rc, login)]


def engine_of(app: Flask) -> FaultEngine:
    """The fault engine installed on ``app``."""
    engine: FaultEngine = app.extensions[EXTENSION]
    return engine


def _baseline_from_config(app: Flask) -> list[dict[str, Any]]:
    state = app.extensions.get("rhoconnect_mock")
    config = getattr(state, "config", None)
    rules = getattr(config, "faults", None) or []
    return [dict(r) for r in rules]


def _login_name() -> str | None:
    """The login a login request carries (JSON or form), or ``None`` if it cannot be read."""
    from .api.common import params  # the protocol layer's own parameter parser
    from .errors import MalformedBody

    try:
        login = params().get("login")
    except MalformedBody:
        return None
    return str(login) if login is not None else None


def install(app: Flask) -> None:
    """Attach the fault engine to ``app`` (after the protocol request classifier)."""
    engine = FaultEngine(_baseline_from_config(app))
    app.extensions[EXTENSION] = engine

    def before() -> Response | None:
        if not engine.rules:
            return None
        rc = getattr(flask.g, "rc", None)
        if rc is None or rc.operation == "admin":
            return None
        fired = engine.fire(rc, _login_name() if rc.operation == "login" else None)
        if not fired:
            return None
        flask.g.rc_faults = fired
        return fault_actions.before_handler(app, rc, fired)

    def after(response: Response) -> Response:
        fired: list[FaultRule] | None = getattr(flask.g, "rc_faults", None)
        if not fired:
            return response
        response = fault_actions.after_handler(app, flask.g.rc, fired, response)
        network = [r for r in fired if r.action.type in fault_actions.NETWORK_ACTIONS]
        if network:
            flask.request.environ[NETWORK_KEY] = network
        return response

    app.before_request(before)
    # After-request hooks run in reverse order of registration; put ours early in the list so it
    # runs late (after the protocol's own header hook) but still before the journal records.
    funcs = app.after_request_funcs.setdefault(None, [])
    at = 1 if funcs and getattr(funcs[0], "_rhoconnect_journal", False) else 0
    funcs.insert(at, after)
    app.wsgi_app = NetworkFaultMiddleware(app.wsgi_app, engine)  # type: ignore[method-assign]


class NetworkFaultMiddleware:
    """Applies network faults chosen by the engine during the request to the raw connection."""

    def __init__(self, wsgi_app: Any, engine: FaultEngine) -> None:
        self.wsgi_app = wsgi_app
        self.engine = engine

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not self.engine.rules:
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return _no_write

        result: Iterable[bytes] = self.wsgi_app(environ, capture)
        network: list[FaultRule] | None = environ.get(NETWORK_KEY)
        if not network:
            start_response(captured["status"], captured["headers"])
            return result
        body = _drain(result)
        status, headers = captured["status"], captured["headers"]
        delivered: Iterable[bytes] = fault_actions.network(
            environ, start_response, status, headers, body, network
        )
        return delivered


def _no_write(data: bytes) -> None:  # pragma: no cover - Flask never uses the legacy write callable
    raise RuntimeError("write() is not supported through the fault middleware")


def _drain(result: Iterable[bytes]) -> bytes:
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
