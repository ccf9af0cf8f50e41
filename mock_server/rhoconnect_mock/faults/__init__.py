"""Fault rules: rules that match protocol requests and act on them, and the actions they can take.

``rules`` parses rule data from any channel, ``model`` holds the rules and their counters,
``engine`` keeps one app's live rules and runs what fired ones do, ``registry`` lists the action
types, which the family modules (``http``, ``adapter``, ``bulk``, ``network``, ``session``)
register when this package is imported, and ``flags`` reads the ``--fail`` shorthand.
"""

from __future__ import annotations

from . import adapter, bulk, http, network, session
from .engine import EXTENSION, FaultEngine, engine_of
from .flags import parse_fail_flag
from .model import MATCHABLE_OPERATIONS, FaultRule
from .params import FaultRuleError
from .registry import ACTIONS, ActionKind, Delivery, FaultContext, action_types, register
from .rules import parse_rule, parse_rules

__all__ = [
    "ACTIONS",
    "EXTENSION",
    "MATCHABLE_OPERATIONS",
    "ActionKind",
    "Delivery",
    "FaultContext",
    "FaultEngine",
    "FaultRule",
    "FaultRuleError",
    "action_types",
    "adapter",
    "bulk",
    "engine_of",
    "http",
    "network",
    "parse_fail_flag",
    "parse_rule",
    "parse_rules",
    "register",
    "session",
]
