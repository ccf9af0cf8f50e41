"""Client engine benchmarks: the real ``SyncEngine`` against ``rhoconnect-mock serve``
running in its own process, so client and server do not share a GIL.

    .venv/bin/python benchmarks/client_sync.py            # everything, results as JSON lines
    .venv/bin/python benchmarks/client_sync.py full 100000
    .venv/bin/python benchmarks/client_sync.py million    # 1,000,000 records, peak RSS
    .venv/bin/python benchmarks/client_sync.py bulk 100000
    .venv/bin/python benchmarks/client_sync.py bulk-renumber 100000
    .venv/bin/python benchmarks/client_sync.py push 10000

* ``full N``: login, then ``dosync`` of one source of N records x 5 attributes (page size 2000) into
  a fresh on-disk database, timed from ``dosync`` to ``complete``; and, in the same run against the
  same server, a raw loop doing the same requests with ``requests`` (client create, pages
  acknowledged until the token is ""), ``json.loads`` and one ``executemany`` upsert per page into
  the same tables of a database created with the same schema and pragmas. Best of 3 each.
* ``million``: ``full`` for 1,000,000 records in a child process; reports its time, the ratio to
  the 100,000 figure and the child's peak RSS (``ru_maxrss``).
* ``bulk N``: ``dosync`` with ``bulksync_state = 0`` (bulk_data polling, download, unzip, swap),
  timed end to end, the server's file build included.
* ``bulk-renumber N``: the same with a local-only model declared first, so that the file's source
  ids differ from the client's and the swap renumbers the file's rows (``bulkswap._renumber``).
* ``push N``: N local creates in one transaction (timed separately), then the ``dosync`` that
  pushes them and applies the links page(s).
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from mock_common import start_server
from rhoconnect_client import SyncEngine
from rhoconnect_client.schema import configure_connection, ensure_schema

PAGE = 2000
UPSERT = (
    "INSERT INTO object_values (source_id, attrib, object, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (object, attrib, source_id) DO UPDATE SET value=excluded.value"
)


def start_mock(records: int, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    """``rhoconnect-mock serve`` with ``records`` sequence-generated Products (``mock_common``)."""
    config = tmp / "mock.toml"
    config.write_text(
        f'bulk_wait_polls = 0\n[sources.Product]\nrecords = {records}\ngenerator = "sequence"\n',
        encoding="utf-8",
    )
    proc, base, _ = start_server("--quiet", "--config", str(config))
    return proc, base


def engine_sync(base: str, db: Path) -> float:
    engine = SyncEngine(base + "/application", db)
    try:
        engine.add_model("Product")
        assert engine.login("bench", "pw").wait(60)["error_code"] == 0  # type: ignore[index]
        started = time.perf_counter()
        result = engine.dosync(False).wait(3600)
        elapsed = time.perf_counter() - started
        assert result is not None and result["status"] == "complete", result
        return elapsed
    finally:
        engine.close()


def raw_sync(base: str, db: Path) -> float:
    """The same requests, json.loads and executemany, nothing else."""
    conn = sqlite3.connect(db, isolation_level=None)
    configure_connection(conn, on_disk=True, synchronous="FULL")
    ensure_schema(conn)
    http = requests.Session()
    app = base + "/application"
    response = http.post(
        app + "/clientlogin",
        data=b'{"login":"bench","password":"pw","remember_me":1}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    started = time.perf_counter()
    client_id = json.loads(http.get(app + "/clientcreate").content)["client"]["client_id"]
    token = ""
    first = True
    while True:
        url = f"{app}?client_id={client_id}&p_size={PAGE}&version=3&source_name=Product"
        if not first:
            url += f"&token={token}"
        page = json.loads(http.get(url).content)
        first = False
        token = page[1]["token"]
        cmd = page[5]
        conn.execute("BEGIN")
        conn.executemany(
            UPSERT, [(1, a, oid, v) for oid, attrs in cmd.get("insert", {}).items() for a, v in attrs.items()]
        )
        conn.execute("COMMIT")
        if token == "":
            break
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def count_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(DISTINCT object) FROM object_values").fetchone()[0])
    finally:
        conn.close()


def full(records: int, repeats: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_mock(records, tmp)
        try:
            engine_times, raw_times = [], []
            for i in range(repeats):
                db = tmp / f"engine{i}.sqlite"
                engine_times.append(engine_sync(base, db))
                assert count_rows(db) == records
                raw_db = tmp / f"raw{i}.sqlite"
                raw_times.append(raw_sync(base, raw_db))
                assert count_rows(raw_db) == records
        finally:
            proc.terminate()
            proc.wait()
    best, raw = min(engine_times), min(raw_times)
    return {
        "bench": "full_sync",
        "records": records,
        "engine_s": round(best, 3),
        "raw_s": round(raw, 3),
        "ratio": round(best / raw, 2),
        "engine_runs": [round(t, 3) for t in engine_times],
        "raw_runs": [round(t, 3) for t in raw_times],
    }


def million() -> dict[str, Any]:
    small = full(100_000, repeats=1)
    out = subprocess.run(
        [sys.executable, __file__, "_million_child"], capture_output=True, text=True, check=True
    )
    big = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "bench": "million",
        "records": 1_000_000,
        "engine_s": big["engine_s"],
        "engine_100k_s": small["engine_s"],
        "ratio_to_100k": round(big["engine_s"] / small["engine_s"], 2),
        "peak_rss_mb": big["peak_rss_mb"],
    }


def _million_child() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_mock(1_000_000, tmp)
        try:
            elapsed = engine_sync(base, tmp / "million.sqlite")
            assert count_rows(tmp / "million.sqlite") == 1_000_000
        finally:
            proc.terminate()
            proc.wait()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine_s": round(elapsed, 3), "peak_rss_mb": round(peak_mb, 1)}))


def bulk(records: int, renumber: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_mock(records, tmp)
        try:
            engine = SyncEngine(base + "/application", tmp / "bulk.sqlite", bulk_wait_seconds=0.05)
            try:
                if renumber:  # a local-only model takes id 1: the file's Product (1) becomes 2
                    engine.add_model("Note", sync_type="none")
                engine.add_model("Product")
                engine.login("bench", "pw").wait(60)
                engine.bulksync_state = 0
                started = time.perf_counter()
                result = engine.dosync(False).wait(3600)
                elapsed = time.perf_counter() - started
                assert result is not None and result["status"] == "complete", result
                assert engine.model("Product").count() == records
            finally:
                engine.close()
        finally:
            proc.terminate()
            proc.wait()
    name = "bulk_sync_renumbered" if renumber else "bulk_sync"
    return {"bench": name, "records": records, "engine_s": round(elapsed, 3)}


def push(creates: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_mock(10, tmp)
        try:
            engine = SyncEngine(base + "/application", tmp / "push.sqlite")
            try:
                model = engine.add_model("Product")
                engine.login("bench", "pw").wait(60)
                engine.dosync(False).wait(60)
                started = time.perf_counter()
                # One transaction for the batch (one create per transaction costs an fsync each).
                with engine.sync_mutex(), engine.stores["user"].transaction():
                    for i in range(creates):
                        model.create(
                            {"name": f"n{i}", "brand": "b", "price": "1", "quantity": "2", "sku": f"s{i}"}
                        )
                create_s = time.perf_counter() - started
                started = time.perf_counter()
                result = engine.dosync(False).wait(3600)
                push_s = time.perf_counter() - started
                assert result is not None and result["status"] == "complete", result
                assert engine.stores["user"].pending_count() == 0
                assert model.count() == creates + 10
            finally:
                engine.close()
        finally:
            proc.terminate()
            proc.wait()
    return {
        "bench": "push_creates",
        "creates": creates,
        "create_local_s": round(create_s, 3),
        "push_and_links_s": round(push_s, 3),
    }


def main(argv: list[str]) -> None:
    what = argv[0] if argv else "all"
    n = int(argv[1]) if len(argv) > 1 else None
    if what == "_million_child":
        _million_child()
        return
    runs = {
        "full": lambda: [full(n or 100_000)],
        "million": lambda: [million()],
        "bulk": lambda: [bulk(n or 100_000)],
        "bulk-renumber": lambda: [bulk(n or 100_000, renumber=True)],
        "push": lambda: [push(n or 10_000)],
        "all": lambda: [full(100_000), bulk(100_000), bulk(100_000, True), push(10_000), million()],
    }
    for result in runs[what]():
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
