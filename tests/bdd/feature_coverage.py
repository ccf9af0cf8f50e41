"""Coverage of the SyncEngine seed by the Gherkin features: requirements, evidence, the table.

The seed (``features/seed/SyncEngine-API.md``, the client API as the project was asked for it) is
read for its calls, their arguments, the notification statuses and parameters, the
``server_errors`` types, the ``bulk_status`` values and the recovery actions. The feature files are
read with the Gherkin parser. A requirement counts as covered only with evidence in a scenario:

- a call: a scenario tagged ``@api_<call>``;
- an argument: a scenario tagged ``@api_<call>`` and ``@arg_<argument>``;
- a status: a scenario tagged ``@status_<status>`` whose Then steps name that status;
- a parameter: a scenario tagged ``@param_<name>`` whose Then steps assert it in a table with a value;
- a ``server_errors`` type: a scenario tagged ``@server_error_<type>`` with a Then table key
  ``server_errors.<type>...`` (outline placeholders are expanded first);
- a ``bulk_status`` value: a scenario tagged ``@bulk_status_<value>`` with a Then table whose
  ``bulk_status`` column holds that value;
- a recovery action: a scenario tagged with the call and ``@action_<action>`` whose When steps
  quote the action;
- the two behaviours the issue names (``-1`` routing, one-shot removal): their tags.

Run ``python tests/bdd/feature_coverage.py --write`` to refresh the table in ``features/README.md``;
``tests/bdd/test_feature_coverage.py`` fails when a requirement has no evidence or the table is stale.
``--results reports/bdd.json`` (a ``pytest --cucumberjson`` report) instead checks that every
requirement has at least one scenario that passed in that run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "features"
SEED = FEATURES / "seed" / "SyncEngine-API.md"
#: The seed as given to the project; a change to it is a change of requirements, made on purpose.
SEED_SHA256 = "c20d6f499fa9fbaadbca89b1900935c237334f6228882221d722f519fbed0e0a"
README = FEATURES / "README.md"
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"

LEVELS = ("must", "should")
BEHAVIOURS = {
    "notify_global_routing": "set_notification(-1): routing to the callback for all models",
    "notify_one_shot": "a per-source callback is removed after its first finished event",
}
OTHER_TAGS = {
    "must": "requirement level: the behaviour is required",
    "should": "requirement level: the behaviour is recommended",
    "mock_control": "needs the mock's admin API (skipped against a real server)",
}


def tag_name(value: str) -> str:
    """Tag spelling of a seed value: ``schema-changed`` -> ``schema_changed``."""
    return re.sub(r"[^0-9A-Za-z_]", "_", value)


# --------------------------------------------------------------------------------------------- seed


@dataclass(frozen=True)
class Seed:
    """What the seed asks for, in the seed's order."""

    calls: tuple[str, ...]
    arguments: tuple[tuple[str, str], ...]  # (call, argument)
    statuses: tuple[str, ...]
    parameters: tuple[str, ...]
    server_error_types: tuple[str, ...]
    bulk_statuses: tuple[str, ...]
    actions: tuple[tuple[str, str], ...]  # (call, action)


_CODE_ROW = re.compile(r"<td><code>(.*?)</code></td>\s*<td>(.*?)</td>", re.S)


def parse_seed(text: str) -> Seed:
    """Read the requirements out of the seed's markdown (its headings and HTML tables)."""
    calls: list[str] = []
    arguments: list[tuple[str, str]] = []
    parameters: list[str] = []
    statuses: list[str] = []
    types: list[str] = []
    bulk: list[str] = []
    actions: list[tuple[str, str]] = []
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    for section in sections:
        call = section.split("\n", 1)[0].strip()
        calls.append(call)
        for name, description in _CODE_ROW.findall(section):
            param = re.fullmatch(r'@params\["(\w+)"\]', name)
            if param:
                key = param.group(1)
                if key not in parameters:
                    parameters.append(key)
                quoted = re.findall(r'"([\w-]+)"', description)
                if key == "status":
                    statuses.extend(q for q in quoted if q not in statuses)
                elif key == "server_errors":
                    types.extend(q for q in quoted if q not in types)
                elif key == "bulk_status":
                    bulk.extend(q for q in quoted if q not in bulk)
                continue
            arg = name.lstrip(":")
            if (call, arg) not in arguments:
                arguments.append((call, arg))
            if arg == "action":
                actions.extend((call, a) for a in re.findall(r":(\w+)", description))
    return Seed(
        tuple(calls),
        tuple(arguments),
        tuple(statuses),
        tuple(parameters),
        tuple(types),
        tuple(bulk),
        tuple(actions),
    )


def load_seed(path: Path = SEED) -> Seed:
    return parse_seed(path.read_text(encoding="utf-8"))


def known_tags(seed: Seed) -> dict[str, str]:
    """Every tag a feature may use, with the description registered as a pytest marker."""
    tags: dict[str, str] = dict(OTHER_TAGS)
    tags.update(BEHAVIOURS)
    tags.update({d.name: f"area: features/{d.name}" for d in sorted(FEATURES.iterdir()) if d.is_dir()})
    tags.update({f"api_{c}": f"checks SyncEngine.{c}" for c in seed.calls})
    tags.update({f"arg_{tag_name(a)}": f"exercises the argument {a}" for _, a in seed.arguments})
    tags.update({f"status_{tag_name(s)}": f"asserts the status {s}" for s in seed.statuses})
    tags.update({f"param_{p}": f"asserts the notification parameter {p}" for p in seed.parameters})
    tags.update(
        {f"server_error_{tag_name(t)}": f"asserts server_errors[{t}]" for t in seed.server_error_types}
    )
    tags.update({f"bulk_status_{tag_name(b)}": f"asserts bulk_status {b}" for b in seed.bulk_statuses})
    tags.update({f"action_{a}": f"uses the recovery action :{a}" for _, a in seed.actions})
    return tags


# ----------------------------------------------------------------------------------------- features


@dataclass
class Step:
    kind: str  # given | when | then
    text: str
    table: list[list[str]] = field(default_factory=list)


@dataclass
class Scenario:
    """One runnable scenario (an outline gives one per examples row, placeholders filled in)."""

    feature_file: str
    feature: str
    name: str
    tags: frozenset[str]
    steps: list[Step]
    #: The examples row of an outline as pytest names it (values joined by "-"); "" otherwise.
    example: str = ""
    #: The scenario's name in the feature (without the examples row).
    title: str = ""

    @property
    def label(self) -> str:
        return f"{self.feature_file}: {self.name}"

    @property
    def result_key(self) -> tuple[str, str, str]:
        return (self.feature_file, self.title or self.name, self.example)

    def then_tables(self) -> Iterator[list[list[str]]]:
        return (s.table for s in self.steps if s.kind == "then" and s.table)

    def then_wide(self) -> set[int]:
        return {id(s.table) for s in self.steps if s.kind == "then" and " these " in f" {s.text} "}

    def then_keys(self) -> dict[str, set[str]]:
        """Keys a Then table asserts, with their values.

        A step saying "these ... notifications" has a wide table (a header of parameter names, one
        row per notification); any other Then table lists one parameter and its value per row.
        """
        keys: dict[str, set[str]] = {}
        for table in self.then_tables():
            if len(table[0]) == 2 and id(table) not in self.then_wide():
                for key, value in table:
                    keys.setdefault(key, set()).add(value)
            else:
                header, *rows = table
                for i, key in enumerate(header):
                    keys.setdefault(key, set()).update(r[i] for r in rows)
        return keys

    def step_text(self, kind: str) -> str:
        parts = []
        for s in self.steps:
            if s.kind == kind:
                parts.append(s.text)
                parts.extend(" | ".join(row) for row in s.table)
        return "\n".join(parts)


_KIND = {"Context": "given", "Action": "when", "Outcome": "then"}


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"<{key}>", value)
    return text


def _steps(raw: Iterable[Any], values: dict[str, str]) -> list[Step]:
    steps: list[Step] = []
    kind = "given"
    for s in raw:
        kind = _KIND.get(s["keywordType"], kind)
        rows = s.get("dataTable", {}).get("rows", [])
        table = [[_fill(c["value"], values) for c in r["cells"]] for r in rows]
        steps.append(Step(kind, _fill(s["text"], values), table))
    return steps


def parse_feature(path: Path) -> list[Scenario]:
    # The parser's own TypedDicts describe the JSON loosely; read it as plain JSON data.
    doc: Any = Parser().parse(TokenScanner(path.read_text(encoding="utf-8")))
    feature = doc["feature"]
    rel = path.relative_to(FEATURES).as_posix()
    feature_tags = {t["name"][1:] for t in feature["tags"]}
    background: list[Any] = []
    result: list[Scenario] = []
    for child in feature["children"]:
        if "background" in child:
            background = child["background"]["steps"]
            continue
        sc = child.get("scenario")
        if sc is None:
            continue
        tags = feature_tags | {t["name"][1:] for t in sc["tags"]}
        raw = [*background, *sc["steps"]]
        if not sc.get("examples"):
            result.append(Scenario(rel, feature["name"], sc["name"], frozenset(tags), _steps(raw, {})))
            continue
        for ex in sc["examples"]:
            header = [c["value"] for c in ex["tableHeader"]["cells"]]
            ex_tags = tags | {t["name"][1:] for t in ex["tags"]}
            for row in ex["tableBody"]:
                values = dict(zip(header, (c["value"] for c in row["cells"]), strict=True))
                name = f"{sc['name']} [{', '.join(values.values())}]"
                result.append(
                    Scenario(
                        rel,
                        feature["name"],
                        name,
                        frozenset(ex_tags),
                        _steps(raw, values),
                        example="-".join(values.values()),
                        title=sc["name"],
                    )
                )
    return result


def load_scenarios(root: Path = FEATURES) -> list[Scenario]:
    return [sc for path in sorted(root.rglob("*.feature")) for sc in parse_feature(path)]


# ----------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Requirement:
    group: str
    name: str
    evidence: tuple[str, ...]  # labels of the scenarios that prove it

    @property
    def covered(self) -> bool:
        return bool(self.evidence)


def _quoted(text: str, value: str) -> bool:
    return f'"{value}"' in text or re.search(rf"(^|\| ){re.escape(value)}( \||$)", text, re.M) is not None


def requirements(seed: Seed, scenarios: list[Scenario]) -> list[Requirement]:
    """Every requirement of the seed with the scenarios that give evidence for it."""

    def proving(test: object) -> tuple[str, ...]:
        assert callable(test)
        return tuple(dict.fromkeys(sc.label for sc in scenarios if test(sc)))

    reqs: list[Requirement] = []
    for call in seed.calls:
        reqs.append(Requirement("call", call, proving(lambda sc, c=call: f"api_{c}" in sc.tags)))
    for call, arg in seed.arguments:
        reqs.append(
            Requirement(
                "argument",
                f"{call}({arg})",
                proving(lambda sc, c=call, a=arg: f"api_{c}" in sc.tags and f"arg_{tag_name(a)}" in sc.tags),
            )
        )
    for status in seed.statuses:
        reqs.append(
            Requirement(
                "status",
                status,
                proving(
                    lambda sc, s=status: (
                        f"status_{tag_name(s)}" in sc.tags and _quoted(sc.step_text("then"), s)
                    )
                ),
            )
        )
    for param in seed.parameters:
        reqs.append(
            Requirement(
                "parameter",
                param,
                proving(
                    lambda sc, p=param: (
                        f"param_{p}" in sc.tags
                        and any(
                            (k == p or k.startswith(p + ".")) and any(v != "" for v in vals)
                            for k, vals in sc.then_keys().items()
                        )
                    )
                ),
            )
        )
    for kind in seed.server_error_types:
        reqs.append(
            Requirement(
                "server_errors",
                kind,
                proving(
                    lambda sc, k=kind: (
                        f"server_error_{tag_name(k)}" in sc.tags
                        and any(key.startswith(f"server_errors.{k}.") for key in sc.then_keys())
                    )
                ),
            )
        )
    for value in seed.bulk_statuses:
        reqs.append(
            Requirement(
                "bulk_status",
                value,
                proving(
                    lambda sc, v=value: (
                        f"bulk_status_{tag_name(v)}" in sc.tags
                        and v in sc.then_keys().get("bulk_status", set())
                    )
                ),
            )
        )
    for call, action in seed.actions:
        reqs.append(
            Requirement(
                "action",
                f"{call} :{action}",
                proving(
                    lambda sc, c=call, a=action: (
                        f"api_{c}" in sc.tags
                        and f"action_{a}" in sc.tags
                        and f'"{a}"' in sc.step_text("when")
                    )
                ),
            )
        )
    for tag, text in BEHAVIOURS.items():
        reqs.append(Requirement("behaviour", text, proving(lambda sc, t=tag: t in sc.tags)))
    return reqs


def tag_problems(seed: Seed, scenarios: list[Scenario]) -> list[str]:
    """Scenarios without exactly one level tag or without a requirement tag, and unknown tags."""
    vocabulary = known_tags(seed)
    problems = []
    for sc in scenarios:
        levels = [t for t in sc.tags if t in LEVELS]
        if len(levels) != 1:
            problems.append(f"{sc.label}: needs exactly one of @must/@should, has {levels or 'none'}")
        if not any(t.startswith("api_") for t in sc.tags):
            problems.append(f"{sc.label}: no @api_<call> requirement tag")
        problems.extend(f"{sc.label}: unknown tag @{t}" for t in sorted(sc.tags - vocabulary.keys()))
    return problems


# ------------------------------------------------------------------------------------------- table


def coverage_table(seed: Seed, scenarios: list[Scenario]) -> str:
    """The markdown that sits between the coverage markers of features/README.md."""
    reqs = requirements(seed, scenarios)
    lines = [
        f"{len(scenarios)} scenarios (outlines expanded) in {len({s.feature_file for s in scenarios})} "
        f"feature files; {sum(r.covered for r in reqs)} of {len(reqs)} requirements covered.",
        "",
    ]
    must = {sc.label for sc in scenarios if "must" in sc.tags}
    mock = {sc.label for sc in scenarios if "mock_control" in sc.tags}
    for group in dict.fromkeys(r.group for r in reqs):
        lines += [
            f"### {group}",
            "",
            "| requirement | scenarios | @must | any server | files |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for r in (r for r in reqs if r.group == group):
            files = sorted({label.split(": ", 1)[0] for label in r.evidence})
            lines.append(
                f"| `{r.name}` | {len(r.evidence)} | {sum(e in must for e in r.evidence)} | "
                f"{sum(e not in mock for e in r.evidence)} | {', '.join(files) or '**NONE**'} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_readme(current: str, table: str) -> str:
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def load_results(path: Path) -> dict[tuple[str, str, str], str]:
    """Outcome of each scenario in a cucumber JSON report (pytest --cucumberjson).

    Keys match ``Scenario.result_key``; an outline's row is taken from the test id's ``[...]``.
    Scenarios that were skipped before their first step are absent from the report.
    """
    outcomes: dict[tuple[str, str, str], str] = {}
    for feature in json.loads(path.read_text(encoding="utf-8")):
        for element in feature.get("elements", []):
            ident = str(element.get("id", ""))
            example = ident[ident.index("[") + 1 : -1] if ident.endswith("]") and "[" in ident else ""
            statuses = [st.get("result", {}).get("status") for st in element.get("steps", [])]
            status = (
                "failed"
                if "failed" in statuses
                else "passed"
                if statuses and all(x == "passed" for x in statuses)
                else "skipped"
            )
            outcomes[(str(feature.get("uri", "")), str(element.get("name", "")), example)] = status
    return outcomes


def not_passing(
    seed: Seed, scenarios: list[Scenario], outcomes: dict[tuple[str, str, str], str]
) -> list[str]:
    """Requirements without a single passing scenario in ``outcomes``."""
    passed = [sc for sc in scenarios if outcomes.get(sc.result_key) == "passed"]
    return [f"{r.group}: {r.name}" for r in requirements(seed, passed) if not r.covered]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in features/README.md")
    parser.add_argument(
        "--results",
        type=Path,
        metavar="CUCUMBER_JSON",
        help="also check that every requirement has a passing scenario in this report",
    )
    args = parser.parse_args(argv)
    seed = load_seed()
    scenarios = load_scenarios()
    if args.results is not None:
        failing = not_passing(seed, scenarios, load_results(args.results))
        for item in failing:
            print(f"no passing scenario: {item}", file=sys.stderr)
        print(
            f"{len(requirements(seed, scenarios)) - len(failing)} requirements with a passing scenario, "
            f"{len(failing)} without"
        )
        return 1 if failing else 0
    table = coverage_table(seed, scenarios)
    if args.write:
        README.write_text(render_readme(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        sys.stdout.write(table)
    missing = [r for r in requirements(seed, scenarios) if not r.covered]
    for r in missing:
        print(f"not covered: {r.group} {r.name}", file=sys.stderr)
    for problem in tag_problems(seed, scenarios):
        print(problem, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
