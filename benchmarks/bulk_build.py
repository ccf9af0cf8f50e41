"""How long the mock takes to build a bulk file, alone and through HTTP.

Run:  .venv/bin/python benchmarks/bulk_build.py [--records 100000] [--repeat 3]

1. ``build_bulk_files`` alone: the SQLite database (object_values, indexes, VACUUM) plus the
   ``.rzip`` and ``.gzip`` archives for N records of 5 attributes.
2. Through HTTP against a live ``MockServer`` with ``bulk_wait_polls = 0``: the ``bulk_data``
   call that builds the file, then the download of the ``.rzip``.
Prints one line per measurement (best and median of ``--repeat`` runs); the builder also
reports its CPU time, which stays meaningful when other processes share the cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from rhoconnect_mock import MockServer
from rhoconnect_mock.bulkfile import BulkSource, build_bulk_files


def _records(n: int) -> dict[str, dict[str, str]]:
    return {
        str(i): {
            "name": f"Product {i}",
            "brand": f"Brand {i % 7}",
            "price": f"{i * 1.25:.2f}",
            "quantity": str(i % 1000),
            "sku": f"SKU-{i:06d}",
        }
        for i in range(1, n + 1)
    }


def _report(label: str, times: list[float]) -> None:
    print(f"{label}: best {min(times):.3f} s, median {statistics.median(times):.3f} s ({len(times)} runs)")


def bench_builder(n: int, repeat: int) -> None:
    records = _records(n)
    times, cpu = [], []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            source = BulkSource("Product", "user", 1, records)
            files = build_bulk_files(Path(folder) / f"u_{i}.data", [source])
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        sizes = (files.data.stat().st_size, files.rzip.stat().st_size)
    _report(f"build_bulk_files, {n} records x 5 attributes (wall)", times)
    # CPU time of all threads: what the build costs when the machine is busy with other work.
    _report(f"build_bulk_files, {n} records x 5 attributes (CPU, all threads)", cpu)
    print(f"  .data {sizes[0] / 1e6:.1f} MB, .rzip {sizes[1] / 1e6:.1f} MB")


def bench_http(n: int, repeat: int) -> None:
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
            build.append(time.perf_counter() - started)
            assert answer["result"] == "url", answer
            started = time.perf_counter()
            rzip = requests.get(server.base_url + answer["url"] + ".rzip")
            download.append(time.perf_counter() - started)
            assert rzip.status_code == 200
    _report(f"HTTP bulk_data building the file, {n} records", build)
    _report(f"HTTP download of the .rzip ({len(rzip.content) / 1e6:.1f} MB)", download)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_builder(args.records, args.repeat)
    bench_http(args.records, args.repeat)


if __name__ == "__main__":
    main()
