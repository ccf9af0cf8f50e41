"""The features cover the whole seed, with evidence, and features/README.md shows it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from feature_coverage import (
    README,
    SEED,
    SEED_SHA256,
    coverage_table,
    load_results,
    load_scenarios,
    load_seed,
    not_passing,
    parse_seed,
    render_readme,
    requirements,
    tag_problems,
)


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return load_seed()


@pytest.fixture(scope="module")
def scenarios():  # type: ignore[no-untyped-def]
    return load_scenarios()


def test_the_seed_is_the_one_the_project_was_given() -> None:
    """The seed is the client API the users asked for, kept verbatim: any edit shows up here."""
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


def test_the_seed_is_read_completely(seed) -> None:  # type: ignore[no-untyped-def]
    # Pinned so that a parser regression cannot shrink the requirements silently.
    assert len(seed.calls) == 22
    assert seed.statuses == ("in_progress", "error", "ok", "complete", "schema-changed")
    assert set(seed.parameters) == {
        "source_id",
        "source_name",
        "sync_type",
        "status",
        "total_count",
        "processed_count",
        "cumulative_count",
        "bulk_status",
        "error_code",
        "error_message",
        "server_errors",
    }
    assert seed.server_error_types == (
        "login-error",
        "query-error",
        "create-error",
        "update-error",
        "delete-error",
        "logoff-error",
    )
    assert seed.bulk_statuses == ("start", "download", "change_db")
    assert set(seed.actions) == {
        ("on_sync_create_error", "delete"),
        ("on_sync_create_error", "recreate"),
        ("on_sync_update_error", "retry"),
        ("on_sync_update_error", "rollback"),
        ("on_sync_delete_error", "retry"),
    }
    assert ("search", "progress_step") in seed.arguments
    assert ("dosync_source", "source_id_or_name") in seed.arguments


def test_every_requirement_of_the_seed_has_a_scenario(seed, scenarios) -> None:  # type: ignore[no-untyped-def]
    missing = [f"{r.group}: {r.name}" for r in requirements(seed, scenarios) if not r.covered]
    assert missing == []


def test_every_scenario_is_tagged_with_a_level_and_a_seed_call(seed, scenarios) -> None:  # type: ignore[no-untyped-def]
    assert tag_problems(seed, scenarios) == []


def test_the_coverage_table_in_the_readme_is_current(seed, scenarios) -> None:  # type: ignore[no-untyped-def]
    current = README.read_text(encoding="utf-8")
    expected = render_readme(current, coverage_table(seed, scenarios))
    assert current == expected, "run: .venv/bin/python tests/bdd/feature_coverage.py --write"


def test_a_tag_without_evidence_does_not_count(seed, scenarios) -> None:  # type: ignore[no-untyped-def]
    # Strip the Then tables of every scenario: the tags stay, the evidence goes.
    stripped = [
        dataclasses.replace(
            sc, steps=[dataclasses.replace(st, table=[]) if st.kind == "then" else st for st in sc.steps]
        )
        for sc in scenarios
    ]
    uncovered = {r.name for r in requirements(seed, stripped) if not r.covered}
    assert {"total_count", "server_errors", "bulk_status", "query-error", "start"} <= uncovered


def test_a_missing_call_is_reported() -> None:
    seed = parse_seed("## login\n\n## teleport\n")
    reqs = requirements(seed, load_scenarios())
    assert [r.name for r in reqs if not r.covered] == ["teleport"]


def test_results_count_only_passing_scenarios(seed, scenarios, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def report(status_of) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
        features: dict[str, dict[str, Any]] = {}
        for sc in scenarios:
            feature = features.setdefault(sc.feature_file, {"uri": sc.feature_file, "elements": []})
            ident = "test_x" + (f"[{sc.example}]" if sc.example else "")
            feature["elements"].append(
                {
                    "name": sc.title or sc.name,
                    "id": ident,
                    "steps": [{"result": {"status": status_of(sc)}}],
                }
            )
        return list(features.values())

    path = tmp_path / "cucumber.json"
    path.write_text(json.dumps(report(lambda sc: "passed")))
    outcomes = load_results(path)
    assert {sc.result_key for sc in scenarios} <= set(outcomes)
    assert not_passing(seed, scenarios, outcomes) == []

    # Fail every scenario that checks search: the search requirements lose their evidence.
    path.write_text(json.dumps(report(lambda sc: "failed" if "api_search" in sc.tags else "passed")))
    failing = not_passing(seed, scenarios, load_results(path))
    assert "call: search" in failing and "argument: search(progress_step)" in failing
    assert "call: dosync" not in failing
