"""Backend faults: the simulated adapter raises, the schema changes, the backend changes.

These act on the state, not on the answer, so the failures reach the client through the
protocol layer's own pages and error shapes, byte for byte: ``adapter_error`` arms the simulated
adapter before the handler, ``schema_changed`` bumps a fixed schema's version before it, and
``backend_change`` changes the backend after the handler (between two pages).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Response

from .model import FaultRule
from .params import (
    NONEMPTY_STRING,
    RECORDS,
    STRING,
    STRING_LIST,
    FaultRuleError,
    choice,
    flag_value,
    integer,
    join,
)
from .registry import ActionKind, FaultContext, Flag, register

logger = logging.getLogger(__name__)

ADAPTER_STAGES = ("login", "query", "logoff", "create", "update", "delete", "search")
OBJECT_STAGES = ("create", "update", "delete")


def _arm_adapter(ctx: FaultContext, rule: FaultRule) -> None:
    action = rule.action
    stage: str = action.get("stage")
    # The source the rule names (in its action, else in its match) wins over the request's: a search
    # lists several sources, and a rule matched on one of them must fail that one only.
    named = action.get("source") or rule.match.source
    rc = ctx.rc
    sources = [named] if named else ([rc.source] if rc.source else rc.sources)
    if not sources:
        logger.warning("rule %s: adapter_error needs a source (none in the request)", rule.id)
        return
    objects: list[str] | None = action.get("objects")
    count = action.get("count") or (len(objects) if objects else 1)
    message = action.get("message", f"{stage} error injected by rhoconnect-mock")
    user = rc.user or rule.match.user
    for source in sources:
        ctx.state.fail_adapter(stage, source, message, user=user, objects=objects, times=count)


def _objects_only_for_object_stages(params: Mapping[str, Any], where: str) -> None:
    if params["stage"] not in OBJECT_STAGES and "objects" in params:
        raise FaultRuleError(join(where, "objects"), "only applies to create, update and delete stages")


register(
    ActionKind(
        "adapter_error",
        "Make the simulated adapter raise at this stage, so the next page carries the real error "
        "shapes; count failures armed (default one per listed object, or 1).",
        params={
            "stage": choice(*ADAPTER_STAGES),
            "message": STRING,
            "objects": STRING_LIST,
            "count": integer(1),
            "source": NONEMPTY_STRING,
        },
        required=("stage",),
        check=_objects_only_for_object_stages,
        before=_arm_adapter,
        flags=tuple(
            Flag(
                f"{stage}-error",
                {"type": "adapter_error", "stage": stage},
                flag_value("message"),
                f"{stage}-error[=MESSAGE]",
            )
            for stage in ADAPTER_STAGES
        ),
    )
)


def _schema_changed(ctx: FaultContext, rule: FaultRule) -> None:
    source = rule.action.get("source") or ctx.rc.source
    if source is None:
        logger.warning("rule %s: schema_changed needs a source (none in the request)", rule.id)
    else:
        ctx.state.bump_schema_version(source)


register(
    ActionKind(
        "schema_changed",
        "Bump the version of a fixed-schema source (default: the request's) before the handler.",
        params={"source": NONEMPTY_STRING},
        before=_schema_changed,
        flags=(Flag("schema-changed", {"type": "schema_changed"}),),
    )
)


def _backend_change(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    action = rule.action
    source = action.get("source") or ctx.rc.source
    user = action.get("user") or ctx.rc.user or rule.match.user
    if source is None:
        logger.warning("rule %s: backend_change needs a source (none in the request)", rule.id)
        return response
    for oid, attrs in action.get("insert", {}).items():
        ctx.state.backend_insert(source, user, oid, attrs)
    for oid, attrs in action.get("update", {}).items():
        ctx.state.backend_update(source, user, oid, attrs)
    for oid in action.get("delete", []):
        ctx.state.backend_delete(source, user, oid)
    return response


def _some_change(params: Mapping[str, Any], where: str) -> None:
    if not any(k in params for k in ("insert", "update", "delete")):
        raise FaultRuleError(join(where, "insert"), "give at least one of insert, update, delete")


register(
    ActionKind(
        "backend_change",
        "After the handler, change the backend (insert/update: id -> attributes; delete: ids) "
        "of this source and user (default: the request's), as another system would between pages.",
        params={
            "insert": RECORDS,
            "update": RECORDS,
            "delete": STRING_LIST,
            "source": NONEMPTY_STRING,
            "user": NONEMPTY_STRING,
        },
        check=_some_change,
        after=_backend_change,
    )
)
