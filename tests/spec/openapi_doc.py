"""The protocol's OpenAPI document as test code sees it: loading, finding the operation for a
request, resolving ``$ref``\\s and validating bodies with the document's own JSON Schemas.

Kept apart from schemathesis so the transcript check states plainly what it verifies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "rhoconnect.openapi.yaml"
_METHODS = ("get", "post", "put", "delete", "patch")


@cache
def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return doc


def resolve(node: Any) -> Any:
    """Follow local ``$ref``\\s until a non-reference node."""
    spec = load_spec()
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    node: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.node["operationId"])

    def response(self, status: int) -> dict[str, Any] | None:
        responses = self.node.get("responses", {})
        found = responses.get(str(status), responses.get("default"))
        return None if found is None else dict(resolve(found))


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + r"\Z")


def find_operation(method: str, path: str) -> Operation | None:
    """The documented operation for a request; literal paths win over templated ones."""
    spec = load_spec()
    candidates = []
    for template, item in spec["paths"].items():
        node = item.get(method.lower())
        if node is None or not _template_regex(template).match(path):
            continue
        candidates.append((template.count("{"), Operation(method.upper(), template, node)))
    candidates.sort(key=lambda pair: pair[0])
    return candidates[0][1] if candidates else None


def all_operations() -> list[Operation]:
    spec = load_spec()
    return [
        Operation(m.upper(), template, item[m])
        for template, item in spec["paths"].items()
        for m in _METHODS
        if m in item
    ]


@cache
def _validator(schema_json: str) -> jsonschema_rs.Validator:
    schema = json.loads(schema_json)
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    root["components"] = load_spec()["components"]
    return jsonschema_rs.Draft202012Validator(root)


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """Validation errors of ``instance`` against a schema taken from the document."""
    validator = _validator(json.dumps(resolve(schema), sort_keys=True))
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(instance)]
