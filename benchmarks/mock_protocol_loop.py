"""Raw protocol loop against ``rhoconnect-mock serve``: login, client create, pages of 2000
acknowledged until the empty token, over N records of 5 attributes.

    .venv/bin/python benchmarks/mock_protocol_loop.py --records 100000
    .venv/bin/python benchmarks/mock_protocol_loop.py --records 1000000

Prints the loop time (login to the final ``""`` page), the server process's CPU time during it,
the number of pages, and the time of the first and last data pages (the engine must be linear: the
last page costs about the first).
"""

from __future__ import annotations

import argparse
import statistics
import time

from mock_common import Client, cpu_seconds, start_server


def run(records: int, p_size: int) -> dict[str, float]:
    proc, base, startup = start_server("--records", f"Product={records}")
    try:
        client = Client(base)
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        client.login()
        client.create()
        token = None
        times: list[float] = []
        objects = 0
        while True:
            t = time.perf_counter()
            page = client.page("Product", token, p_size)
            times.append(time.perf_counter() - t)
            token = page[1]["token"]
            objects += page[2]["count"]
            if not token:
                break
        total = time.perf_counter() - t0
        server_cpu = cpu_seconds(proc.pid) - cpu0
        assert objects == records, (objects, records)
        data = times[:-1]
        head, tail = data[: max(1, len(data) // 10)], data[-max(1, len(data) // 10) :]
        return {
            "startup_s": startup,
            "loop_s": total,
            "server_cpu_s": server_cpu,
            "pages": len(times),
            "first_page_ms": data[0] * 1000,
            "first10pct_median_ms": statistics.median(head) * 1000,
            "last10pct_median_ms": statistics.median(tail) * 1000,
            "last_page_ms": data[-1] * 1000,
        }
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--p-size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = [run(args.records, args.p_size) for _ in range(args.repeat)]
    best = min(results, key=lambda r: r["loop_s"])
    for r in results:
        print({k: round(v, 3) for k, v in r.items()})
    print(
        f"best loop over {args.records} records: {best['loop_s']:.3f} s in {int(best['pages'])} requests; "
        f"page cost first 10% {best['first10pct_median_ms']:.1f} ms, "
        f"last 10% {best['last10pct_median_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
