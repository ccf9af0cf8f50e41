"""Concurrent clients against ``rhoconnect-mock serve``: C clients (over U users) each sync N records
at the same time; every client must end with exactly the server's data. Reports the latency of
each page request (median, p99, max): from sending it to having read the whole answer, the
client's JSON decoding excluded.

    .venv/bin/python benchmarks/mock_concurrent.py --clients 50 --records 10000
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from mock_common import Client, apply, cpu_seconds, start_server
from rhoconnect_mock.config import SourceConfig
from rhoconnect_mock.seed import generate_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=32, help="server worker threads")
    args = parser.parse_args()
    expected = generate_records(SourceConfig(name="Product"), 0, args.records)
    proc, base, _ = start_server("--records", f"Product={args.records}", "--threads", str(args.threads))
    results: dict[int, bool] = {}
    retries: list[int] = []
    errors: list[BaseException] = []
    latencies: list[float] = []  # seconds per page request, every client
    start = threading.Barrier(args.clients)

    def run(i: int) -> None:
        try:
            client = Client(base)
            client.login(f"user{i % args.users}")
            client.create()
            start.wait(timeout=120)
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
            results[i] = local == expected
            retries.append(client.retries)
        except BaseException as exc:
            errors.append(exc)
            start.abort()

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        server_cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait()
    ok = sum(results.values())
    ms = sorted(t * 1000 for t in latencies) or [0.0]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{args.clients} concurrent clients x {args.records} records: {ok} exact, "
        f"{len(results) - ok} wrong, {len(errors)} failed, {elapsed:.2f} s "
        f"({args.clients * args.records / elapsed:,.0f} objects/s, server CPU {server_cpu:.2f} s); "
        f"page latency over {len(latencies)} pages: median {statistics.median(ms):.0f} ms, "
        f"p99 {p99:.0f} ms, max {ms[-1]:.0f} ms; {sum(retries)} queries sent again after a dropped connection"
    )
    if errors:
        raise errors[0]
    if ok != args.clients:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
