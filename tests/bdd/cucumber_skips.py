"""Skipped scenarios in the cucumber JSON report, with their reason.

pytest-bdd writes a scenario into ``--cucumberjson`` only when its test body ran, so a scenario
skipped before it started (``@mock_control`` against a real server) is missing, and so is a
feature whose scenarios were all skipped; a scenario skipped by one of its steps is written with
every step "passed". ``SkipLog`` notes each skipped scenario as pytest reports it and, before the
report is written, puts it there: its steps "skipped", the first skipped step carrying the reason
as its ``error_message`` (the one place the format has for a step's message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd.parser import ScenarioTemplate
from pytest_bdd.scenario import scenario_wrapper_template_registry


def template_of(item: pytest.Item) -> ScenarioTemplate | None:
    """The scenario a pytest-bdd test item runs (None for other tests)."""
    function = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(function) if callable(function) else None


def skip_reason(report: pytest.TestReport) -> str:
    """The reason pytest gives for a skip (``Skipped: `` prefix removed)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return text.removeprefix("Skipped: ")


@dataclass
class SkipLog:
    """Skipped scenario items of a run and why; ``write_into`` adds them to the cucumber report."""

    skipped: list[tuple[pytest.Item, str]] = field(default_factory=list)

    def note(self, item: pytest.Item, report: pytest.TestReport) -> None:
        if report.skipped and template_of(item) is not None:
            self.skipped.append((item, skip_reason(report)))

    def write_into(self, features: dict[str, dict[str, Any]]) -> None:
        """Add or correct the skipped scenarios in pytest-bdd's features (keyed by file name)."""
        for item, reason in self.skipped:
            template = template_of(item)
            assert template is not None  # only scenario items are noted
            callspec = getattr(item, "callspec", None)
            example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
            scenario = template.render(example)
            feature = scenario.feature
            entry = features.setdefault(
                feature.filename,
                {
                    "keyword": feature.keyword,
                    "uri": feature.rel_filename,
                    "name": feature.name or feature.rel_filename,
                    "id": feature.rel_filename.lower().replace(" ", "-"),
                    "line": feature.line_number,
                    "description": feature.description,
                    "language": feature.language,
                    "tags": [{"name": t, "line": feature.line_number - 1} for t in sorted(feature.tags)],
                    "elements": [],
                },
            )
            elements = entry["elements"]
            written = next((e for e in elements if e.get("id") == item.name), None)
            # Steps before the one that called pytest.skip ran and passed; that one and the rest did not.
            ran = max(len(written["steps"]) - 1, 0) if written is not None else 0
            steps = [
                {
                    "keyword": step.keyword,
                    "name": step.name,
                    "line": step.line_number,
                    "match": {"location": ""},
                    "result": {"status": "passed" if i < ran else "skipped", "duration": 0}
                    | ({"error_message": f"Skipped: {reason}"} if i == ran else {}),
                }
                for i, step in enumerate(scenario.steps)
            ]
            if written is not None:
                written["steps"] = steps
                continue
            elements.append(
                {
                    "keyword": scenario.keyword,
                    "id": item.name,
                    "name": scenario.name,
                    "line": scenario.line_number,
                    "description": scenario.description,
                    "tags": [{"name": t, "line": scenario.line_number - 1} for t in sorted(scenario.tags)],
                    "type": "scenario",
                    "steps": steps,
                }
            )
