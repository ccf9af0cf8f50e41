"""The repository stands on its own: no reference to files, notes or machines outside it.

Every text file is searched for what only made sense beside the project's working notes: a bare
``protocol.md`` (the description is ``docs/protocol.md``), numbered decisions, section signs,
numbered findings or steps of a recording, issue numbers, the "RCC" abbreviation, a sibling folder,
an absolute path of some machine. References that point inside the repository are checked too:
every ``docs/protocol.md#anchor`` names a heading there, and every recorded exchange named
``main-NN``/``errors-NN`` exists in ``tests/data/rhoconnect-7.8``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
SKIP_DIRS |= {"build", "dist", "reports"}
TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".feature", ".txt", ".json", ".cfg", ".ini", ""}

FORBIDDEN = {
    "bare protocol.md": re.compile(r"(?<!docs/)(?<![\w/])protocol\.md"),
    "numbered decision": re.compile(r"\bD[0-9]\b"),
    "section sign": re.compile("\u00a7"),
    "numbered finding": re.compile(r"Findings? [0-9]"),
    "numbered step": re.compile(r"(?<!after )\bsteps? [0-9]", re.I),
    "issue number": re.compile(r"\bissues? #?[0-9]", re.I),
    "RCC": re.compile(r"\bRCC\b"),
    "sibling folder": re.compile(r"\.\./shared"),
    "absolute machine path": re.compile(r"/work/|/home/\w|/root/|/Users/\w|[A-Z]:\\\\"),
    "missing file": re.compile(r"DESIGN\.md"),
}


def _text_files() -> list[Path]:
    found = []
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in TEXT and path.name != "uv.lock" and path != Path(__file__):
            found.append(path)
    return found


FILES = _text_files()


def _lines() -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        out.extend((str(path.relative_to(REPO)), n, line) for n, line in enumerate(text.splitlines(), 1))
    return out


LINES = _lines()


def test_the_tree_was_found() -> None:
    names = {str(p.relative_to(REPO)) for p in FILES}
    assert {"README.md", "docs/protocol.md", "client/rhoconnect_client/engine.py"} <= names


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_reference_outside_the_repository(what: str) -> None:
    pattern = FORBIDDEN[what]
    hits = [f"{path}:{n}: {line.strip()[:120]}" for path, n, line in LINES if pattern.search(line)]
    assert not hits, f"{what}:\n" + "\n".join(hits)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def test_every_link_into_the_protocol_description_lands_on_a_heading() -> None:
    doc = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    anchors = _anchors(doc)
    used = {
        (path, m.group(1)) for path, _, line in LINES for m in re.finditer(r"protocol\.md#([\w\-]+)", line)
    }
    used |= {("docs/protocol.md", m.group(1)) for m in re.finditer(r"\]\(#([\w\-]+)\)", doc)}
    missing = sorted(f"{path}: #{anchor}" for path, anchor in used if anchor not in anchors)
    assert used and not missing, missing


def test_every_named_recorded_exchange_exists() -> None:
    data = REPO / "tests" / "data" / "rhoconnect-7.8"
    ids = {
        item["id"]
        for name in ("main", "errors")
        for item in json.loads((data / f"{name}.json").read_text())["exchanges"]
    }
    named = {m.group(0) for _, _, line in LINES for m in re.finditer(r"\b(?:main|errors)-\d{2}\b", line)}
    assert named and not named - ids, sorted(named - ids)


def test_every_decision_named_in_the_code_is_a_heading() -> None:
    doc = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    decisions = doc.split("\n## Decisions\n", 1)[1].split("\n## ", 1)[0]
    headings = set(re.findall(r"^### (.+)$", decisions, flags=re.M))
    named = {m.group(1) for _, _, line in LINES for m in re.finditer(r'decision "([^"]+)"', line)}
    named |= {m.group(1) for _, _, line in LINES for m in re.finditer(r"the ``([\w ]+)`` decision", line)}
    assert named and not named - headings, sorted(named - headings)
