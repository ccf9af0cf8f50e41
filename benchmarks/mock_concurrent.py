"""Concurrent clients against ``rhoconnect-mock serve``: C clients (over U users) each sync N records
at the same time; every client must end with exactly the server's data. Reports the latency of
each page request (median, p99, max): from sending it to having read the whole answer, the
client's JSON decoding excluded.

    .venv/bin/python benchmarks/mock_concurrent.py --clients 50 --records 10000
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000 --processes 4
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000 --threads 128 --slow 32

The clients are threads, spread over ``--processes`` client processes: in one process, 200
threads decoding and applying pages contend for its interpreter lock, and their waiting shows up
as page latency that the server did not cause. On a small machine the client processes also take
CPU from the server; ``--pin`` (Linux) gives the server the first CPU and the clients the others,
as when the server runs on a machine of its own.

With ``--slow S`` the same load runs twice against one server, first alone (the baseline), then
while S sockets trickle a request's headers one byte per ``--trickle-interval`` seconds
(reconnecting whenever the server cuts one off at its request deadline): do slow clients hold the
server up for the others?
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import threading
import time
from multiprocessing.synchronize import Barrier
from queue import Empty
from typing import Any

from mock_common import Client, apply, cpu_seconds, start_server
from rhoconnect_mock.config import SourceConfig
from rhoconnect_mock.seed import generate_records

#: One client's outcome: (index, exact, queries sent again, page latencies in seconds, failure)
Result = tuple[int, bool, int, list[float], str | None]


def client_process(
    base: str, indices: list[int], args: argparse.Namespace, run_id: int, start: Barrier, out: Any
) -> None:
    """Run the clients ``indices`` as threads; put one ``Result`` per client on ``out``."""
    if args.pin:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[1:]))
    expected = generate_records(SourceConfig(name="Product"), 0, args.records)

    def run(i: int) -> None:
        latencies: list[float] = []
        client = Client(base)
        try:
            client.login(f"user{run_id}-{i % args.users}")
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


def load(args: argparse.Namespace, base: str, proc: subprocess.Popen[str], run_id: int) -> dict[str, Any]:
    """All clients syncing at once (fresh users per run); their outcome, timing and latencies."""
    start = multiprocessing.Barrier(args.clients)
    out: Any = multiprocessing.Queue()
    groups = [list(range(args.clients))[k :: args.processes] for k in range(args.processes)]
    workers = [
        multiprocessing.Process(target=client_process, args=(base, group, args, run_id, start, out))
        for group in groups
    ]
    results: list[Result] = []
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
    ok = sum(1 for r in results if r[1])
    errors = [r[4] for r in results if r[4] is not None]
    ms = sorted(t * 1000 for r in results for t in r[3]) or [0.0]
    return {
        "ok": ok,
        "wrong": len(results) - ok - len(errors),
        "failed": len(errors) + args.clients - len(results),
        "first_error": errors[0] if errors else None,
        "elapsed": elapsed,
        "server_cpu": server_cpu,
        "pages": sum(len(r[3]) for r in results),
        "median": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max": ms[-1],
        "retries": sum(r[2] for r in results),
    }


class Tricklers:
    """``count`` sockets each sending a never-ending request header, one byte per ``interval`` s."""

    def __init__(self, base: str, count: int, interval: float) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.count, self.interval = count, interval
        self.cut_off = 0  # times the server ended a trickling connection
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=5)
        sock.sendall(b"GET /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return sock

    def _run(self) -> None:
        socks = [self._connect() for _ in range(self.count)]
        while not self.stop.wait(self.interval):
            for i, sock in enumerate(socks):
                try:
                    sock.send(b"a")
                except OSError:
                    self.cut_off += 1
                    sock.close()
                    socks[i] = self._connect()
        for sock in socks:
            sock.close()

    def __enter__(self) -> Tricklers:
        self.thread.start()
        time.sleep(max(1.0, 2 * self.interval))  # every trickler holds a worker before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def report(args: argparse.Namespace, what: str, r: dict[str, Any]) -> None:
    print(
        f"{what}{args.clients} concurrent clients x {args.records} records: {r['ok']} exact, "
        f"{r['wrong']} wrong, {r['failed']} failed, {r['elapsed']:.2f} s "
        f"({args.clients * args.records / r['elapsed']:,.0f} objects/s, server CPU {r['server_cpu']:.2f} s); "
        f"page latency over {r['pages']} pages: median {r['median']:.0f} ms, "
        f"p99 {r['p99']:.0f} ms, max {r['max']:.0f} ms; "
        f"{r['retries']} queries sent again after a dropped connection",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument(
        "--threads", type=int, default=32, help="server worker threads (32, as the recorded figures)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="client processes the clients are spread over"
    )
    parser.add_argument(
        "--pin", action="store_true", help="the server on the first CPU, the client processes on the others"
    )
    parser.add_argument("--slow", type=int, default=0, help="trickling sockets during a second run")
    parser.add_argument("--trickle-interval", type=float, default=1.0)
    parser.add_argument("--request-timeout", type=float, default=None, help="the server's request deadline")
    args = parser.parse_args()
    server_args = ["--records", f"Product={args.records}", "--threads", str(args.threads)]
    if args.request_timeout is not None:
        server_args += ["--request-timeout", str(args.request_timeout)]
    proc, base, _ = start_server(*server_args)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least two CPUs")
        for task in os.listdir(f"/proc/{proc.pid}/task"):  # every thread: its workers already run
            os.sched_setaffinity(int(task), {cpus[0]})
    runs: list[dict[str, Any]] = []
    try:
        runs.append(load(args, base, proc, 0))
        report(args, "alone: " if args.slow else "", runs[-1])
        if args.slow:
            with Tricklers(base, args.slow, args.trickle_interval) as slow:
                runs.append(load(args, base, proc, 1))
            report(args, f"with {args.slow} trickling sockets ({slow.cut_off} cut off): ", runs[-1])
    finally:
        proc.terminate()
        proc.wait()
    for r in runs:
        if r["first_error"]:
            raise SystemExit(f"first failure: {r['first_error']}")
        if r["ok"] != args.clients:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
