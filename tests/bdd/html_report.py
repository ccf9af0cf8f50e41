"""Render pytest-bdd's cucumber JSON as one HTML page a person can read: per feature, per scenario.

Usage::

    .venv/bin/pytest tests/bdd --cucumberjson=reports/bdd.json
    .venv/bin/python tests/bdd/html_report.py reports/bdd.json reports/bdd-features.html

The page opens with the totals, the reasons scenarios were skipped (with how many each), and a
requirement index (every ``@api_*`` tag with how many of its scenarios passed, failed or were
skipped), then lists each feature with its description and its scenarios: outcome, with the
one-line cause of a failure or the reason of a skip first, requirement tags, and every step with
its outcome and, for a failed step, the whole error. Skipped scenarios are in the cucumber report
with their reason (``cucumber_skips``), so features skipped whole are listed too. Plain HTML with
inline CSS, no scripts, so it opens anywhere (and in CI artefacts).
"""

from __future__ import annotations

import argparse
import html
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:75em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;vertical-align:top}
.passed{color:#176b2c}.failed{color:#b00020}.skipped{color:#8a6d00}
.tag{display:inline-block;background:#eef;border-radius:.3em;padding:0 .3em;margin:0 .15em;font-size:.85em}
.tag.api{background:#dde8ff;font-weight:600}.tag.level{background:#f3e6ff}
details{margin:.3em 0 .3em 1em}summary{cursor:pointer}
pre{background:#fff4f4;padding:.5em;white-space:pre-wrap;font-size:.85em}
.steps{margin-left:1.5em;font-size:.92em}.desc{color:#555;white-space:pre-line}
.cause{margin-left:.5em;font-family:monospace;font-size:.9em}
"""


def scenario_status(element: dict[str, Any]) -> str:
    """failed if a step failed, skipped if any step was skipped (or none ran), else passed."""
    statuses = [s.get("result", {}).get("status", "skipped") for s in element.get("steps", [])]
    if "failed" in statuses:
        return "failed"
    if not statuses or any(s != "passed" for s in statuses):
        return "skipped"
    return "passed"


def one_line_cause(error: str) -> str:
    """The line that says why: pytest's first ``E`` line (the exception), else the last line."""
    lines = [line.rstrip() for line in error.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("E ") or line == "E":
            return line[1:].strip()
    return lines[-1].strip() if lines else ""


def scenario_cause(element: dict[str, Any], status: str) -> str:
    """Why a failed scenario failed, or why a skipped one was skipped, in one line ("" if unknown)."""
    if status not in ("failed", "skipped"):
        return ""
    for step in element.get("steps", []):
        result = step.get("result", {})
        if result.get("status") == status and result.get("error_message"):
            return one_line_cause(result["error_message"]).removeprefix("Skipped: ")
    return ""


def tag_html(name: str) -> str:
    kind = "api" if name.startswith("api_") else "level" if name in ("must", "should") else ""
    return f'<span class="tag {kind}">@{html.escape(name)}</span>'


def render(features: list[dict[str, Any]]) -> str:
    totals: Counter[str] = Counter()
    skip_reasons: Counter[str] = Counter()
    by_requirement: dict[str, Counter[str]] = defaultdict(Counter)
    body: list[str] = []
    for feature in sorted(features, key=lambda f: f.get("uri", "")):
        rows: list[str] = []
        for element in feature.get("elements", []):
            status = scenario_status(element)
            cause = scenario_cause(element, status)
            totals[status] += 1
            if status == "skipped":
                skip_reasons[cause or "(no reason given)"] += 1
            tags = sorted(t["name"] for t in element.get("tags", []))
            for tag in tags:
                if tag.startswith("api_"):
                    by_requirement[tag][status] += 1
            steps = []
            for step in element.get("steps", []):
                result = step.get("result", {})
                st = result.get("status", "skipped")
                line = (
                    f'<div class="{st}">{html.escape(step.get("keyword", ""))} '
                    f"{html.escape(step.get('name', ''))} <small>({st})</small></div>"
                )
                if result.get("error_message"):
                    line += f"<pre>{html.escape(result['error_message'][-3000:])}</pre>"
                steps.append(line)
            rows.append(
                f'<details{" open" if status == "failed" else ""}><summary><b class="{status}">{status}</b>'
                + (f'<span class="cause {status}">{html.escape(cause)}</span>' if cause else "")
                + f"<br>{html.escape(element.get('name', ''))} {''.join(tag_html(t) for t in tags)}</summary>"
                f'<div class="steps">{"".join(steps)}</div></details>'
            )
        body.append(
            f"<h2>{html.escape(feature.get('name', ''))} "
            f"<small>{html.escape(feature.get('uri', ''))}</small></h2>"
            f'<div class="desc">{html.escape(feature.get("description", ""))}</div>{"".join(rows)}'
        )
    index = "".join(
        f"<tr><td>{tag_html(tag)}</td><td class=passed>{c['passed']}</td><td class=failed>{c['failed']}</td>"
        f"<td class=skipped>{c['skipped']}</td></tr>"
        for tag, c in sorted(by_requirement.items())
    )
    summary = ", ".join(f'<span class="{k}">{totals[k]} {k}</span>' for k in ("passed", "failed", "skipped"))
    skipped = "".join(
        f"<tr><td class=skipped>{count}</td><td>{html.escape(reason)}</td></tr>"
        for reason, count in sorted(skip_reasons.items(), key=lambda rc: (-rc[1], rc[0]))
    )
    header = "<h2>Skipped</h2><table><tr><th>scenarios</th><th>reason</th></tr>"
    skipped_section = f"{header}{skipped}</table>" if skipped else ""
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>RhoConnect conformance report</title>"
        f"<style>{STYLE}</style></head><body><h1>RhoConnect conformance: SyncEngine features</h1>"
        f"<p>{len(features)} features, {sum(totals.values())} scenarios: {summary}</p>{skipped_section}"
        f"<h2>Requirements</h2><table><tr><th>requirement</th><th>passed</th><th>failed</th>"
        f"<th>skipped</th></tr>{index}</table>{''.join(body)}</body></html>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("cucumber_json", type=Path, help="file written by pytest --cucumberjson")
    parser.add_argument("output", type=Path, help="HTML file to write")
    args = parser.parse_args(argv)
    try:
        features = json.loads(args.cucumber_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read {args.cucumber_json}: {exc}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(features), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
