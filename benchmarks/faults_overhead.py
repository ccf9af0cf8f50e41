"""What the fault engine and the journal cost when no rule matches, on the raw protocol loop.

The loop is the mock server benchmark's (``mock_protocol_loop.py``): login, client create, pages
of 2000 acknowledged until the empty token, over N records of 5 attributes. Each variant runs in
its own server process; runs are interleaved so machine noise spreads over all variants:

* ``shipped``: as shipped, with no rules,
* ``rules``: as shipped, with 10 rules that never match this traffic (search/bulk operations,
  another user).

    .venv/bin/python benchmarks/faults_overhead.py --records 100000 --repeat 7

The fault engine and the journal are steps of the request pipeline, which is the app's dispatch,
so there is no app without them to compare with end to end; the script measures what those steps
cost per request by calling them directly (``timeit``, best of 5) with a 2000-record page as the
response. That cost times the loop's requests, over the loop time, is their share of the loop.
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

VARIANTS = ("shipped", "rules")
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


def serve(variant: str, records: int) -> None:
    """Child process: build the app for ``variant``, print the base URL, serve until killed."""
    from rhoconnect_mock import create_app
    from rhoconnect_mock.server import make_server
    from rhoconnect_mock.state import state_of

    app = create_app({"records": {"Product": records}})
    if variant == "rules":
        from rhoconnect_mock.faults import engine_of

        engine_of(app).add_many(NON_MATCHING)
    state_of(app).records("Product", "bench")  # generate before timing
    server = make_server(app, "127.0.0.1", 0)
    server.prepare()
    print(f"http://127.0.0.1:{server.bind_addr[1]}", flush=True)
    server.serve()


def step_costs_us(iterations: int) -> dict[str, float]:
    """Best-of-5 cost (microseconds) per request of the pipeline's fault and journal steps.

    Called directly in a request context, with a page of 2000 records as the answer, so the
    journal's body excerpt is measured at its real size. Requests through a server are too noisy
    on a shared machine to resolve microseconds.
    """
    import timeit

    import flask
    from rhoconnect_mock import create_app
    from rhoconnect_mock.exchange import Exchange
    from rhoconnect_mock.faults import engine_of
    from rhoconnect_mock.journal import journal_of
    from rhoconnect_mock.pipeline import MockFlask
    from rhoconnect_mock.request_info import RequestInfo

    app = create_app({"records": {"Product": 10}})
    assert isinstance(app, MockFlask)
    pipeline, engine, journal = app.pipeline, engine_of(app), journal_of(app)
    page = (
        b"["
        + b",".join(
            b'{"%d":{"name":"xxxxxxxxxxxx","brand":"yyyyyyyy","price":"12.50"}}' % i for i in range(2000)
        )
        + b"]"
    )
    costs: dict[str, float] = {}

    def best(stmt: Any) -> float:
        return min(timeit.repeat(stmt, number=iterations, repeat=5)) / iterations * 1e6

    with app.test_request_context("/app/v1/Product?p_size=2000"):
        rc = RequestInfo(operation="query", family="rest", source="Product", user="bench", client_id="c")
        exchange = Exchange(method="GET", path="/app/v1/Product", query_string="p_size=2000", rc=rc)
        response = flask.Response(page, content_type="application/json")

        def faults() -> None:
            engine.plan(pipeline._decide(exchange, rc))

        def journal_step() -> None:
            entry = Exchange(method="GET", path="/app/v1/Product", query_string="p_size=2000", rc=rc)
            entry.answered(flask.request, response, journal.body_limit)
            entry.close(journal)

        costs["faults, no rules"] = best(faults)
        engine.add_many(NON_MATCHING)
        costs["faults, 10 rules none matching"] = best(faults)
        costs["journal"] = best(journal_step)
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
    base = min(times["shipped"])
    requests_in_loop = 2 + -(-args.records // args.p_size) + 1
    print(
        f"end to end: {args.records} records, pages of {args.p_size} ({requests_in_loop} requests), "
        f"{args.repeat} interleaved runs per variant"
    )
    for variant in VARIANTS:
        best = min(times[variant])
        print(
            f"  {variant:9s} min {best:.3f} s  median {statistics.median(times[variant]):.3f} s  "
            f"min vs shipped {100 * (best - base) / base:+.1f}%"
        )
    costs = step_costs_us(iterations=20_000)
    print(f"per-request cost of the pipeline steps, called directly; share of the best loop ({base:.3f} s):")
    for name, cost in costs.items():
        share = 100 * cost * 1e-6 * requests_in_loop / base
        print(f"  {name:32s} {cost:6.2f} us/request  = {share:.4f}% of the loop")


if __name__ == "__main__":
    main()
