"""Side-by-side comparison of two checkouts of the mock: runs A B A B ... of one benchmark.

On a shared, noisy machine two runs minutes apart are not comparable; alternating the checkouts
round by round lets a load spike hit both sides. Each run is a fresh interpreter with
``PYTHONPATH`` set to one checkout's ``mock_server`` (and ``client``), so the server subprocess and
the benchmark import that checkout; the benchmark scripts themselves are this folder's.

    git worktree add --detach /tmp/base main
    .venv/bin/python benchmarks/mock_ab.py loop --base /tmp/base --new . --rounds 5 --records 100000
    .venv/bin/python benchmarks/mock_ab.py concurrent --base /tmp/base --new . --rounds 3 \\
        --clients 200 --records 10000 --processes 4

Prints every run, then per side the median of each figure and the ratio base / new.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: benchmark -> (script, figures to read from its output: name -> regex with one group)
BENCHMARKS: dict[str, tuple[str, dict[str, str]]] = {
    "loop": (
        "mock_protocol_loop.py",
        {
            "loop_s": r"'loop_s': ([\d.]+)",
            "server_cpu_s": r"'server_cpu_s': ([\d.]+)",
            "first10pct_ms": r"'first10pct_median_ms': ([\d.]+)",
            "last10pct_ms": r"'last10pct_median_ms': ([\d.]+)",
        },
    ),
    "concurrent": (
        "mock_concurrent.py",
        {
            "exact": r"(\d+) exact",
            "elapsed_s": r"failed, ([\d.]+) s",
            "server_cpu_s": r"server CPU ([\d.]+) s",
            "median_ms": r"median (\d+) ms",
            "p99_ms": r"p99 (\d+) ms",
            "max_ms": r"max (\d+) ms",
        },
    ),
}


def run_once(tree: Path, script: str, args: list[str], figures: dict[str, str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / p) for p in ("mock_server", "client"))}
    where = subprocess.run(
        [sys.executable, "-c", "import rhoconnect_mock; print(rhoconnect_mock.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: imports the mock from {where}, not from the checkout")
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args], env=env, capture_output=True, text=True, check=True
    ).stdout
    values: dict[str, float] = {}
    for name, pattern in figures.items():
        found = re.findall(pattern, out)
        if not found:
            raise SystemExit(f"no {name} in the output of {script}:\n{out}")
        values[name] = float(found[-1])
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--base", type=Path, required=True, help="checkout measured first in each round")
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    known, rest = parser.parse_known_args()
    script, figures = BENCHMARKS[known.benchmark]
    args = [*rest, "--repeat", "1"] if known.benchmark == "loop" else rest
    runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
    for i in range(known.rounds):
        for side, tree in (("base", known.base), ("new", known.new)):
            values = run_once(tree, script, args, figures)
            runs[side].append(values)
            shown = ", ".join(f"{k} {v:g}" for k, v in values.items())
            print(f"round {i + 1} {side:4}: {shown}", flush=True)
    print(f"medians over {known.rounds} rounds ({known.benchmark} {' '.join(rest)}):")
    for name in figures:
        base = statistics.median(r[name] for r in runs["base"])
        new = statistics.median(r[name] for r in runs["new"])
        ratio = f"{base / new:.2f}x" if new else "-"
        print(f"  {name:14} base {base:10.3f}  new {new:10.3f}  base/new {ratio}")


if __name__ == "__main__":
    main()
