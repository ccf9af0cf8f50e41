"""Scenario files, ``--fail`` flags and the ``serve`` options that carry them (and the admin token)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from rhoconnect_mock.cli import main
from rhoconnect_mock.config import MockConfig
from rhoconnect_mock.errors import ConfigError
from rhoconnect_mock.faults import FaultRuleError, parse_fail_flag
from rhoconnect_mock.scenario import config_faults, load_scenario

TOML = """
description = "second page fails, then a slow network"
[[faults]]
id = "second-page"
match = { operation = "query", source = "Product" }
when = { nth = 2 }
times = 1
action = { type = "status", status = 500 }

[[faults]]
action = { type = "delay", seconds = 0.01 }
"""

YAML = """
description: second page fails, then a slow network
faults:
  - id: second-page
    match: {operation: query, source: Product}
    when: {nth: 2}
    times: 1
    action: {type: status, status: 500}
  - action: {type: delay, seconds: 0.01}
"""


def test_toml_and_yaml_scenarios_give_the_same_rules(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TOML)
    (tmp_path / "s.yaml").write_text(YAML)
    rules = load_scenario(tmp_path / "s.toml")
    assert rules == load_scenario(tmp_path / "s.yaml")
    assert rules[0]["id"] == "second-page" and rules[1]["action"] == {"type": "delay", "seconds": 0.01}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.toml",
            TOML.replace("status = 500", "status = 5000"),
            "faults[0].action.status: must be an integer between 100 and 599",
        ),
        (
            "bad.yaml",
            YAML.replace("seconds: 0.01", "secs: 0.01"),
            "faults[1].action.secs: unknown key; expected one of type, seconds, min, max, seed, "
            "before_handler",
        ),
        ("bad.yaml", "fault: []\n", "fault: unknown key; expected description, faults"),
        ("bad.yaml", "faults: {a: 1}\n", "faults: must be a list of rules"),
        ("bad.toml", "[[faults]\n", "scenario: {path} is not valid TOML: "),
        ("bad.yaml", "faults: [\n", "scenario: {path} is not valid YAML: "),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FaultRuleError) as info:
        load_scenario(path)
    assert str(info.value).startswith(message.format(path=path))


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(FaultRuleError, match=r"^scenario: cannot read .*nope.toml: No such file"):
        load_scenario(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("flag", "rule"),
    [
        ("query:500", {"match": {"operation": "query"}, "action": {"type": "status", "status": 500}}),
        (
            "query:500:once",
            {"match": {"operation": "query"}, "action": {"type": "status", "status": 500}, "times": 1},
        ),
        (
            "query/Product@bob:503:nth=2,times=1",
            {
                "match": {"operation": "query", "source": "Product", "user": "bob"},
                "action": {"type": "status", "status": 503},
                "when": {"nth": 2},
                "times": 1,
            },
        ),
        ("*:reset:every=3", {"action": {"type": "reset"}, "when": {"every": 3}}),
        (
            "cud:reset-after-headers:first=2",
            {
                "match": {"operation": "cud"},
                "action": {"type": "reset", "at": "after_headers"},
                "when": {"first": 2},
            },
        ),
        (
            "query:truncate=7:after=1",
            {
                "match": {"operation": "query"},
                "action": {"type": "truncate", "bytes": 7},
                "when": {"after": 1},
            },
        ),
        (
            "query:trickle=16/0.1",
            {
                "match": {"operation": "query"},
                "action": {"type": "trickle", "chunk_size": 16, "interval": 0.1},
            },
        ),
        (
            "query:delay=0.5:3",
            {"match": {"operation": "query"}, "action": {"type": "delay", "seconds": 0.5}, "times": 3},
        ),
        (
            "query:delay=0.1-0.9:p=0.5,seed=4",
            {
                "match": {"operation": "query"},
                "action": {"type": "delay", "min": 0.1, "max": 0.9},
                "when": {"probability": 0.5, "seed": 4},
            },
        ),
        (
            "cud:create-error=dup: id 7:always",
            {
                "match": {"operation": "cud"},
                "action": {"type": "adapter_error", "message": "dup: id 7", "stage": "create"},
            },
        ),
        (
            "query:query-error",
            {"match": {"operation": "query"}, "action": {"type": "adapter_error", "stage": "query"}},
        ),
        (
            "query:expire-session=4",
            {"match": {"operation": "query"}, "action": {"type": "expire_session", "after": 4}},
        ),
        (
            "bulk_data:wait:2",
            {"match": {"operation": "bulk_data"}, "action": {"type": "bulk", "result": "wait"}, "times": 2},
        ),
        (
            "bulk_file:truncate-file=100",
            {
                "match": {"operation": "bulk_file"},
                "action": {"type": "corrupt_file", "bytes": 100, "mode": "truncate"},
            },
        ),
        (
            "query:wrong-version=4",
            {"match": {"operation": "query"}, "action": {"type": "wrong_version", "version": 4}},
        ),
        ("query:malformed-json", {"match": {"operation": "query"}, "action": {"type": "malformed_json"}}),
    ],
)
def test_fail_flags(flag: str, rule: dict[str, Any]) -> None:
    assert parse_fail_flag(flag) == rule


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("query", "--fail: expected MATCH:ACTION[:WHEN], e.g. query:500:once, not 'query'"),
        ("query:50x", "--fail: unknown action '50x'; expected a status or one of "),
        ("fly:500", "--fail: unknown operation 'fly'; expected * or one of login, "),
        ("query:999", "--fail: 'query:999': action.status: must be an integer between 100 and 599"),
        ("query:500:nth=0", "--fail: 'query:500:nth=0': when.nth: must be an integer >= 1"),
        ("query:delay", "--fail: delay needs seconds: delay=0.5 or delay=0.1-0.9"),
        ("query:reset=1", "--fail: reset takes no value"),
        ("query:expire-session", "--fail: expire-session must be a non-negative integer, not ''"),
    ],
)
def test_bad_flags(flag: str, message: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_fail_flag(flag)
    assert str(info.value).startswith(message)


def test_config_collects_file_and_flag_rules_in_order(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TOML)
    cfg = MockConfig.from_mapping(
        {
            "scenario": str(tmp_path / "s.toml"),
            "faults": ["cud:reset:once"],
            "admin_token": "t0k",
            "journal_size": 50,
        }
    )
    rules = config_faults(cfg.scenario, cfg.fault_specs)
    assert [r["action"]["type"] for r in rules] == ["status", "delay", "reset"]
    assert (cfg.admin_token, cfg.journal_size) == ("t0k", 50)
    with pytest.raises(ConfigError, match=r"^faults\[0\]\.times: must be an integer >= 1$"):
        config_faults(None, [{"times": 0, "action": {"type": "reset"}}])
    with pytest.raises(ConfigError, match=r"^faults\[1\]\.id: duplicate rule id 'x'$"):
        same_id = {"id": "x", "action": {"type": "reset"}}
        config_faults(None, [same_id, same_id])


def test_serve_rejects_a_bad_scenario_with_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TOML.replace('type = "delay"', 'type = "nap"'))
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", "--scenario", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("Error: scenario faults[1].action.type: must be one of ")
    with pytest.raises(SystemExit):
        main(["serve", "--port", "0", "--fail", "query:5000"])
    assert capsys.readouterr().err.startswith("Error: --fail: 'query:5000': action.status: must be an")
    with pytest.raises(SystemExit):
        main(["serve", "--port", "0", "--journal-size", "0"])
    assert capsys.readouterr().err == "Error: journal_size: must be at least 1, not 0\n"


def test_serve_with_fail_flags_and_an_admin_token(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("rhoconnect-mock")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            str(script),
            "serve",
            "--port",
            "0",
            "--fail",
            "login:503:once",
            "--admin-token",
            "s3cret",
            "--journal-size",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while lines[-1] and "Ctrl+C" not in lines[-1]:
            lines.append(proc.stdout.readline())
        banner = "".join(lines)
        base = re.search(r"base URL\s+(\S+)", banner)
        assert base is not None, banner
        url = base.group(1)
        assert "(token required)" in banner and "1 rule(s) active" in banner
        login = {"login": "a", "password": "b"}
        assert requests.post(f"{url}/rc/v1/app/login", json=login, timeout=10).status_code == 503
        assert requests.post(f"{url}/rc/v1/app/login", json=login, timeout=10).status_code == 200
        assert requests.get(f"{url}/_mock/faults", timeout=10).status_code == 401
        journal = requests.get(
            f"{url}/_mock/journal", headers={"Authorization": "Bearer s3cret"}, timeout=10
        ).json()
        assert [e["status"] for e in journal["entries"]] == [503, 200]
        requests.post(f"{url}/rc/v1/app/login", json=login, timeout=10)
        journal = requests.get(f"{url}/_mock/journal", headers={"X-Admin-Token": "s3cret"}, timeout=10).json()
        assert (journal["size"], journal["count"], journal["dropped"]) == (2, 2, 1)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps it and closes the pipes
