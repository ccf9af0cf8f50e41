"""The control service: every test-control operation on a mock app, implemented once.

Reset; data (records, generated seed, backend changes, schema version); users; fault rules
(add, list, get, pause, remove, clear, adapter failures, the action schemas); the journal (read
with filters, clear, unexpected errors, a client's page timeline); poll-cache expiry; clients and
their pending pages; the one-snapshot overview and the record browser the dashboard shows. The
admin API translates HTTP to these calls, ``MockServer`` is a ``ControlService`` over its own app,
and the pytest plugin uses that, so a rule given as ``server.fail("query", status=500, times=1)``
is the same rule as the flag ``query:500:once``, a scenario-file entry or a ``POST /_mock/faults``.

A refused request raises ``ControlError`` naming the field at fault, with the HTTP status the
admin API answers (400 for bad input, 404 for something that does not exist).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import RhoconnectMockError
from .faults import ACTIONS, MATCHABLE_OPERATIONS, FaultEngine, FaultRuleError, action_types, parse_fail_flag
from .faults.model import FAMILIES
from .faults.registry import flag_words
from .faults.rules import MATCH_KEYS, WHEN_KEYS
from .journal import Entries, Journal, JournalEntry
from .state import MockState

EXTENSION = "rhoconnect_mock.control"
#: Largest generated dataset through the control API (larger ones belong in the start-up config).
MAX_SEED = 1_000_000
#: Bounds of the timeline (a looping client can fill the whole journal) and of the record browser.
DEFAULT_TIMELINE = 500
MAX_TIMELINE = 10_000
MAX_BROWSE = 1000
#: A page's record counts as the protocol writes them (``{"count":N}``, ``{"total_count":N}``).
_PAGE_COUNT = re.compile(r'\{"count":(\d+)\}')
_PAGE_TOTAL = re.compile(r'\{"total_count":(\d+)\}')
#: Answers the client received whole, so the counts in the body reached it.
_WHOLE = ("complete", "trickled")


class ControlError(RhoconnectMockError, ValueError):
    """A control request refused: ``field`` names the culprit, ``status`` is 400 or 404."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        self.field = field
        self.message = message
        self.status = status
        super().__init__(f"{field}: {message}")


def action_from(name: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """An action dict from a canonical type (``"reset"``) or a ``--fail`` word (``"query-error"``).

    With no name, ``status=...`` means a ``status`` action. A word that needs a value (``delay``)
    gets it from ``params`` instead.
    """
    if name is None:
        if "status" not in params:
            raise FaultRuleError("action", "give an action name or status=...")
        name = "status"
    if name in action_types():
        return {"type": name, **params}
    flag = flag_words().get(name)
    if flag is None:
        raise FaultRuleError("action", f"unknown action {name!r}")
    return {**flag.base, **params}


def records_from(value: Any, field: str) -> dict[str, dict[str, str]]:
    """Records given as ``{id: {attribute: value}}`` (strings or numbers), as strings."""
    if not isinstance(value, Mapping):
        raise ControlError(field, "must be an object of object id -> attributes")
    out: dict[str, dict[str, str]] = {}
    for oid, attrs in value.items():
        if not isinstance(attrs, Mapping):
            raise ControlError(f"{field}.{oid}", "must be an object of attribute -> value")
        for name, item in attrs.items():
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise ControlError(f"{field}.{oid}.{name}", "must be a string or number")
        out[str(oid)] = {str(k): str(v) for k, v in attrs.items()}
    return out


class ControlService:
    """Test control over one app's state, fault engine and journal."""

    def __init__(self, state: MockState, engine: FaultEngine, journal: Journal) -> None:
        self.state = state
        self.faults_engine = engine
        self.request_journal = journal

    # -- reset -------------------------------------------------------------------------------------

    def reset(self, *, data: bool = True, faults: bool = True, journal: bool = True) -> None:
        """Fresh state: data as configured and no clients; start-up rules back; empty journal."""
        if data:
            self.state.reset()
        if faults:
            self.faults_engine.reset()
        if journal:
            self.request_journal.clear()

    # -- fault rules -------------------------------------------------------------------------------

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

    def add_faults(self, rules: Any) -> list[dict[str, Any]]:
        """Add a list of rules, all or none; returns them as ``faults()`` lists them."""
        return [rule.describe() for rule in self.faults_engine.add_many(rules, "faults")]

    def faults(self) -> list[dict[str, Any]]:
        """Every rule with its counters (``hits``, ``fired``, ``exhausted``)."""
        return self.faults_engine.describe()

    def fault(self, rule_id: str) -> dict[str, Any]:
        """One rule with its counters (``ControlError`` 404 if there is none with that id)."""
        rule = self.faults_engine.get(rule_id)
        if rule is None:
            raise ControlError("id", f"no fault rule {rule_id!r}", 404)
        return rule.describe()

    def pause_fault(self, rule_id: str, paused: bool = True) -> dict[str, Any]:
        """Pause (or resume, ``paused=False``) a rule: a paused rule neither counts nor fires."""
        if not isinstance(paused, bool):
            raise ControlError("paused", "must be true or false")
        rule = self.faults_engine.set_paused(rule_id, paused)
        if rule is None:
            raise ControlError("id", f"no fault rule {rule_id!r}", 404)
        return rule.describe()

    def fault_actions(self) -> dict[str, Any]:
        """What a rule can say: operations, match and occurrence keys, each action's parameters.

        The parameters are JSON Schema fragments from the action registry (the dashboard builds
        its rule form from them).
        """
        return {
            "operations": list(MATCHABLE_OPERATIONS),
            "families": list(FAMILIES),
            "match_keys": list(MATCH_KEYS),
            "when_keys": list(WHEN_KEYS),
            "actions": {
                name: {
                    "required": list(ACTIONS[name].required),
                    "params": {key: dict(param.schema) for key, param in ACTIONS[name].params.items()},
                }
                for name in action_types()
            },
        }

    def remove_fault(self, rule_id: str) -> bool:
        """Remove one rule; ``False`` if there was none with that id."""
        return self.faults_engine.remove(rule_id)

    def clear_faults(self) -> int:
        """Remove every rule and disarm any adapter failure they armed; returns how many went."""
        count = len(self.faults_engine.rules)
        self.faults_engine.clear()
        self.state.clear_adapter_failures()
        return count

    def clear_adapter_failures(self) -> None:
        """Every simulated adapter works again."""
        self.state.clear_adapter_failures()

    # -- journal and errors ------------------------------------------------------------------------

    def journal(self, since: int | None = None, limit: int | None = None, **filters: Any) -> Entries:
        """Recorded protocol requests, oldest first, filtered by field values."""
        return self.request_journal.entries(since=since, limit=limit, **filters)

    def journal_summary(self) -> dict[str, Any]:
        """Size, count, dropped entries, last sequence number and error count of the journal."""
        return self.request_journal.summary()

    def timeline(self, client_id: str, limit: int = DEFAULT_TIMELINE) -> dict[str, Any]:
        """A client's newest page requests (queries and searches), oldest first, from the journal.

        Each page: when, which source, the status and how the answer ended (``outcome``,
        ``bytes_sent``, ``delay_ms``), records in it (``count``, only for a page the client
        received whole), ``total_count``, the tokens, the latency and the faults that fired.
        ``total`` says how many pages the journal holds for the client.
        """
        if not isinstance(client_id, str) or not client_id:
            raise ControlError("client_id", "is required")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TIMELINE:
            raise ControlError("limit", f"must be an integer between 1 and {MAX_TIMELINE}")
        pages = [
            e for e in self.request_journal.entries(client_id=client_id) if e.operation in ("query", "search")
        ]
        return {"client_id": client_id, "total": len(pages), "pages": [_page(e) for e in pages[-limit:]]}

    def clear_journal(self) -> None:
        self.request_journal.clear(errors=False)

    def mock_errors(self) -> list[dict[str, Any]]:
        """Unexpected exceptions the mock raised while handling requests (should be empty)."""
        return self.request_journal.errors()

    def clear_errors(self) -> None:
        self.request_journal.clear_errors()

    # -- data --------------------------------------------------------------------------------------

    def source(self, name: str) -> str:
        """``name`` if it is a configured source (``ControlError`` 404 otherwise)."""
        if name not in self.state.sources:
            raise ControlError("source", f"unknown source {name!r}", 404)
        return name

    def sources(self) -> list[dict[str, Any]]:
        """Every source with its partition, priority, attributes and schema."""
        return [
            {
                "name": s.name,
                "partition": s.partition,
                "priority": s.priority,
                "attributes": list(s.attributes),
                "schema": s.schema,
            }
            for s in self.state.sources.values()
        ]

    def users(self) -> list[str] | None:
        """The configured users (``None``: any non-empty login and password is accepted)."""
        users = self.state.config.users
        return None if users is None else sorted(users)

    def records(self, source: str, user: str | None) -> dict[str, dict[str, str]]:
        """A copy of a source's records for a user (as the backend holds them now)."""
        return {oid: dict(attrs) for oid, attrs in self.state.records(self.source(source), user).items()}

    def browse(
        self, source: str, user: str | None, q: str = "", offset: int = 0, limit: int = 50
    ) -> dict[str, Any]:
        """A window of a source's records for a user, only those whose id or a value contains ``q``
        (case-insensitive) if given; records keep the master document's order."""
        for name, value, top in (("offset", offset, None), ("limit", limit, MAX_BROWSE)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (top and value > top):
                raise ControlError(name, "must be a non-negative integer" + (f" up to {top}" if top else ""))
        records = self.state.records(self.source(source), user)
        needle = q.casefold()
        matched = [
            (oid, attrs)
            for oid, attrs in records.items()
            if not needle
            or needle in oid.casefold()
            or any(needle in str(v).casefold() for v in attrs.values())
        ]
        return {
            "source": source,
            "user": user,
            "total": len(records),
            "matched": len(matched),
            "offset": offset,
            "records": [
                {"id": oid, "attributes": dict(attrs)} for oid, attrs in matched[offset : offset + limit]
            ],
        }

    def set_records(self, source: str, user: str | None, records: Any) -> int:
        """Make a source's records for a user exactly ``records``; returns their count."""
        checked = records_from(records, "records")
        self.state.set_records(self.source(source), user, checked)
        return len(checked)

    def seed_records(self, source: str, user: str | None, count: Any, seed: Any = None) -> int:
        """Replace the records by ``count`` generated ones (repeatable with ``seed``)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SEED:
            raise ControlError("count", f"must be an integer between 0 and {MAX_SEED}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError("seed", "must be an integer")
        self.state.seed_records(self.source(source), user, count, seed)
        return len(self.state.records(source, user))

    def push_changes(
        self,
        source: str,
        user: str | None,
        *,
        insert: Mapping[str, Mapping[str, Any]] | None = None,
        update: Mapping[str, Mapping[str, Any]] | None = None,
        delete: Sequence[str] = (),
    ) -> dict[str, int]:
        """Backend changes (as another system would make them) that every client gets next."""
        inserts = records_from(insert or {}, "insert")
        updates = records_from(update or {}, "update")
        if isinstance(delete, str) or not all(isinstance(d, str) for d in delete):
            raise ControlError("delete", "must be a list of object ids")
        self.source(source)
        for oid, attrs in inserts.items():
            self.state.backend_insert(source, user, oid, attrs)
        for oid, attrs in updates.items():
            self.state.backend_update(source, user, oid, attrs)
        deleted = sum(1 for oid in delete if self.state.backend_delete(source, user, oid))
        return {"inserted": len(inserts), "updated": len(updates), "deleted": deleted}

    def bump_schema_version(self, source: str, version: str | None = None) -> str:
        """Change a fixed-schema source's version (to ``version``, or bumped by one)."""
        if version is not None and not isinstance(version, str):
            raise ControlError("version", "must be a string")
        self.source(source)
        try:
            return self.state.bump_schema_version(source, version)
        except ValueError as exc:
            raise ControlError("source", str(exc)) from None

    def expire_poll_interval(self, source: str | None = None) -> None:
        """Let the poll interval run out now (for ``source``, or every source)."""
        self.state.expire_poll_interval(None if source is None else self.source(source))

    # -- clients -----------------------------------------------------------------------------------

    def clients(self) -> list[dict[str, Any]]:
        """Every client with its user and per-source paging position."""
        return self.state.clients()

    def client_source(self, client_id: str, source: str) -> dict[str, Any]:
        """A client's view of a source: its pending page and its materialised document."""
        if not any(c["id"] == client_id for c in self.state.clients()):
            raise ControlError("client_id", f"unknown client {client_id!r}", 404)
        self.source(source)
        return {
            "client_id": client_id,
            "source": source,
            "pending_page": self.state.pending_page(client_id, source),
            "document": self.state.client_document(client_id, source),
        }

    # -- the overview --------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """One snapshot of the mock: sources, users, clients' paging positions, bulk jobs, rules."""
        state = self.state
        with state.lock:
            sources = [
                {
                    "name": spec.name,
                    "partition": spec.partition,
                    "priority": spec.priority,
                    "poll_interval": spec.poll_interval,
                    "records": state.loaded_count(spec.name),
                    "attributes": list(spec.attributes),
                }
                for spec in state.sources.values()
            ]
            clients = [self._paging(client) for client in state.clients()]
            bulk_jobs = state.bulk_jobs()
        configured = state.config.users
        names = dict.fromkeys(sorted(configured or ()))
        names.update((c["user"], None) for c in clients if c["user"] not in names)
        users = [
            {
                "name": name,
                "configured": name in (configured or {}),
                "clients": sum(1 for c in clients if c["user"] == name),
            }
            for name in names
        ]
        return {
            "sources": sources,
            "users": users,
            "any_login": configured is None,
            "clients": clients,
            "bulk_jobs": bulk_jobs,
            "faults": self.faults(),
            "journal": self.journal_summary(),
        }

    def _paging(self, client: Mapping[str, Any]) -> dict[str, Any]:
        """A client and, per source, where it stands in the paging."""
        paging = {}
        for source, position in client["sources"].items():
            pending = self.state.pending_page(client["id"], source)
            paging[source] = {
                "acknowledged": position["cursor"],
                "pending_token": position["pending_token"],
                "pending_count": pending["count"] if pending else None,
                "pending_kind": pending["kind"] if pending else None,
                "queued": position["queued"],
            }
        device = {k: v for k, v in client.items() if k not in ("id", "user", "sources")}
        return {"id": client["id"], "user": client["user"], "device": device, "sources": paging}


def _page(entry: JournalEntry) -> dict[str, Any]:
    """One page request as the timeline shows it; the counts are read from the body received."""
    whole = entry.status == 200 and entry.outcome in _WHOLE
    body = entry.response_body or ""
    count = _PAGE_COUNT.search(body) if whole else None
    total = _PAGE_TOTAL.search(body) if whole else None
    return {
        "seq": entry.seq,
        "time": entry.time,
        "operation": entry.operation,
        "source": entry.source,
        "status": entry.status,
        "outcome": entry.outcome,
        "bytes_sent": entry.bytes_sent,
        "delay_ms": entry.delay_ms,
        "count": int(count.group(1)) if count else None,
        "total_count": int(total.group(1)) if total else None,
        "token_sent": entry.token_sent,
        "token_issued": entry.token_issued,
        "duration_ms": entry.duration_ms,
        "faults": list(entry.faults),
        "actions": list(entry.actions),
    }
