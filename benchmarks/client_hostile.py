"""How long the client takes to give up on a hostile server, and how much memory it uses meanwhile.

    .venv/bin/python benchmarks/client_hostile.py             # every mode, one JSON line each
    .venv/bin/python benchmarks/client_hostile.py drip token_loop

Each mode runs the real ``SyncEngine`` (default options, except a 10 s ``deadline`` for the drip
modes and a 10 s ``bulk_timeout`` for the endless bulk wait, so that the run stays short) against
the raw-socket server of ``tests/integration/hostile_server.py``, with one pending local create.
Reported per mode: seconds from ``dosync`` to its result, peak Python memory traced during the sync
(``tracemalloc``, all threads), body bytes the server managed to send, queries it received, and the
error the client reported.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from hostile_server import HostileServer
from rhoconnect_client import SyncEngine

MODES: dict[str, dict[str, Any]] = {
    "huge_length": {},
    "endless_body": {},
    "giant_page": {},
    "token_loop": {},
    "empty_loop": {},
    "drip": {"deadline": 10.0},
    "drip_headers": {"deadline": 10.0},
    "wait_forever": {"bulk_timeout": 10.0, "bulksync_state": 0},
}
SERVER_OPTIONS: dict[str, dict[str, Any]] = {
    "giant_page": {"giant_objects": 1_000_000},
    "drip": {"drip_interval": 1.0},
    "drip_headers": {"drip_interval": 1.0},
}


def run(mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, HostileServer(mode, **SERVER_OPTIONS.get(mode, {})) as srv:
        engine = SyncEngine(srv.url, Path(tmp) / "db.sqlite", **MODES[mode])
        try:
            engine.add_model("Product")
            engine.login("alice", "secret").wait(60)
            engine.model("Product").create({"name": "made offline"})
            tracemalloc.start()
            started = time.monotonic()
            result = engine.dosync().wait(900) or {}
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            intact = all(store.integrity_check() == "ok" for store in engine.stores.values())
            pending = engine.stores["user"].pending_count()
        finally:
            engine.close()
        queries = sum(1 for method, path in srv.requests if method == "GET" and "source_name=" in path)
        return {
            "mode": mode,
            "seconds": round(elapsed, 2),
            "peak_traced_mib": round(peak / 2**20, 1),
            "server_sent_mib": round(srv.sent_bytes / 2**20, 1),
            "queries": queries,
            "error_code": result.get("error_code"),
            "error_message": result.get("error_message"),
            "store_intact": intact,
            "pending_changes": pending,
        }


def main(argv: list[str]) -> None:
    for mode in argv or list(MODES):
        print(json.dumps(run(mode)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
