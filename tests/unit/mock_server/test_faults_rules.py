"""Rule validation (messages name the field) and occurrence/lifetime semantics."""

from __future__ import annotations

from typing import Any

import pytest
from rhoconnect_mock.faults import FaultRuleError, action_types, parse_rule, parse_rules
from rhoconnect_mock.request_info import RequestInfo

QUERY = RequestInfo(operation="query", family="rest", source="Product", user="alice", client_id="c1")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [
                {"action": {"type": "status", "status": 500}},
                {"action": {"type": "status", "status": 500}},
                {"action": {"type": "status", "status": 99}},
            ],
            "faults[2].action.status: must be an integer between 100 and 599",
        ),
        ([{"action": {"type": "status"}}], "faults[0].action.status: is required for status"),
        (
            [{"action": {"type": "explode"}}],
            "faults[0].action.type: must be one of " + ", ".join(action_types()),
        ),
        (
            [{"action": {"status": 500}}],
            "faults[0].action.type: is required; one of " + ", ".join(action_types()),
        ),
        (
            [{"action": {"type": "status", "status": 500, "colour": "red"}}],
            "faults[0].action.colour: unknown key; expected one of type, status, body, content_type, "
            "headers, run_handler",
        ),
        (
            [{"match": {"operation": "teleport"}, "action": {"type": "reset"}}],
            "faults[0].match.operation: must be one of login, clientcreate, clientregister, clientreset, "
            "query, cud, search, bulk_data, bulk_file, other",
        ),
        (
            [{"match": {"operation": "admin"}, "action": {"type": "reset"}}],
            "faults[0].match.operation: must be one of login, clientcreate, clientregister, clientreset, "
            "query, cud, search, bulk_data, bulk_file, other",
        ),
        (
            [{"match": {"family": "soap"}, "action": {"type": "reset"}}],
            "faults[0].match.family: must be one of classic, rest",
        ),
        (
            [{"match": {"src": "Product"}, "action": {"type": "reset"}}],
            "faults[0].match.src: unknown key; expected one of operation, source, user, client_id, family",
        ),
        ([{"when": {"nth": 0}, "action": {"type": "reset"}}], "faults[0].when.nth: must be an integer >= 1"),
        (
            [{"when": {"nth": 1, "every": 2}, "action": {"type": "reset"}}],
            "faults[0].when: must have exactly one of nth, first, every, after, probability",
        ),
        (
            [{"when": {"probability": 1.5}, "action": {"type": "reset"}}],
            "faults[0].when.probability: must be a number between 0 and 1",
        ),
        (
            [{"when": {"nth": 2, "seed": 1}, "action": {"type": "reset"}}],
            "faults[0].when.seed: only goes with probability",
        ),
        ([{"times": 0, "action": {"type": "reset"}}], "faults[0].times: must be an integer >= 1"),
        ([{"times": "once", "action": {"type": "reset"}}], "faults[0].times: must be an integer >= 1"),
        ([{"match": {"operation": "query"}}], "faults[0].action: is required"),
        (["query:500"], "faults[0]: must be a table (a rule with match, when, times and action)"),
        (
            [{"action": {"type": "reset", "at": "sometime"}}],
            "faults[0].action.at: must be one of before_headers, after_headers",
        ),
        ([{"action": {"type": "delay"}}], "faults[0].action.seconds: give either seconds, or min and max"),
        ([{"action": {"type": "delay", "min": 2, "max": 1}}], "faults[0].action.max: must be >= min"),
        (
            [{"action": {"type": "delay", "seconds": -1}}],
            "faults[0].action.seconds: must be a number between 0 and 600",
        ),
        (
            [{"action": {"type": "trickle", "interval": 61}}],
            "faults[0].action.interval: must be a number between 0 and 60",
        ),
        (
            [{"action": {"type": "adapter_error", "stage": "query", "objects": ["1"]}}],
            "faults[0].action.objects: only applies to create, update and delete stages",
        ),
        (
            [{"action": {"type": "adapter_error", "stage": "bake"}}],
            "faults[0].action.stage: must be one of login, query, logoff, create, update, delete, search",
        ),
        (
            [{"action": {"type": "backend_change"}}],
            "faults[0].action.insert: give at least one of insert, update, delete",
        ),
        (
            [{"action": {"type": "backend_change", "insert": {"1": {"name": 5}}}}],
            "faults[0].action.insert.1.name: must be a string",
        ),
        (
            [{"action": {"type": "out_of_order", "order": [0, 0, 1]}}],
            "faults[0].action.order: must be a permutation of 0..n-1, e.g. [1, 0, 2]",
        ),
        ([{"action": {"type": "headers", "set": {"X": 1}}}], "faults[0].action.set.X: must be a string"),
        (
            [{"id": "a", "action": {"type": "reset"}}, {"id": "a", "action": {"type": "reset"}}],
            "faults[1].id: duplicate rule id 'a'",
        ),
        (
            [{"action": {"type": "bulk", "result": "maybe"}}],
            "faults[0].action.result: must be one of wait, nop, empty_url",
        ),
        (
            [{"action": {"type": "status", "status": True}}],
            "faults[0].action.status: must be an integer between 100 and 599",
        ),
    ],
)
def test_bad_rules_are_rejected_naming_the_field(rules: list[Any], message: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_rules(rules)
    assert str(info.value) == message
    assert info.value.field == message.split(":")[0]


def test_a_single_rule_names_fields_from_its_root() -> None:
    with pytest.raises(FaultRuleError, match=r"^action\.status: must be an integer between 100 and 599$"):
        parse_rule({"action": {"type": "status", "status": 600}})


def fires(rule_data: dict[str, Any], requests: int, rc: RequestInfo = QUERY) -> list[int]:
    rule = parse_rule(rule_data)
    return [n for n in range(1, requests + 1) if rule.consider(rc)]


RESET = {"type": "reset"}


@pytest.mark.parametrize(
    ("when", "times", "expected"),
    [
        (None, None, [1, 2, 3, 4, 5, 6, 7, 8]),
        (None, 1, [1]),
        (None, 3, [1, 2, 3]),
        ({"nth": 3}, None, [3]),
        ({"first": 2}, None, [1, 2]),
        ({"every": 3}, None, [3, 6]),
        ({"every": 2}, 2, [2, 4]),
        ({"after": 5}, None, [6, 7, 8]),
        ({"after": 5}, 1, [6]),
    ],
)
def test_occurrence_and_lifetime(when: dict[str, int] | None, times: int | None, expected: list[int]) -> None:
    data: dict[str, Any] = {"action": RESET}
    if when:
        data["when"] = when
    if times:
        data["times"] = times
    assert fires(data, 8) == expected


def test_probability_is_repeatable_for_a_seed() -> None:
    rule = {"when": {"probability": 0.5, "seed": 11}, "action": RESET}
    first = fires(rule, 200)
    assert first == fires(rule, 200)
    assert 60 < len(first) < 140
    assert first != fires({"when": {"probability": 0.5, "seed": 12}, "action": RESET}, 200)
    assert fires({"when": {"probability": 0.0}, "action": RESET}, 50) == []
    assert len(fires({"when": {"probability": 1.0}, "action": RESET}, 50)) == 50


@pytest.mark.parametrize(
    ("match", "hit"),
    [
        ({"operation": "query"}, True),
        ({"operation": ["cud", "query"]}, True),
        ({"operation": "cud"}, False),
        ({"source": "Product"}, True),
        ({"source": "Other"}, False),
        ({"user": "alice"}, True),
        ({"user": "bob"}, False),
        ({"client_id": "c1"}, True),
        ({"client_id": "c2"}, False),
        ({"family": "rest"}, True),
        ({"family": "classic"}, False),
        ({"operation": "query", "source": "Product", "user": "alice", "family": "rest"}, True),
    ],
)
def test_matching(match: dict[str, Any], hit: bool) -> None:
    assert fires({"match": match, "action": RESET}, 1) == ([1] if hit else [])


def test_search_rules_match_any_of_the_searched_sources() -> None:
    search = RequestInfo(operation="search", sources=["Product", "Customer"])
    assert fires({"match": {"source": "Customer"}, "action": RESET}, 1, search) == [1]


def test_counters_count_only_matching_requests() -> None:
    rule = parse_rule({"match": {"operation": "cud"}, "when": {"nth": 2}, "action": RESET})
    cud = RequestInfo(operation="cud", source="Product")
    results = [rule.consider(rc) for rc in (QUERY, cud, QUERY, cud, cud)]
    assert results == [False, False, False, True, False]
    assert rule.describe()["hits"] == 3 and rule.describe()["fired"] == 1


def test_description_round_trips_through_the_parser() -> None:
    data = {
        "id": "r",
        "match": {"operation": "query"},
        "when": {"every": 2},
        "times": 3,
        "action": {"type": "status", "status": 503, "body": "busy"},
    }
    rule = parse_rule(data)
    described = rule.describe()
    assert described["action"] == {"type": "status", "status": 503, "body": "busy"}
    again = parse_rule({k: v for k, v in described.items() if k not in ("hits", "fired", "exhausted")})
    assert again.source_data == rule.source_data
