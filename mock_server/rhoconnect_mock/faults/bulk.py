"""Bulk sync faults: a bulk data answer the client must cope with, a damaged bulk file.

``bulk`` answers a bulk data request with ``wait``, ``nop`` or an empty URL instead of the
handler; ``corrupt_file`` flips bytes of a served bulk file or cuts it short.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from .http import compact_json
from .model import FaultRule
from .params import choice, flag_integer, flag_value, integer
from .registry import ActionKind, FaultContext, Flag, register

BULK_RESULTS = ("wait", "nop", "empty_url")


def _bulk_answer(ctx: FaultContext, rule: FaultRule) -> Response:
    result = rule.action.get("result")
    payload: dict[str, Any] = {"result": "url", "url": ""} if result == "empty_url" else {"result": result}
    return Response(compact_json(payload), 200, content_type="application/json")


register(
    ActionKind(
        "bulk",
        "Answer a bulk data request with this result instead of running the handler.",
        params={"result": choice(*BULK_RESULTS)},
        required=("result",),
        before=_bulk_answer,
        flags=(
            Flag("wait", {"type": "bulk", "result": "wait"}),
            Flag("nop", {"type": "bulk", "result": "nop"}),
            Flag("empty-url", {"type": "bulk", "result": "empty_url"}),
        ),
    )
)


def _corrupt(ctx: FaultContext, rule: FaultRule, response: Response) -> Response:
    response.direct_passthrough = False  # files are streamed; we need the bytes
    data = bytearray(response.get_data())
    limit = rule.action.get("bytes")
    if rule.action.get("mode", "corrupt") == "truncate":
        data = data[: len(data) // 2 if limit is None else limit]
    else:
        start = len(data) // 3
        for i in range(start, min(len(data), start + (32 if limit is None else limit))):
            data[i] ^= 0xFF
    response.set_data(bytes(data))
    for name in ("ETag", "Content-MD5", "Accept-Ranges"):
        response.headers.pop(name, None)
    return response


_file_bytes = flag_value("bytes", flag_integer, "corrupt_file bytes")

register(
    ActionKind(
        "corrupt_file",
        "Damage a served bulk file: flip bytes (corrupt; default 32 from a third in) or cut it "
        "(truncate; default half), sent with a matching Content-Length.",
        params={"mode": choice("corrupt", "truncate"), "bytes": integer(0)},
        after=_corrupt,
        flags=(
            Flag("corrupt", {"type": "corrupt_file"}, _file_bytes, "corrupt[=BYTES]"),
            Flag(
                "truncate-file",
                {"type": "corrupt_file", "mode": "truncate"},
                _file_bytes,
                "truncate-file[=BYTES]",
            ),
        ),
    )
)
