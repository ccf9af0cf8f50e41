"""The report renderer and the "any server" mode of the conformance suite.

``test_runs_against_a_server_given_by_url`` runs every feature in a child pytest with
``--rhoconnect-url`` pointing at a mock served over HTTP like any other server: the scenarios
that steer the server must be skipped with the reason, the others must pass by reading what the
server holds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from feature_coverage import load_results, load_scenarios
from html_report import render, scenario_status
from targets import RealTarget, read_all_pages

REPO = Path(__file__).resolve().parents[2]


def _element(name: str, statuses: list[str], tags: list[str]) -> dict[str, object]:
    return {
        "name": name,
        "tags": [{"name": t} for t in tags],
        "steps": [
            {
                "keyword": "Given",
                "name": f"step {i}",
                "result": {
                    "status": s,
                    **({"error_message": "AssertionError: boom"} if s == "failed" else {}),
                },
            }
            for i, s in enumerate(statuses)
        ],
    }


def test_the_html_report_shows_features_scenarios_tags_and_failures() -> None:
    features = [
        {
            "uri": "sync/x.feature",
            "name": "Syncing",
            "description": "why it matters",
            "elements": [
                _element("works", ["passed", "passed"], ["api_dosync", "must"]),
                _element("breaks", ["passed", "failed", "skipped"], ["api_dosync", "should"]),
                _element("not here", ["skipped"], ["api_search", "mock_control"]),
            ],
        }
    ]
    page = render(features)
    assert "Syncing" in page and "sync/x.feature" in page and "why it matters" in page
    assert "@api_dosync" in page and "@mock_control" in page
    assert "AssertionError: boom" in page
    assert '<span class="passed">1 passed</span>' in page
    assert '<span class="failed">1 failed</span>' in page
    assert '<span class="skipped">1 skipped</span>' in page


def test_a_scenario_is_failed_skipped_or_passed_by_its_steps() -> None:
    assert scenario_status(_element("a", ["passed", "failed"], [])) == "failed"
    assert scenario_status(_element("b", ["passed", "skipped"], [])) == "skipped"
    assert scenario_status(_element("c", [], [])) == "skipped"
    assert scenario_status(_element("d", ["passed"], [])) == "passed"


@pytest.fixture(scope="module")
def served_mock():  # type: ignore[no-untyped-def]
    from rhoconnect_mock import MockServer

    with MockServer() as server:
        yield server


def test_a_real_target_reads_what_the_server_holds(served_mock) -> None:  # type: ignore[no-untyped-def]
    target = RealTarget(served_mock.base_url, "dora", "pw")
    records = target.records("Product")
    # The mock's default data set: 25 Product records per user, as in the recorded set-up.
    assert len(records) == 25
    assert records == {k: dict(v) for k, v in served_mock.state.records("Product", "dora").items()}
    assert read_all_pages is not None


@pytest.mark.slow
def test_runs_against_a_server_given_by_url(served_mock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report, junit = tmp_path / "run.json", tmp_path / "run.xml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/bdd/test_features.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rhoconnect-url",
            served_mock.base_url,
            "--rhoconnect-login",
            "erin",
            "--rhoconnect-password",
            "pw",
            f"--cucumberjson={report}",
            f"--junitxml={junit}",
            "-rs",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "@mock_control: needs the embedded mock's admin API" in run.stdout
    outcomes = load_results(report)
    scenarios = load_scenarios()
    portable = [sc for sc in scenarios if "mock_control" not in sc.tags]
    assert len(portable) >= 40
    got = {sc.label: outcomes.get(sc.result_key) for sc in portable}
    assert got == {sc.label: "passed" for sc in portable}
    steered = [sc for sc in scenarios if "mock_control" in sc.tags]
    assert all(outcomes.get(sc.result_key, "skipped") == "skipped" for sc in steered)
    skipped = {
        case.get("name")
        for case in ElementTree.parse(junit).iter("testcase")
        if case.find("skipped") is not None
    }
    assert "test_records_in_pages_of_10_are_reported_page_by_page" in skipped
