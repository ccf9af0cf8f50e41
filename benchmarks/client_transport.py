"""What the guarded transport (overall deadline, streamed body under a size cap, redirect check,
helper thread) costs per page, against bare ``requests`` in the same run.

    .venv/bin/python benchmarks/client_transport.py            # 2000-object pages, 10 rounds of 20
    .venv/bin/python benchmarks/client_transport.py 2000 10 20

The mock runs as ``rhoconnect-mock serve`` in its own process. One client id gets a page of
``p_size`` objects (5 attributes); every later request carries a token other than the page's, so the
server re-sends that same page each time (RhoConnect 7.8 behaviour): every request moves the same
bytes. Rounds alternate: ``count`` requests with ``requests.Session().get(url).content``, then
``count`` with ``Transport.query``. Reported: the best and median round of each, per request, in
wall time and in CPU time of this process (the server's CPU is in the other process), which is
the figure that stays meaningful on a loaded machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from client_sync import start_mock
from rhoconnect_client.transport import Transport


def main(argv: list[str]) -> None:
    p_size = int(argv[0]) if argv else 2000
    rounds = int(argv[1]) if len(argv) > 1 else 10
    count = int(argv[2]) if len(argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_mock(p_size * 2, Path(tmp))
        try:
            print(json.dumps(measure(base + "/application", p_size, rounds, count)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def measure(app: str, p_size: int, rounds: int, count: int) -> dict[str, object]:
    transport = Transport(app)
    transport.session = transport.login(b'{"login":"bench","password":"pw","remember_me":1}')
    client_id = json.loads(transport.client_create())["client"]["client_id"]
    first = transport.query("Product", client_id=client_id, page_size=p_size, token=None)
    size = len(first)
    url = transport.query_url("Product", client_id=client_id, page_size=p_size, token=1)
    raw = requests.Session()
    headers = {"Cookie": transport.session or "", "X-RhoConnect-CLIENT-ID": client_id}
    timings: dict[str, list[tuple[float, float]]] = {"requests": [], "transport": []}
    for _ in range(rounds):
        for name in ("requests", "transport"):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                if name == "requests":
                    body = raw.get(url, headers=headers).content
                else:
                    body = transport.query("Product", client_id=client_id, page_size=p_size, token=1)
                assert len(body) == size
            timings[name].append(
                ((time.perf_counter() - wall) / count * 1000, (time.process_time() - cpu) / count * 1000)
            )
    transport.close()
    result: dict[str, object] = {"bench": "transport_page", "p_size": p_size, "page_bytes": size}
    for name, runs in timings.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        result[name] = {
            "wall_ms_best": round(min(walls), 2),
            "wall_ms_median": round(statistics.median(walls), 2),
            "cpu_ms_best": round(min(cpus), 2),
            "cpu_ms_median": round(statistics.median(cpus), 2),
        }
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
