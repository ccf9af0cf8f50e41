"""What the fault engine and the journal cost when no rule matches, on the raw protocol loop.

The loop is the mock server benchmark's (``mock_protocol_loop.py``): login, client create, pages
of 2000 acknowledged until the empty token, over N records of 5 attributes. Each variant runs in
its own server process; runs are interleaved so machine noise spreads over all variants:

* ``stripped``: the fault engine and the journal removed from the app (the baseline),
* ``journal``: the journal only (fault engine removed),
* ``shipped``: as shipped, with no rules,
* ``rules``: as shipped, with 10 rules that never match this traffic (search/bulk operations,
  another user).

    .venv/bin/python benchmarks/faults_overhead.py --records 100000 --repeat 7

End-to-end times on a shared machine are noisy (a few per cent between identical runs), so the
script also measures what the hooks cost per request by calling them directly (``timeit``, best
of 5) with a 2000-record page as the response; that cost times the loop's requests, over the loop
time, is the engine's share of the benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mock_common import Client

VARIANTS = ("stripped", "journal", "shipped", "rules")
NON_MATCHING = [
    {"match": {"operation": "search"}, "action": {"type": "status", "status": 500}},
    {"match": {"operation": "bulk_data"}, "action": {"type": "bulk", "result": "wait"}},
    {"match": {"operation": "bulk_file"}, "action": {"type": "corrupt_file"}},
    {"match": {"operation": "query", "user": "someone-else"}, "action": {"type": "reset"}},
    {"match": {"operation": "cud"}, "action": {"type": "adapter_error", "stage": "create"}},
    {"match": {"operation": "query", "source": "Other"}, "action": {"type": "delay", "seconds": 1}},
    {"match": {"operation": "clientregister"}, "action": {"type": "status", "status": 503}},
    {"match": {"operation": "query", "family": "classic"}, "action": {"type": "truncate"}},
    {"match": {"operation": "query", "client_id": "nobody"}, "action": {"type": "malformed_json"}},
    {"match": {"operation": "clientreset"}, "action": {"type": "status", "status": 500}},
]


def strip(app: Any, keep_journal: bool) -> None:
    """Remove the fault engine (and the journal unless kept) from a ``create_app`` app."""
    from rhoconnect_mock.faults import NetworkFaultMiddleware

    gone = {"rhoconnect_mock.faults"} | (set() if keep_journal else {"rhoconnect_mock.journal"})
    for table in (app.before_request_funcs, app.after_request_funcs):
        table[None] = [f for f in table.get(None, []) if f.__module__ not in gone]
    if isinstance(app.wsgi_app, NetworkFaultMiddleware):
        app.wsgi_app = app.wsgi_app.wsgi_app


def serve(variant: str, records: int) -> None:
    """Child process: build the app for ``variant``, print the base URL, serve until killed."""
    from rhoconnect_mock import create_app
    from rhoconnect_mock.server import make_server
    from rhoconnect_mock.state import state_of

    app = create_app({"records": {"Product": records}})
    if variant in ("stripped", "journal"):
        strip(app, keep_journal=variant == "journal")
    if variant == "rules":
        from rhoconnect_mock.faults import engine_of

        engine_of(app).add_many(NON_MATCHING)
    state_of(app).records("Product", "bench")  # generate before timing
    server = make_server(app, "127.0.0.1", 0)
    server.prepare()
    print(f"http://127.0.0.1:{server.bind_addr[1]}", flush=True)
    server.serve()


def hook_costs_us(iterations: int) -> dict[str, float]:
    """Best-of-5 cost (microseconds) per request of each hook, called directly in a request context.

    A page of 2000 records is the response, so the journal's body excerpt is measured at its real
    size. Requests through a server are too noisy on a shared machine to resolve microseconds.
    """
    import timeit

    import flask
    from rhoconnect_mock import create_app
    from rhoconnect_mock.faults import NetworkFaultMiddleware, engine_of
    from rhoconnect_mock.request_info import RequestInfo

    app = create_app({"records": {"Product": 10}})
    hooks = app.before_request_funcs[None] + app.after_request_funcs[None]
    modules = ("rhoconnect_mock.faults", "rhoconnect_mock.journal")
    mine = {m: [f for f in hooks if f.__module__ == m] for m in modules}
    fault_before, fault_after = mine["rhoconnect_mock.faults"]
    journal_start, journal_finish = mine["rhoconnect_mock.journal"]
    page = (
        b"["
        + b",".join(
            b'{"%d":{"name":"xxxxxxxxxxxx","brand":"yyyyyyyy","price":"12.50"}}' % i for i in range(2000)
        )
        + b"]"
    )

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [page]

    middleware = NetworkFaultMiddleware(inner, engine_of(app))
    costs: dict[str, float] = {}

    def best(stmt: Any) -> float:
        return min(timeit.repeat(stmt, number=iterations, repeat=5)) / iterations * 1e6

    with app.test_request_context("/app/v1/Product?p_size=2000"):
        flask.g.rc = RequestInfo(
            operation="query", family="rest", source="Product", user="bench", client_id="c"
        )
        response = flask.Response(page, content_type="application/json")
        costs["faults, no rules"] = best(
            lambda: (fault_before(), fault_after(response), middleware({}, lambda s, h: None))
        )
        engine_of(app).add_many(NON_MATCHING)
        costs["faults, 10 rules none matching"] = best(
            lambda: (fault_before(), fault_after(response), middleware({}, lambda s, h: None))
        )
        costs["journal"] = best(lambda: (journal_start(), journal_finish(response)))
    return costs


def run(variant: str, records: int, p_size: int) -> float:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", variant, "--records", str(records)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        client = Client(base)
        t0 = time.perf_counter()
        client.login()
        client.create()
        token, objects = None, 0
        while True:
            page = client.page("Product", token, p_size)
            token = page[1]["token"]
            objects += page[2]["count"]
            if not token:
                break
        elapsed = time.perf_counter() - t0
        assert objects == records, (objects, records)
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.records)
        return
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeat):
        for variant in VARIANTS:
            times[variant].append(run(variant, args.records, args.p_size))
    base = min(times["stripped"])
    requests_in_loop = 2 + -(-args.records // args.p_size) + 1
    print(
        f"end to end: {args.records} records, pages of {args.p_size} ({requests_in_loop} requests), "
        f"{args.repeat} interleaved runs per variant"
    )
    for variant in VARIANTS:
        best = min(times[variant])
        print(
            f"  {variant:9s} min {best:.3f} s  median {statistics.median(times[variant]):.3f} s  "
            f"min vs stripped {100 * (best - base) / base:+.1f}%"
        )
    costs = hook_costs_us(iterations=20_000)
    print(f"per-request cost of the hooks, called directly; share of the best stripped loop ({base:.3f} s):")
    for name, cost in costs.items():
        share = 100 * cost * 1e-6 * requests_in_loop / base
        print(f"  {name:32s} {cost:6.2f} us/request  = {share:.4f}% of the loop")


if __name__ == "__main__":
    main()
