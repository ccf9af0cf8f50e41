"""Every exchange recorded from RhoConnect 7.8 is described by specs/rhoconnect.openapi.yaml.

For each recorded request: the operation exists, the recorded status is declared, the
recorded Content-Type is one of the declared media types byte for byte, every required
response header is there and matches its schema, and the body (JSON or text) validates
against the declared schema. JSON request bodies are checked against the request schemas.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .openapi_doc import find_operation, resolve, schema_errors
from .transcripts import Exchange, RecordingMissing, all_exchanges

try:
    EXCHANGES = all_exchanges()
    MISSING = ""
except RecordingMissing as exc:  # reported by every test below as a failure, never a skip
    EXCHANGES, MISSING = [], str(exc)

# Recorded exchanges the spec does not describe, with the reason (none at present).
NOT_PROTOCOL: dict[str, str] = {}


def _exchange_params() -> list[Any]:
    if MISSING:
        return [pytest.param(None, id="recordings-missing")]
    return [
        pytest.param(
            ex,
            id=ex.id,
            marks=[pytest.mark.skip(reason=NOT_PROTOCOL[ex.id])] if ex.id in NOT_PROTOCOL else [],
        )
        for ex in EXCHANGES
    ]


def test_both_recordings_were_read() -> None:
    assert not MISSING, MISSING
    # 28 + 90: the errors recording's two bulk file listings are not exchanges.
    assert len([e for e in EXCHANGES if e.recording == "main"]) == 28
    assert len([e for e in EXCHANGES if e.recording == "errors"]) == 90


@pytest.mark.parametrize("exchange", _exchange_params())
def test_recorded_exchange_conforms(exchange: Exchange | None) -> None:
    if exchange is None:
        pytest.fail(MISSING)
    operation = find_operation(exchange.method, exchange.path)
    assert operation is not None, f"{exchange.method} {exchange.path} is not in the spec"
    response = operation.response(exchange.status)
    assert response is not None, f"{operation.operation_id}: status {exchange.status} not declared"

    content = response.get("content", {})
    content_type = exchange.content_type
    assert content_type in content, (
        f"{operation.operation_id} {exchange.status}: Content-Type {content_type!r} not among {list(content)}"
    )

    for name, header in response.get("headers", {}).items():
        header = resolve(header)
        value = exchange.response_headers.get(name.lower())
        if value is None:
            assert not header.get("required"), f"required header {name} missing"
            continue
        assert not schema_errors(header["schema"], value), f"header {name}: {value!r}"

    if exchange.binary:
        return
    schema = content[content_type]["schema"]
    body: Any = json.loads(exchange.body) if content_type == "application/json" else exchange.body
    assert schema_errors(schema, body) == []


@pytest.mark.parametrize(
    "exchange",
    [p for p in _exchange_params() if p.values[0] is None or p.values[0].request_body],
)
def test_recorded_json_request_bodies_conform(exchange: Exchange | None) -> None:
    if exchange is None:
        pytest.fail(MISSING)
    operation = find_operation(exchange.method, exchange.path)
    assert operation is not None
    body = resolve(operation.node.get("requestBody", {}))
    content_type = exchange.request_headers.get("content-type", "")
    assert content_type in body.get("content", {}), f"request Content-Type {content_type!r} not declared"
    if content_type == "application/json":
        assert schema_errors(body["content"][content_type]["schema"], json.loads(exchange.request_body)) == []
