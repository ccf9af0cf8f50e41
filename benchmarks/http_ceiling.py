"""How low page latency can go on this machine: the mock's concurrent load against servers that do nothing.

    .venv/bin/python benchmarks/http_ceiling.py --clients 200 --records 10000 --rounds 3

C clients (threads over ``--processes`` processes, keep-alive ``http.client``) each ask for
``records / p-size + 1`` pages at once, as ``mock_concurrent.py`` does against the mock, from
three servers in turn (A B C A B C): cheroot with a bare WSGI callable, cheroot with a one-route
Flask app (both configured as the mock's server: 32 threads, the same queue sizes), and the mock
itself through ``mock_concurrent.load``. The two bare servers answer every request with the bytes
of a real first page of the mock's default data (taken from a mock before the runs), so the three
send the same answers; they only skip the protocol. The gap between the bare WSGI server and the
Flask one is what Flask's request handling costs under this load; the gap between Flask and the
mock is the mock's own work per request.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from mock_common import Client, cpu_seconds, start_server
from mock_concurrent import load as mock_load

THREADS = 32  # the server threads of the figures recorded for the mock


def serve(kind: str, port: int, body_file: str) -> None:
    """Child process: a bare server answering every request with the file's bytes."""
    from cheroot import wsgi

    body = Path(body_file).read_bytes()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def bare(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", headers)
        return [body]

    app: Any = bare
    if kind == "flask":
        from flask import Flask, Response

        app = Flask("ceiling")

        @app.get("/app/v1/<source>")
        def query(source: str) -> Response:
            return Response(body, content_type="application/json")

    server = wsgi.Server(
        ("127.0.0.1", port), app, numthreads=THREADS, request_queue_size=256, accepted_queue_size=-1
    )
    server.keep_alive_conn_limit = 4096
    server.prepare()
    print("ready", flush=True)
    server.serve()


def client_process(port: int, count: int, pages: int, start: Any, out: Any) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        try:
            conn.request("GET", "/app/v1/Product")  # connected and warm, like a logged-in client
            conn.getresponse().read()
            start.wait(timeout=300)
            for page in range(pages):
                sent = time.perf_counter()
                conn.request("GET", f"/app/v1/Product?p_size=2000&page={page}")
                conn.getresponse().read()
                mine.append(time.perf_counter() - sent)
        except Exception as exc:
            failures.append(repr(exc))
            start.abort()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, failures))


def bare_round(kind: str, body_file: str, args: argparse.Namespace) -> dict[str, Any]:
    with socket_port() as port:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--port", str(port), "--body", body_file],
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        pages = args.records // args.p_size + 1
        start = multiprocessing.Barrier(args.clients + 1)
        out: Any = multiprocessing.Queue()
        shares = [len(range(args.clients)[k :: args.processes]) for k in range(args.processes)]
        workers = [
            multiprocessing.Process(target=client_process, args=(port, n, pages, start, out)) for n in shares
        ]
        for w in workers:
            w.start()
        start.wait(timeout=300)
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        latencies: list[float] = []
        failures: list[str] = []
        for _ in workers:
            got, failed = out.get(timeout=600)
            latencies += got
            failures += failed
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        for w in workers:
            w.join(timeout=60)
    finally:
        proc.terminate()
        proc.wait()
    ms = sorted(t * 1000 for t in latencies) or [0.0]
    return {
        "pages": len(latencies),
        "failed": len(failures),
        "elapsed": elapsed,
        "server_cpu": cpu,
        "median": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max": ms[-1],
    }


class socket_port:
    """A free loopback port (released before the child binds it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def first_page(args: argparse.Namespace, dest: Path) -> int:
    """Write the bytes of a real first page of the mock's default data to ``dest``; its size."""
    proc, base, _ = start_server("--records", f"Product={args.records}")
    try:
        client = Client(base)
        client.login("ceiling")
        client.create()
        body = client.fetch_page("Product", None, args.p_size)
    finally:
        proc.terminate()
        proc.wait()
    dest.write_bytes(body)
    return len(body)


def mock_round(args: argparse.Namespace, run_id: int) -> dict[str, Any]:
    proc, base, _ = start_server("--records", f"Product={args.records}", "--threads", str(THREADS))
    try:
        mock_args = argparse.Namespace(
            clients=args.clients,
            processes=args.processes,
            records=args.records,
            users=5,
            p_size=args.p_size,
            think=0.0,
            pin=False,
        )
        result = mock_load(mock_args, base, proc, run_id)
    finally:
        proc.terminate()
        proc.wait()
    result["failed"] += result["wrong"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4, help="client processes (4)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=["wsgi", "flask"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.body)
        return
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "page.json"
        size = first_page(args, body_file)
        load = os.getloadavg()
        print(f"a first page of {args.p_size} default records: {size:,} bytes; load average {load}")
        rows: dict[str, list[dict[str, Any]]] = {"wsgi": [], "flask": [], "mock": []}
        for run in range(args.rounds):
            for kind in rows:
                r = mock_round(args, run) if kind == "mock" else bare_round(kind, str(body_file), args)
                rows[kind].append(r)
                print(
                    f"round {run + 1} {kind:5}: {r['pages']} pages, {r['failed']} failed, "
                    f"{r['elapsed']:.2f} s, server CPU {r['server_cpu']:.2f} s; median {r['median']:.0f} ms, "
                    f"p99 {r['p99']:.0f} ms, max {r['max']:.0f} ms",
                    flush=True,
                )
        for kind, results in rows.items():
            p99 = statistics.median(r["p99"] for r in results)
            median = statistics.median(r["median"] for r in results)
            print(f"{kind:5}: page latency median of rounds: median {median:.0f} ms, p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
