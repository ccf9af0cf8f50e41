"""Concurrent clients against ``rhoconnect-mock serve``: C clients (over U users) each sync N records
at the same time; every client must end with exactly the server's data. Reports the latency of
each page request (median, p99, max): from sending it to having read the whole answer.

    .venv/bin/python benchmarks/mock_concurrent.py --clients 50 --records 10000
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000 --think 30
    .venv/bin/python benchmarks/mock_concurrent.py --clients 200 --records 10000 --threads 128 --slow 32

The clients stand for devices of their own, so the load generator keeps its own CPU out of the
measurement: while the clients sync, each one only sends its requests, reads the answers and finds
the next token (a byte search in the page's first bytes); it keeps the pages it received, and they
are decoded, applied and compared with the server's data only after every client has finished.
(Decoding 400 KB pages in 200 threads beside the server on a small machine made the page latency
mostly the clients' own waiting for their interpreter lock and for a core, and it moved by 3x from
one run to the next.) ``--think MS`` is the time a client spends storing a page before asking for
the next one, a sleep here (the reference client applies a 2000-record page of the default data in
about 30 ms); 0 asks again at once, the heaviest load. The clients are threads, spread over
``--processes`` processes; ``--pin`` (Linux) gives the server the first CPU and the clients the
others.

With ``--slow S`` the same load runs twice against one server, first alone (the baseline), then
while S sockets trickle a request's headers one byte per ``--trickle-interval`` seconds
(reconnecting whenever the server cuts one off at its request deadline): do slow clients hold the
server up for the others?
"""

from __future__ import annotations

import argparse
import contextlib
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

#: One client's outcome: (index, exact, queries sent again, page latencies in seconds, failure,
#: when it started and finished syncing on ``time.monotonic``, the same clock in every process)
Result = tuple[int, bool, int, list[float], str | None, float, float]


def client_process(
    base: str, indices: list[int], args: argparse.Namespace, run_id: int, start: Barrier, out: Any
) -> None:
    """Run the clients ``indices`` as threads; put one ``Result`` per client on ``out``."""
    if args.pin:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[1:]))
    expected = generate_records(SourceConfig(name="Product"), 0, args.records)

    #: Per client: the pages it received, and (queries sent again, page latencies, failure, start, end).
    received: dict[int, list[bytes]] = {}
    outcomes: dict[int, tuple[int, list[float], str | None, float, float]] = {}

    def run(i: int) -> None:
        latencies: list[float] = []
        pages: list[bytes] = []
        started = 0.0
        client = Client(base)
        try:
            client.login(f"user{run_id}-{i % args.users}")
            client.create()
            start.wait(timeout=300)
            # While 200 clients log in on a loaded machine the first ones' keep-alive connections
            # may idle past the server's socket timeout and be closed: start on a fresh one.
            client.conn.close()
            started = time.monotonic()
            token: str | None = None
            while True:
                sent = time.perf_counter()
                body = client.fetch_page("Product", token, args.p_size)
                latencies.append(time.perf_counter() - sent)
                pages.append(body)
                token = page_token(body)
                if not token:
                    break
                if args.think:
                    time.sleep(args.think / 1000)
            received[i] = pages
            outcomes[i] = (client.retries, latencies, None, started, time.monotonic())
        except BaseException as exc:
            outcomes[i] = (client.retries, latencies, repr(exc), started, time.monotonic())
            start.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every client of this process has finished: tell the parent (it reads the server's CPU time
    # once all have), then check what each one received.
    out.put(None)
    for i in indices:
        retries, latencies, failure, started, ended = outcomes.get(i, (0, [], "no outcome", 0.0, 0.0))
        local: dict[str, dict[str, str]] = {}
        for body in received.pop(i, []):
            apply(local, json.loads(body))
        out.put((i, failure is None and local == expected, retries, latencies, failure, started, ended))


def page_token(body: bytes) -> str:
    """The token of a query answer, read from its head (``[{"version":3},{"token":"..."},...``)
    without decoding the page; a page whose head does not have that shape is an error."""
    head = body[:200]
    at = head.find(b'"token":"')
    end = head.find(b'"', at + 9)
    if at < 0 or end < 0:
        raise ValueError(f"no token at the head of the page: {head[:80]!r}")
    return head[at + 9 : end].decode()


def load(args: argparse.Namespace, base: str, proc: subprocess.Popen[str], run_id: int) -> dict[str, Any]:
    """All clients syncing at once (fresh users per run); their outcome, timing and latencies."""
    start = multiprocessing.Barrier(args.clients + 1)  # the clients and this process
    out: Any = multiprocessing.Queue()
    groups = [list(range(args.clients))[k :: args.processes] for k in range(args.processes)]
    workers = [
        multiprocessing.Process(target=client_process, args=(base, group, args, run_id, start, out))
        for group in groups
    ]
    results: list[Result] = []
    for w in workers:
        w.start()
    # Every client logged in: the load starts now (or a client failed first: it is among the results).
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=300)
    cpu0 = cpu_seconds(proc.pid)
    server_cpu = float("nan")
    synced_processes = 0
    while len(results) < args.clients:
        try:
            message = out.get(timeout=600)
        except Empty:
            break
        if message is None:  # a client process has finished syncing
            synced_processes += 1
            if synced_processes == len(workers):
                server_cpu = cpu_seconds(proc.pid) - cpu0
        else:
            results.append(message)
    # From the first client's first page to the last client's last one (the checks come after).
    synced = [r for r in results if r[5]]
    elapsed = max(r[6] for r in synced) - min(r[5] for r in synced) if synced else float("nan")
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
        "--think", type=float, default=0.0, help="ms a client waits after each page before the next (0)"
    )
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
