"""HTTP answer faults: a status instead of the real answer, header changes, broken pages.

``status`` answers before the handler (or after it with ``run_handler``, so the change is
applied and its answer lost); ``headers``, ``malformed_json``, ``wrong_version``,
``empty_array`` and ``out_of_order`` rewrite the real response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Response

from .model import FaultRule
from .params import (
    BODY,
    BOOLEAN,
    NONEMPTY_STRING,
    PERMUTATION,
    STRING,
    STRING_LIST,
    STRING_MAP,
    flag_integer,
    flag_value,
    integer,
)
from .registry import ActionKind, FaultContext, Flag, register

logger = logging.getLogger(__name__)

HTML = "text/html;charset=utf-8"

# The bodies the real server sends with these statuses (errors transcript); others are empty.
DEFAULT_BODIES: dict[int, tuple[str, str]] = {
    401: ("Not authenticated", "text/plain"),
    500: ("Unknown client", HTML),
}


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def status_response(params: Mapping[str, Any]) -> Response:
    """A response with the rule's status, body, content type and headers."""
    status: int = params["status"]
    default_body, default_type = DEFAULT_BODIES.get(status, ("", HTML))
    body = params.get("body", default_body)
    if isinstance(body, str):
        data = body.encode("utf-8")
        content_type = params.get("content_type", HTML if "body" in params else default_type)
    else:
        data = compact_json(body)
        content_type = params.get("content_type", "application/json")
    response = Response(data, status, content_type=content_type)
    for name, value in params.get("headers", {}).items():
        response.headers[name] = value
    return response


def _status_before(ctx: FaultContext, rule: FaultRule) -> Response | None:
    return None if rule.action.get("run_handler", False) else status_response(rule.action.params)


def _status_after(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    return status_response(rule.action.params) if rule.action.get("run_handler", False) else response


register(
    ActionKind(
        "status",
        "Answer with this status (and body, content type, headers) instead of running the handler, "
        "or after running it (run_handler: the change is applied, its answer lost).",
        params={
            "status": integer(100, 599),
            "body": BODY,
            "content_type": NONEMPTY_STRING,
            "headers": STRING_MAP,
            "run_handler": BOOLEAN,
        },
        required=("status",),
        before=_status_before,
        after=_status_after,
    )
)


def _headers(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    for name in rule.action.get("remove", []):
        del response.headers[name]
    for name, value in rule.action.get("set", {}).items():
        response.headers[name] = value
    return response


register(
    ActionKind(
        "headers",
        "Override (set) or drop (remove) headers of the real response.",
        params={"set": STRING_MAP, "remove": STRING_LIST},
        after=_headers,
    )
)


def _malformed(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    data = response.get_data()
    response.set_data(rule.action.get("body") or (data[:-1] if len(data) > 1 else b"{"))
    return response


register(
    ActionKind(
        "malformed_json",
        "Replace the answer by this body (default: the real one without its last byte).",
        params={"body": STRING},
        after=_malformed,
        flags=(
            Flag("malformed-json", {"type": "malformed_json"}, flag_value("body"), "malformed-json[=BODY]"),
        ),
    )
)


def _empty_array(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    response.set_data(b"[]")
    response.content_type = "application/json"
    return response


register(
    ActionKind(
        "empty_array",
        "Answer the JSON array [] instead of the page.",
        after=_empty_array,
        flags=(Flag("empty-array", {"type": "empty_array"}),),
    )
)


def _page_arrays(rule: FaultRule, response: Response) -> tuple[Any, list[list[Any]]] | None:
    """The JSON page and its arrays (a search answer is an array of per-source arrays)."""
    try:
        page = json.loads(response.get_data())
    except ValueError:
        logger.warning("rule %s: %s needs a JSON response; left unchanged", rule.id, rule.action.type)
        return None
    if not isinstance(page, list):
        return None
    return page, page if page and all(isinstance(p, list) for p in page) else [page]


def _wrong_version(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    found = _page_arrays(rule, response)
    if found is not None:
        page, arrays = found
        for array in arrays:
            if array and isinstance(array[0], dict) and "version" in array[0]:
                array[0] = {"version": rule.action.get("version", 2)}
        response.set_data(compact_json(page))
    return response


register(
    ActionKind(
        "wrong_version",
        "Put this protocol version (default 2) in the page's version element.",
        params={"version": integer(0)},
        after=_wrong_version,
        flags=(
            Flag(
                "wrong-version",
                {"type": "wrong_version"},
                flag_value("version", flag_integer, "wrong_version version"),
                "wrong-version[=N]",
            ),
        ),
    )
)


def _out_of_order(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    found = _page_arrays(rule, response)
    if found is not None:
        page, arrays = found
        for array in arrays:
            order: list[int] = rule.action.get("order") or list(range(len(array)))[::-1]
            picked = [array[i] for i in order if i < len(array)]
            rest = [item for i, item in enumerate(array) if i not in order]
            array[:] = picked + rest
        response.set_data(compact_json(page))
    return response


register(
    ActionKind(
        "out_of_order",
        "Reorder the page's elements by this permutation (default: reversed).",
        params={"order": PERMUTATION},
        after=_out_of_order,
        flags=(Flag("out-of-order", {"type": "out_of_order"}),),
    )
)
