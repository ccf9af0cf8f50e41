"""specs/rhoconnect.openapi.yaml itself: valid OpenAPI, complete, and strict where it matters."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs
import pytest
import schemathesis

from .openapi_doc import SPEC_PATH, all_operations, load_spec, resolve, schema_errors

EXPECTED = {
    ("POST", "/rc/v1/app/login"),
    ("POST", "/rc/v1/clients"),
    ("GET", "/rc/v1/clients/{client_id}"),
    ("POST", "/rc/v1/clients/{client_id}/register"),
    ("POST", "/rc/v1/clients/{client_id}/reset"),
    ("GET", "/app/v1/{source}"),
    ("POST", "/app/v1/{source}"),
    ("PUT", "/app/v1/{source}/{object_id}"),
    ("DELETE", "/app/v1/{source}/{object_id}"),
    ("POST", "/rc/v1/app/search"),
    ("POST", "/rc/v1/app/bulk_data"),
    ("GET", "/data/{app}/{user}/{file}"),
    ("GET", "/data/{app}/{file}"),
    ("POST", "/application/clientlogin"),
    ("GET", "/application/clientcreate"),
    ("POST", "/application/clientregister"),
    ("GET", "/application/clientreset"),
    ("GET", "/application"),
    ("POST", "/application"),
    ("GET", "/application/search"),
    ("GET", "/application/bulk_data"),
}

PAGE = [
    {"version": 3},
    {"token": "564895898621905"},
    {"count": 1},
    {"progress_count": 0},
    {"total_count": 25},
    {"insert": {"7": {"name": "Product 7"}}},
]


def test_the_document_is_valid_openapi() -> None:
    schemathesis.openapi.from_path(SPEC_PATH).validate()


def test_the_validator_does_reject_a_broken_document() -> None:
    broken = copy.deepcopy(load_spec())
    broken["paths"]["/rc/v1/app/login"]["post"]["responses"]["200"] = {"content": "nonsense"}
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


def test_every_route_of_both_families_is_described() -> None:
    assert {(op.method, op.template) for op in all_operations()} == EXPECTED


@pytest.mark.parametrize("op", all_operations(), ids=lambda op: op.operation_id)
def test_protected_routes_declare_401_and_json_routes_declare_500(op: Any) -> None:
    responses = op.node["responses"]
    if op.operation_id == "clientShow":
        assert list(responses) == ["422"]  # admin API: no token, no success for sync clients
        return
    assert "200" in responses
    if op.node.get("security", load_spec()["security"]):
        unauthenticated = resolve(responses["401"])
        assert list(unauthenticated["content"]) == ["text/plain"]
    if op.template.startswith("/data/"):
        assert "404" in responses
    else:
        assert "500" in responses or op.operation_id == "classicClientCreate"


@pytest.mark.parametrize("op", all_operations(), ids=lambda op: op.operation_id)
def test_classic_successes_carry_the_deprecation_warning(op: Any) -> None:
    headers = resolve(op.node["responses"].get("200", {})).get("headers", {})
    assert ("Warning" in headers) == op.template.startswith("/application")


def _schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_query_page_is_positional() -> None:
    assert schema_errors(_schema("QueryPage"), PAGE) == []
    swapped = [PAGE[0], PAGE[2], PAGE[1], *PAGE[3:]]
    assert schema_errors(_schema("QueryPage"), swapped)
    assert schema_errors(_schema("QueryPage"), [*PAGE, {}])
    assert schema_errors(_schema("QueryPage"), PAGE[:5])
    assert schema_errors(_schema("QueryPage"), [*PAGE[:5], {"surprise": 1}])
    assert schema_errors(_schema("QueryPage"), [PAGE[0], {"token": 5}, *PAGE[2:]])


def test_search_result_pins_each_sub_array_layout() -> None:
    page = [{"version": 3}, {"token": "1"}, {"source": "Product"}, {"count": 0}, {"insert": {}}]
    error = [{"version": 3}, {"source": "B"}, {"search-error": {"search-error": {"message": "x"}}}]
    assert schema_errors(_schema("SearchResult"), [page, error, []]) == []
    assert schema_errors(_schema("SearchResult"), [[page[1], page[0], *page[2:]]])
    assert schema_errors(_schema("SearchResult"), [[error[1], error[0], error[2]]])


def test_bulk_result_shapes() -> None:
    for ok in ({"result": "wait"}, {"result": "nop"}, {"result": "url", "url": ""},
               {"result": "url", "url": "/data/application/a/a_1.data"}):  # fmt: skip
        assert schema_errors(_schema("BulkResult"), ok) == [], ok
    for bad in ({"result": "url"}, {"result": "wait", "url": ""}, {"result": "url", "url": "/etc/passwd"}):
        assert schema_errors(_schema("BulkResult"), bad), bad
