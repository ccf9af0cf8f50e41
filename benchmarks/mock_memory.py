"""Server memory for N records with K synced clients, against the records alone.

    .venv/bin/python benchmarks/mock_memory.py --records 1000000 --clients 10

Each measurement runs in a fresh interpreter and reports the growth of its resident set size:
``records``: the generated dataset alone; ``server``: a ``MockState`` serving that dataset (master
document, change log) with K clients of one user each synced to the end in pages of 2000 through
the same engine the HTTP routes use; ``server-users``: the same with each client a different user.
Client documents are cursors, so the ratio server/records must stay under 3.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(mode: str, records: int, clients: int) -> float:
    from rhoconnect_mock.config import MockConfig, SourceConfig
    from rhoconnect_mock.seed import generate_records
    from rhoconnect_mock.state import MockState

    source = SourceConfig(name="Product", records=records)
    base = rss_mb()
    if mode == "records":
        data = generate_records(source, 0)
        assert len(data) == records
        return rss_mb() - base
    state = MockState(MockConfig(sources=[source]))
    state.warm_up()
    for i in range(clients):
        client = state.create_client("u" if mode == "server" else f"u{i}")
        token = None
        sent = 0
        while True:
            page = state.query_page(client, "Product", token, 2000)
            sent += page.count
            token = page.token or None
            if token is None:
                break
        assert sent == records
    return rss_mb() - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--mode", choices=["records", "server", "server-users"])
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.records, args.clients)))
        return
    results = {}
    for mode in ("records", "server", "server-users"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--records",
                str(args.records),
                "--clients",
                str(args.clients),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[mode] = json.loads(out.stdout)
    print(
        f"records alone: {results['records']:.0f} MB; server with {args.clients} synced clients of one user: "
        f"{results['server']:.0f} MB (x{results['server'] / results['records']:.2f}); "
        f"{args.clients} clients of {args.clients} users: {results['server-users']:.0f} MB "
        f"(x{results['server-users'] / results['records']:.2f})"
    )


if __name__ == "__main__":
    main()
