"""Schemathesis against the server under test: responses must match specs/rhoconnect.openapi.yaml.

Every operation of the spec is exercised with generated requests (positive data only: the
protocol accepts odd input rather than rejecting it with a 4xx, so "negative" cases say nothing
about conformance). Each response is checked for: a declared status, a declared Content-Type
(byte for byte, which schemathesis's own check does not do), the declared schema, the required
headers, and no 500 other than those the protocol defines (``Unknown client``, ``Unknown source``,
malformed JSON, and the Ruby exception messages of input that makes RhoConnect raise), each with
the body its operation declares for its content type. A second test walks the OpenAPI links
(login, client create, query, acknowledge) as a state machine.

Requests carry the session's client id (header ``X-RhoConnect-CLIENT-ID``, and the parameter or
body field where the operation has one) so generated cases reach past the client check. Against a
server without the mock's admin API, every source name a case carries (path, query, body) is
replaced by a source the server has (``confine_sources``): a real RhoConnect would add each
invented name to its source list for good and fail its bulk jobs until restarted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import hypothesis
import requests
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Target
from .openapi_doc import SPEC_PATH, find_operation, resolve, schema_errors

PROTOCOL_500_BODIES = {"Unknown client", "Unknown source", "Server error while processing client data"}
#: The messages of the Ruby exceptions RhoConnect 7.8 answers as a 500 for input that makes it raise.
RUBY_MESSAGE = re.compile(
    r"undefined method .\S+. for |no implicit conversion of \S+ into Hash|wrong constant name "
    r"|Invalid Source Name For Client|Invalid value object: nil\. Hash is expected\.|unexpected token at "
)
CLIENT_ID_HEADER = "X-RhoConnect-CLIENT-ID"


schema = schemathesis.openapi.from_path(SPEC_PATH)


def exact_content_type(ctx: Any, response: Any, case: Any) -> bool | None:
    """The Content-Type header is one of the declared media types, byte for byte."""
    operation = find_operation(case.method, case.formatted_path)
    declared = operation.response(response.status_code) if operation else None
    if declared is None:
        return None  # an undocumented method or status: status_code_conformance's business
    actual = response.headers.get("content-type", [""])
    actual = actual[0] if isinstance(actual, list) else actual
    allowed = list(declared.get("content", {}))
    if allowed and actual not in allowed:
        raise AssertionError(f"Content-Type {actual!r} is not exactly one of {allowed}")
    return True


def _declared_body(media: dict[str, Any], body: str) -> bool:
    """Whether ``body`` is one the media type declares (its schema, or ``x-body-pattern`` for a
    JSON-typed 500 whose body is a plain message)."""
    schema_node = resolve(media.get("schema"))
    if schema_node:
        return not schema_errors(schema_node, body)
    pattern = media.get("x-body-pattern")
    return pattern is None or re.search(pattern, body) is not None


def only_protocol_500s(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 500 is fine only with a body the protocol defines for this operation and content type."""
    if response.status_code != 500:
        return None
    body = response.content.decode("utf-8", "replace") if response.content else ""
    known = body in PROTOCOL_500_BODIES or RUBY_MESSAGE.search(body) is not None
    operation = find_operation(case.method, case.formatted_path)
    if operation is None:
        if not known:
            raise AssertionError(f"undocumented 500: {body[:200]!r}")
        return None  # a method the spec does not document (schemathesis probes a few)
    actual = response.headers.get("content-type", [""])
    actual = actual[0] if isinstance(actual, list) else actual
    media = (operation.response(500) or {}).get("content", {}).get(actual)
    if media is not None and _declared_body(resolve(media), body):
        return True
    if not known:
        raise AssertionError(f"undocumented 500: {body[:200]!r}")
    declared = sorted((operation.response(500) or {}).get("content", {}))
    raise AssertionError(f"500 {actual} {body!r} is not declared for this operation (declared: {declared})")


CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    exact_content_type,
    only_protocol_500s,
]


def supply_client(case: Any, target: Target) -> None:
    """Put the session's client id where the operation takes one."""
    operation = find_operation(case.method, case.formatted_path) or find_operation(case.method, case.path)
    names = {resolve(p).get("name") for p in (operation.node.get("parameters", []) if operation else [])}
    if CLIENT_ID_HEADER in names:
        case.headers = {**(case.headers or {}), CLIENT_ID_HEADER: target.client_id}
    if "client_id" in names and case.query is not None:
        case.query = {**case.query, "client_id": target.client_id}
    if case.path_parameters and "client_id" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "client_id": target.client_id}
    if isinstance(case.body, dict) and case.media_type == "application/json":
        case.body = {**case.body, "client_id": target.client_id}


#: Where a case names sources: query parameters holding one name each (or a list of names).
SOURCE_QUERY_KEYS = ("source_name", "sources[][name]")


def confine_sources(case: Any, target: Target) -> None:
    """Replace every source name the case carries by one ``target`` may be asked about.

    In the path and the query every value is a name (text on the wire); in a JSON body only strings
    are, and other values where a name belongs (null, 0, objects) stay, as the server's answer to
    them is part of the protocol and they cannot become a source's name.
    """
    if target.known_sources is None:
        return
    if case.path_parameters and "source" in case.path_parameters:
        source = target.source(str(case.path_parameters["source"]))
        case.path_parameters = {**case.path_parameters, "source": source}
    if case.query:
        # In a URL every value is text: a generated number is a name there too.
        query = dict(case.query)
        for key in SOURCE_QUERY_KEYS:
            if isinstance(query.get(key), list):
                query[key] = [target.source(str(name)) for name in query[key]]
            elif query.get(key) is not None:
                query[key] = target.source(str(query[key]))
        if query.get("sources") is not None:  # classic bulk_data: comma-separated names
            listed = query["sources"] if isinstance(query["sources"], list) else [query["sources"]]
            names = [name for item in listed for name in str(item).split(",")]
            query["sources"] = ",".join(str(target.source(name)) for name in names)
        case.query = query
    if isinstance(case.body, dict):
        case.body = confine_body(case.body, target)


def confine_body(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """``source_name`` and ``sources`` (names or ``{"name": ...}``) of a JSON body or a ``cud`` part."""
    body = dict(body)
    if "source_name" in body:
        body["source_name"] = target.source(body["source_name"])
    if isinstance(body.get("sources"), str):
        body["sources"] = target.source(body["sources"])
    if isinstance(body.get("sources"), list):
        body["sources"] = [
            {**item, "name": target.source(item.get("name"))}
            if isinstance(item, dict)
            else target.source(item)
            for item in body["sources"]
        ]
    if isinstance(body.get("cud"), str):
        try:
            cud = json.loads(body["cud"])
        except ValueError:
            return body
        if isinstance(cud, dict):
            body["cud"] = json.dumps(confine_body(cud, target))
    return body


def session_for(case: Any, target: Target) -> requests.Session:
    """The logged-in session, except for login and downloads (a login would replace it)."""
    if case.operation.definition.raw.get("security") == []:
        return requests.Session()
    return target.session


@schema.parametrize()
@hypothesis.settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_responses_conform_to_the_spec(case: Any, rhoconnect_target: Target) -> None:
    supply_client(case, rhoconnect_target)
    confine_sources(case, rhoconnect_target)
    case.call_and_validate(
        base_url=rhoconnect_target.base_url,
        session=session_for(case, rhoconnect_target),
        checks=CHECKS,
        timeout=30,
    )


def test_linked_operations_conform_to_the_spec(rhoconnect_target: Target) -> None:
    """Walk the spec's links: login, client create, then query/acknowledge, search, bulk, reset."""
    target = rhoconnect_target

    class ProtocolMachine(schema.as_state_machine()):  # type: ignore[misc]
        http: requests.Session

        def setup(self) -> None:
            # A session of its own per scenario: a generated login may log it out.
            self.http = requests.Session()
            r = self.http.post(
                target.base_url + "/rc/v1/app/login",
                json={"login": target.login, "password": target.password},
                timeout=30,
            )
            assert r.status_code == 200

        def before_call(self, case: Any) -> None:
            confine_sources(case, target)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": target.base_url, "session": self.http, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    ProtocolMachine.run(
        settings=hypothesis.settings(
            max_examples=40,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
