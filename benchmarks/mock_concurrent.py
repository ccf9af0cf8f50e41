"""Concurrent clients against ``rhoconnect-mock serve``: C clients (over U users) each sync N records
at the same time; every client must end with exactly the server's data. Reports the latency of
each page request (median, p99, max): from sending it to having read the whole answer, the
client's JSON decoding excluded.

    .venv/bin/python benchmarks/mock_concurrent.py --clients 50 --records 10000
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000 --processes 4

The clients are threads, spread over ``--processes`` client processes: in one process, 200
threads decoding and applying pages contend for its interpreter lock, and their waiting shows up
as page latency that the server did not cause.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
from multiprocessing.synchronize import Barrier
from queue import Empty
from typing import Any

from mock_common import Client, apply, cpu_seconds, start_server
from rhoconnect_mock.config import SourceConfig
from rhoconnect_mock.seed import generate_records


def client_process(base: str, indices: list[int], args: argparse.Namespace, start: Barrier, out: Any) -> None:
    """Run the clients ``indices`` as threads; put one result tuple per client on ``out``."""
    expected = generate_records(SourceConfig(name="Product"), 0, args.records)

    def run(i: int) -> None:
        latencies: list[float] = []
        client = Client(base)
        try:
            client.login(f"user{i % args.users}")
            client.create()
            start.wait(timeout=300)
            # While 200 clients log in on a loaded machine the first ones' keep-alive connections
            # may idle past the server's socket timeout and be closed: start on a fresh one.
            client.conn.close()
            local: dict[str, dict[str, str]] = {}
            token = None
            while True:
                sent = time.perf_counter()
                body = client.fetch_page("Product", token, args.p_size)
                latencies.append(time.perf_counter() - sent)
                page = json.loads(body)
                apply(local, page)
                token = page[1]["token"]
                if not token:
                    break
            out.put((i, local == expected, client.retries, latencies, None))
        except BaseException as exc:
            out.put((i, False, client.retries, latencies, repr(exc)))
            start.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=32, help="server worker threads")
    parser.add_argument(
        "--processes", type=int, default=1, help="client processes the clients are spread over"
    )
    args = parser.parse_args()
    proc, base, _ = start_server("--records", f"Product={args.records}", "--threads", str(args.threads))
    start = multiprocessing.Barrier(args.clients)
    out: Any = multiprocessing.Queue()
    groups = [list(range(args.clients))[k :: args.processes] for k in range(args.processes)]
    workers = [
        multiprocessing.Process(target=client_process, args=(base, group, args, start, out))
        for group in groups
    ]
    results: list[tuple[int, bool, int, list[float], str | None]] = []
    try:
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        while len(results) < args.clients:
            try:
                results.append(out.get(timeout=600))
            except Empty:
                break
        elapsed = time.perf_counter() - t0
        server_cpu = cpu_seconds(proc.pid) - cpu0
        for w in workers:
            w.join(timeout=60)
    finally:
        proc.terminate()
        proc.wait()
    ok = sum(1 for r in results if r[1])
    errors = [r[4] for r in results if r[4] is not None]
    latencies = [t for r in results for t in r[3]]
    ms = sorted(t * 1000 for t in latencies) or [0.0]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{args.clients} concurrent clients x {args.records} records: {ok} exact, "
        f"{len(results) - ok - len(errors)} wrong, {len(errors) + args.clients - len(results)} failed, "
        f"{elapsed:.2f} s ({args.clients * args.records / elapsed:,.0f} objects/s, "
        f"server CPU {server_cpu:.2f} s); "
        f"page latency over {len(latencies)} pages: median {statistics.median(ms):.0f} ms, "
        f"p99 {p99:.0f} ms, max {ms[-1]:.0f} ms; "
        f"{sum(r[2] for r in results)} queries sent again after a dropped connection"
    )
    if errors:
        raise SystemExit(f"first failure: {errors[0]}")
    if ok != args.clients:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
