"""Test control from Python: the fault, journal and reset helpers mixed into ``MockServer``.

These call the same engine, journal and state the admin API uses, in process, so a rule given
as ``server.fail("query", status=500, times=1)`` is the same rule as the flag
``query:500:once`` or a scenario-file entry, and behaves identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask

from .fault_rules import ACTION_PARAMS, FaultRuleError
from .faults import FaultEngine, engine_of
from .journal import Entries, Journal, journal_of
from .scenario import FLAG_ACTIONS, parse_fail_flag
from .state import state_of


def action_from(name: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """An action dict from a canonical type (``"reset"``) or a flag name (``"query-error"``).

    With no name, ``status=...`` means a ``status`` action.
    """
    if name is None:
        if "status" not in params:
            raise FaultRuleError("action", "give an action name or status=...")
        name = "status"
    if name in ACTION_PARAMS:
        return {"type": name, **params}
    if name in FLAG_ACTIONS:
        if name.endswith("-error"):
            base: dict[str, Any] = {"type": "adapter_error", "stage": name[: -len("-error")]}
        elif name in ("delay", "expire-session"):
            base = {"type": name.replace("-", "_")}
        else:
            base = FLAG_ACTIONS[name](None)
        return {**base, **params}
    raise FaultRuleError("action", f"unknown action {name!r}")


class ControlMixin:
    """Fault rules, journal, errors and reset for a server object that has an ``app``."""

    app: Flask

    @property
    def faults_engine(self) -> FaultEngine:
        return engine_of(self.app)

    @property
    def request_journal(self) -> Journal:
        return journal_of(self.app)

    @property
    def admin_url(self) -> str:
        """The admin API root, ``<base_url>/_mock/``."""
        base: str = getattr(self, "base_url")  # noqa: B009 - provided by the server class
        return base + "/_mock/"

    # -- fault rules ---------------------------------------------------------------------------

    def fail(
        self,
        operation: str | Sequence[str] | None = None,
        action: str | None = None,
        *,
        source: str | None = None,
        user: str | None = None,
        client_id: str | None = None,
        family: str | None = None,
        times: int | None = None,
        nth: int | None = None,
        first: int | None = None,
        every: int | None = None,
        after: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        rule_id: str | None = None,
        **params: Any,
    ) -> str:
        """Add a fault rule; returns its id.

        ``operation`` (or a list, or None for any) and ``source``/``user``/``client_id``/``family``
        choose the requests; ``nth``/``first``/``every``/``after``/``probability`` (+``seed``) the
        occurrence (without ``probability``, ``seed`` goes to the action, e.g. a random delay;
        for ``expire_session``, ``after`` is the session's lifetime);
        ``times`` the lifetime (None: until cleared). ``action`` is an action type or a flag
        name; the remaining keyword arguments are its parameters, e.g.
        ``fail("query", status=500, times=1)``, ``fail("cud", "create-error", objects=["t1"])``,
        ``fail("query", "reset", at="after_headers")``.
        """
        match: dict[str, Any] = {}
        if operation is not None:
            match["operation"] = operation if isinstance(operation, str) else list(operation)
        names: dict[str, Any] = {"source": source, "user": user, "client_id": client_id, "family": family}
        match.update({key: value for key, value in names.items() if value is not None})
        if action in ("expire_session", "expire-session") and after is not None:
            params = {**params, "after": after}  # the session's lifetime, not the occurrence
            after = None
        if seed is not None and probability is None:
            params = {**params, "seed": seed}  # the seed of a random delay, not of the occurrence
            seed = None
        occurrence: dict[str, Any] = {
            "nth": nth,
            "first": first,
            "every": every,
            "after": after,
            "probability": probability,
            "seed": seed,
        }
        when = {key: value for key, value in occurrence.items() if value is not None}
        rule: dict[str, Any] = {"action": action_from(action, params)}
        if match:
            rule["match"] = match
        if when:
            rule["when"] = when
        if times is not None:
            rule["times"] = times
        if rule_id is not None:
            rule["id"] = rule_id
        return self.faults_engine.add(rule).id

    def fail_flag(self, spec: str) -> str:
        """Add a rule written as a ``--fail`` flag (``"query:500:once"``); returns its id."""
        return self.faults_engine.add(parse_fail_flag(spec)).id

    def add_fault(self, rule: Mapping[str, Any]) -> str:
        """Add a rule in the canonical dict shape; returns its id."""
        return self.faults_engine.add(rule).id

    def faults(self) -> list[dict[str, Any]]:
        """Every rule with its counters (``hits``, ``fired``, ``exhausted``)."""
        return self.faults_engine.describe()

    def remove_fault(self, rule_id: str) -> bool:
        return self.faults_engine.remove(rule_id)

    def clear_faults(self) -> None:
        """Remove every rule and disarm any adapter failure they armed."""
        self.faults_engine.clear()
        state_of(self.app).clear_adapter_failures()

    # -- journal and errors ------------------------------------------------------------------------

    def journal(self, since: int | None = None, limit: int | None = None, **filters: Any) -> Entries:
        """Recorded protocol requests, oldest first, filtered by field values."""
        return self.request_journal.entries(since=since, limit=limit, **filters)

    def clear_journal(self) -> None:
        self.request_journal.clear(errors=False)

    def mock_errors(self) -> list[dict[str, Any]]:
        """Unexpected exceptions the mock raised while handling requests (should be empty)."""
        return self.request_journal.errors()

    # -- state -----------------------------------------------------------------------------------

    def reset(self, *, data: bool = True, faults: bool = True, journal: bool = True) -> None:
        """Fresh state: data as configured and no clients; start-up rules back; empty journal."""
        if data:
            state_of(self.app).reset()
        if faults:
            self.faults_engine.reset()
        if journal:
            self.request_journal.clear()

    def push_changes(
        self,
        source: str,
        user: str | None,
        *,
        insert: Mapping[str, Mapping[str, Any]] | None = None,
        update: Mapping[str, Mapping[str, Any]] | None = None,
        delete: Sequence[str] = (),
    ) -> None:
        """Backend changes (as another system would make them) that every client gets next."""
        state = state_of(self.app)
        for oid, attrs in (insert or {}).items():
            state.backend_insert(source, user, oid, attrs)
        for oid, attrs in (update or {}).items():
            state.backend_update(source, user, oid, attrs)
        for oid in delete:
            state.backend_delete(source, user, oid)
