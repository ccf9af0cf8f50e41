"""The admin API against its OpenAPI description (``specs/mock-admin.openapi.yaml``), by schemathesis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import yaml
from rhoconnect_mock import MockServer
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_faults_support import Rc

SPEC = Path(__file__).resolve().parents[3] / "specs" / "mock-admin.openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def no_server_errors(ctx: Any, response: Any, case: Any) -> bool:
    if response.status_code >= 500:
        raise AssertionError(f"{case.method} {case.formatted_path} -> {response.status_code}")
    return True


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": 5}}}) as mock:
        yield mock


@schema.parametrize()
@hypothesis.settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_admin_api_conforms_to_its_spec(case: Any, server: MockServer) -> None:
    if isinstance(case.body, dict) and isinstance(case.body.get("count"), int):
        case.body["count"] = min(case.body["count"], 1000)  # keep generated seeds small and fast
    if case.path_parameters and "source" in case.path_parameters and hash(str(case.body)) % 2:
        case.path_parameters["source"] = "Product"  # also exercise the 200 paths, not only 404s
    server.clear_faults()  # rules the fuzzer added earlier must not break this example's own traffic
    Rc(server.base_url).query(p_size=1)  # some traffic for the journal and clients endpoints
    case.call_and_validate(base_url=server.base_url, checks=[*CHECKS, no_server_errors], timeout=30)
    assert server.mock_errors() == []


def test_every_admin_route_is_documented_and_every_documented_route_exists(server: MockServer) -> None:
    documented = set()
    for path, item in yaml.safe_load(SPEC.read_text())["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete"):
                documented.add((method.upper(), path))
    served: set[tuple[str, str]] = set()
    for rule in server.app.url_map.iter_rules():
        if rule.rule.startswith("/_mock"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            served.update((m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS"))
    assert served == documented


def test_unauthorized_answer_matches_the_spec() -> None:
    with MockServer({"admin_token": "t"}) as mock:
        response = requests.get(mock.admin_url + "faults", timeout=10)
        operation = schema["/_mock/faults"]["GET"]
        operation.validate_response(response)
        assert response.status_code == 401
