"""The fault action registry: one registration feeds rule validation, the admin spec and ``--fail``."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml
from flask import Response
from rhoconnect_mock import MockServer
from rhoconnect_mock.faults import (
    ACTIONS,
    ActionKind,
    FaultContext,
    FaultRule,
    FaultRuleError,
    parse_fail_flag,
)
from rhoconnect_mock.faults.flags import TIMING_WORDS
from rhoconnect_mock.faults.params import STRING
from rhoconnect_mock.faults.registry import Flag, flag_words
from test_faults_support import Rc

SPEC = Path(__file__).resolve().parents[3] / "specs" / "mock-admin.openapi.yaml"


def test_the_admin_spec_publishes_each_registered_action_schema() -> None:
    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    assert schemas["Action"]["properties"]["type"]["enum"] == sorted(ACTIONS)
    published = {
        name: schema for name, schema in schemas.items() if name.endswith("Action") and name != "Action"
    }
    assert len(published) == len(ACTIONS)
    for name, kind in ACTIONS.items():
        schema_name = "".join(part.capitalize() for part in name.split("_")) + "Action"
        assert published[schema_name] == kind.schema(), f"the admin spec disagrees with action {name!r}"


def test_every_flag_word_stands_for_a_valid_rule_of_its_own_action() -> None:
    for word, flag in flag_words().items():
        owner = ACTIONS[flag.base["type"]]
        assert flag in owner.flags
        spec = f"query:{word}" + ("=1" if word in ("delay", "expire-session") else "")
        assert parse_fail_flag(spec)["action"]["type"] == owner.name


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("query:500:sometimes", f"--fail: bad timing word 'sometimes'; expected {TIMING_WORDS}"),
        ("query:500:once,lots", "--fail: bad timing word 'lots'; expected once, always"),
        ("cud:create-error=dup:lots", "--fail: 'lots' after the argument of create-error is not a timing"),
        ("query:500:once:always", "--fail: unexpected 'once' after '500': only the timing may follow"),
        ("query:reset:x:once", "--fail: unexpected 'x' after 'reset': only the timing may follow"),
    ],
)
def test_fail_flag_errors_name_what_is_wrong(flag: str, message: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_fail_flag(flag)
    assert str(info.value).startswith(message)


def test_an_argument_keeps_its_colons_when_a_timing_follows() -> None:
    rule = parse_fail_flag("cud:create-error=dup:lots:once")
    assert rule["action"] == {"type": "adapter_error", "stage": "create", "message": "dup:lots"}
    assert rule["times"] == 1


def _teapot(ctx: FaultContext, rule: FaultRule) -> Response:
    return Response(rule.action.get("say", "short and stout"), 418, content_type="text/plain")


TEAPOT = ActionKind(
    "teapot",
    "Answer 418 with a message.",
    params={"say": STRING},
    before=_teapot,
    flags=(Flag("teapot", {"type": "teapot"}, lambda text: {} if text is None else {"say": text}),),
)


def test_a_new_action_registered_once_works_from_every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ACTIONS, "teapot", TEAPOT)
    with MockServer({"sources": {"Product": {"records": 2}}}) as server:
        rc = Rc(server.base_url)
        server.fail_flag("query:teapot=tip me over:once")
        answer = rc.query()
        assert (answer.status_code, answer.text) == (418, "tip me over")
        added = requests.post(
            server.admin_url + "faults", json={"action": {"type": "teapot"}, "times": 1}, timeout=10
        )
        assert added.status_code == 201
        assert (rc.query().status_code, rc.query().status_code) == (418, 200)
        refused = requests.post(
            server.admin_url + "faults", json={"action": {"type": "teapot", "x": 1}}, timeout=10
        )
        assert refused.status_code == 400 and refused.json()["field"] == "action.x"
        assert "teapot" in requests.get(server.admin_url, timeout=10).json()["action_types"]
        assert server.fail("query", "teapot", say="hi") == "rule-3"
