"""The registry of fault actions: each action type registers itself once, with everything it is.

An ``ActionKind`` holds an action's name, its parameters (``Param``: check plus JSON schema),
the rules between parameters, its ``--fail`` words and its behaviour at the three points of the
request pipeline where an action can act:

* ``before``: before the handler. It may answer instead of the handler (return a response) or
  prepare the state so that the handler produces the failure itself.
* ``after``: on the real response (rewrite it, or change the backend between pages).
* ``wire``: on the delivery plan the pipeline follows when it writes the answer to the socket
  (delay, trickle, reset, truncate).

Each action family lives in its own module (``http``, ``adapter``, ``bulk``, ``network``,
``session``) and calls ``register`` at import; validation, the admin API's schemas and the
``--fail`` parser all read ``ACTIONS``, so adding an action touches only its family module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Response

from ..request_info import RequestInfo
from ..state import MockState
from .model import Action, FaultRule
from .params import FaultRuleError, Param, check_keys, join

_MISSING = object()

#: How an answer ends on the wire when a network action says so.
Ending = Literal["reset_before_headers", "reset_after_headers", "truncated", "trickled"]


@dataclass
class FaultContext:
    """What an action sees of the request it acts on."""

    state: MockState
    rc: RequestInfo
    #: Seconds slept before the handler (``delay`` with ``before_handler``), for the journal.
    delay_before: float = 0.0


@dataclass
class Delivery:
    """How the answer goes out on the wire; ``wire`` behaviours fill it in, rule by rule.

    The first rule that sets an ``ending`` decides it; delays add up.
    """

    delay: float = 0.0
    ending: Ending | None = None
    #: Body bytes sent before a truncation (``None``: half the body).
    keep: int | None = None
    chunk_size: int = 64
    interval: float = 0.05

    def end(self, ending: Ending) -> bool:
        """Claim the ending for this rule; ``False`` if an earlier rule already decided it."""
        if self.ending is not None:
            return False
        self.ending = ending
        return True


BeforeHandler = Callable[[FaultContext, FaultRule], Response | None]
AfterHandler = Callable[[FaultContext, FaultRule, Response], Response]
OnWire = Callable[[Delivery, FaultRule], None]


@dataclass(frozen=True)
class Flag:
    """A ``--fail`` action word: the action it stands for, and what its ``=VALUE`` part sets.

    ``value`` gets the text after ``=`` (``None`` when there is none) and returns the parameters
    it means; a word without ``value`` takes no value.
    """

    word: str
    base: Mapping[str, Any]
    value: Callable[[str | None], dict[str, Any]] | None = None
    usage: str = ""


@dataclass(frozen=True)
class ActionKind:
    """One action type: its parameters, checks, ``--fail`` words and behaviour."""

    name: str
    summary: str
    params: Mapping[str, Param] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    #: Rules between parameters that single-parameter checks cannot see.
    check: Callable[[Mapping[str, Any], str], None] | None = None
    before: BeforeHandler | None = None
    after: AfterHandler | None = None
    wire: OnWire | None = None
    flags: tuple[Flag, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON schema of this action (published in the admin OpenAPI document)."""
        properties: dict[str, Any] = {"type": {"type": "string", "enum": [self.name]}}
        properties.update({name: dict(param.schema) for name, param in self.params.items()})
        return {
            "type": "object",
            "description": self.summary,
            "required": ["type", *self.required],
            "additionalProperties": False,
            "properties": properties,
        }


ACTIONS: dict[str, ActionKind] = {}


def register(kind: ActionKind) -> ActionKind:
    """Add an action type (its name must be new)."""
    if kind.name in ACTIONS:
        raise ValueError(f"fault action {kind.name!r} is registered twice")
    ACTIONS[kind.name] = kind
    return kind


def action_types() -> tuple[str, ...]:
    """Every registered action type, sorted."""
    return tuple(sorted(ACTIONS))


def flag_words() -> dict[str, Flag]:
    """Every ``--fail`` action word of every registered action."""
    return {flag.word: flag for kind in ACTIONS.values() for flag in kind.flags}


def parse_action(data: Any, where: str) -> Action:
    """Validate an action table against its registered kind."""
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, "must be a table with a type")
    name = data.get("type", _MISSING)
    if name is _MISSING:
        raise FaultRuleError(join(where, "type"), "is required; one of " + ", ".join(action_types()))
    kind = ACTIONS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise FaultRuleError(join(where, "type"), "must be one of " + ", ".join(action_types()))
    check_keys(data, ["type", *kind.params], where)
    params = {key: kind.params[key](value, join(where, key)) for key, value in data.items() if key != "type"}
    for key in kind.required:
        if key not in params:
            raise FaultRuleError(join(where, key), f"is required for {kind.name}")
    if kind.check is not None:
        kind.check(params, where)
    return Action(kind.name, params)
