"""How long ``./scripts/demo.sh`` takes to start the mock: with nothing changed, and after a change.

Each run starts ``./scripts/demo.sh --port 0`` and stops it once the banner's last line (``Press
Ctrl+C``) is out; the time to that line is wall clock, the CPU time is the children's user+system
time. Three variants, interleaved so that load changes on a shared machine hit each alike:

- ``unchanged``: the stamp of ``uv.lock`` and the pyproject files matches: nothing is installed;
- ``changed``: the stamp is removed first, so ``uv sync`` checks the environment against the lock
  (what happens after a ``pyproject.toml`` or lock change that installs nothing new);
- ``serve only``: ``.venv/bin/rhoconnect-mock serve`` without the script, the floor.

Usage: .venv/bin/python benchmarks/demo_start.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = REPO / ".venv" / ".synced"


def start_once(command: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Ctrl+C" in line:
            break
    elapsed = time.monotonic() - started
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    demo = ["./scripts/demo.sh", "--port", "0"]
    variants = {
        "unchanged": demo,
        "changed": demo,
        "serve only": [str(REPO / ".venv" / "bin" / "rhoconnect-mock"), "serve", "--port", "0"],
    }
    start_once(demo)  # make sure the stamp is current
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, command in variants.items():
            if name == "changed":
                STAMP.unlink(missing_ok=True)
            results[name].append(start_once(command))
    print(f"load average before/after: {os.getloadavg()[0]:.1f}; repeat {args.repeat}")
    print(f"{'variant':<12} {'median s':>9} {'best s':>7} {'median CPU s':>13}")
    for name, runs in results.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        median, best, cpu = statistics.median(walls), min(walls), statistics.median(cpus)
        print(f"{name:<12} {median:>9.2f} {best:>7.2f} {cpu:>13.2f}")


if __name__ == "__main__":
    main()
