"""How long the mock takes to build a bulk file, side by side with a baseline builder, and through HTTP.

Run:  .venv/bin/python benchmarks/bulk_build.py [--records 100000] [--repeat 3] [--baseline REV]
                                                [--data faker|sequence] [--no-http]

1. ``build_bulk_files`` alone: the SQLite database (object_values, indexes) plus the ``.rzip`` and
   ``.gzip`` archives for N records of 5 attributes. Each build is a fresh child process with
   ``PYTHONPATH`` pointing at one builder: this tree's ``mock_server/`` ("new") or the one of git
   revision ``REV`` extracted with ``git archive`` ("base", default ``main``); the two alternate
   A B A B so load spikes on a shared machine hit both. The records are generated in the child
   before the clock starts: the mock's default data (``faker``: Faker values for name, brand,
   price, quantity, sku) or the short ``sequence`` values. The child also returns a digest of the
   file's SQL dump (``iterdump``): both builders must write the same tables, rows and indexes.
2. Through HTTP against a live ``MockServer`` (this tree) with ``bulk_wait_polls = 0``: the
   ``bulk_data`` call that builds the file (snapshot of the user's data included), then the
   download of the ``.rzip``.
Prints one JSON line per part: medians, per-run values, the CPU time of all the builder's threads
(meaningful when other processes share the cores) and the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mock_common import extract_tree, run_child

ROOT = Path(__file__).resolve().parent.parent


def _records(n: int, data: str) -> dict[str, dict[str, str]]:
    from rhoconnect_mock.config import SourceConfig
    from rhoconnect_mock.seed import generate_records

    source = SourceConfig(name="Product", records=n, generator="sequence" if data == "sequence" else "faker")
    return dict(generate_records(source, 0))


def _child(n: int, data: str) -> None:
    """Build one file set with the builder on ``PYTHONPATH``; print wall, CPU and the dump's digest."""
    from rhoconnect_mock.bulkfile import BulkSource, build_bulk_files

    records = _records(n, data)
    with tempfile.TemporaryDirectory() as folder:
        started, cpu_started = time.perf_counter(), time.process_time()
        files = build_bulk_files(Path(folder) / "u_1.data", [BulkSource("Product", "user", 1, records)])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        digest = hashlib.sha256()
        with sqlite3.connect(files.data) as conn:
            for line in conn.iterdump():
                digest.update(line.encode())
        conn.close()
        sizes = (files.data.stat().st_size, files.rzip.stat().st_size)
    print(json.dumps({"s": round(wall, 3), "cpu": round(cpu, 3), "dump": digest.hexdigest(), "sizes": sizes}))


def extract_mock(rev: str, dest: Path) -> str:
    """The ``mock_server/`` folder of git revision ``rev`` under ``dest``; returns the commit id."""
    return extract_tree(ROOT, rev, "mock_server", dest)


def _run_child(mock_dir: Path, n: int, data: str) -> dict[str, Any]:
    return run_child(__file__, mock_dir, [str(n), data], "builder")


def bench_builder(n: int, repeat: int, baseline: str, data: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"new": [], "base": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        commit = extract_mock(baseline, tmp / "base")
        trees = {"new": ROOT / "mock_server", "base": tmp / "base" / "mock_server"}
        for _ in range(repeat):
            for name in ("new", "base"):  # A B A B
                runs[name].append(_run_child(trees[name], n, data))
    dumps = {r["dump"] for side in runs.values() for r in side}

    def median(side: str, key: str) -> float:
        return round(float(statistics.median(r[key] for r in runs[side])), 3)

    return {
        "bench": "build_bulk_files",
        "records": n,
        "data": data,
        "new_median_s": median("new", "s"),
        "base_median_s": median("base", "s"),
        "median_ratio_new_to_base": round(
            statistics.median(a["s"] / b["s"] for a, b in zip(runs["new"], runs["base"], strict=True)), 3
        ),
        "new_runs_s": [r["s"] for r in runs["new"]],
        "base_runs_s": [r["s"] for r in runs["base"]],
        "new_cpu_median_s": median("new", "cpu"),
        "base_cpu_median_s": median("base", "cpu"),
        "same_dump": len(dumps) == 1,
        "data_and_rzip_bytes": runs["new"][0]["sizes"],
        "baseline": f"{baseline} ({commit[:10]})",
        "load_avg": os.getloadavg(),
    }


def bench_http(n: int, repeat: int) -> dict[str, Any]:
    import requests
    from rhoconnect_mock import MockServer

    config = {"sources": {"Product": {"records": n}}, "bulk_wait_polls": 0}
    build, download = [], []
    with MockServer(config) as server:
        for i in range(repeat):
            http = requests.Session()
            http.post(server.base_url + "/rc/v1/app/login", json={"login": f"user{i}", "password": "x"})
            cid = http.post(server.base_url + "/rc/v1/clients", json={}).json()["client"]["client_id"]
            body = {"client_id": cid, "partition": "user", "sources": ["Product"]}
            # The user's master document is created on first use: do that outside the timing.
            http.get(server.base_url + "/app/v1/Product", params={"client_id": cid, "p_size": 0})
            started = time.perf_counter()
            answer = http.post(server.base_url + "/rc/v1/app/bulk_data", json=body).json()
            build.append(round(time.perf_counter() - started, 3))
            assert answer["result"] == "url", answer
            started = time.perf_counter()
            rzip = requests.get(server.base_url + answer["url"] + ".rzip")
            download.append(round(time.perf_counter() - started, 3))
            assert rzip.status_code == 200
    return {
        "bench": "HTTP bulk_data building the file, then the .rzip download (this tree)",
        "records": n,
        "data": "mock default (Faker), 5 attributes",
        "build_median_s": statistics.median(build),
        "build_runs_s": build,
        "download_median_s": statistics.median(download),
        "rzip_bytes": len(rzip.content),
        "load_avg": os.getloadavg(),
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "_child":
        _child(int(argv[1]), argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="git revision of the baseline builder")
    parser.add_argument("--data", choices=["faker", "sequence"], default="faker")
    parser.add_argument("--no-http", action="store_true", help="only the builder, side by side")
    args = parser.parse_args(argv)
    print(json.dumps(bench_builder(args.records, args.repeat, args.baseline, args.data)), flush=True)
    if not args.no_http:
        print(json.dumps(bench_http(args.records, args.repeat)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
