"""A process killed in the middle of page applies reopens consistent and loses no pending change.

A subprocess applies 2000-object pages in a loop while it also creates local objects and starts and
fails pushes; it reports each local create on stdout only after the commit. The parent SIGKILLs it at
a random moment, reopens the database and checks: ``integrity_check`` ok, every reported create still
present and still queued, and the stored token matches exactly the pages whose data is there.

The kill moments are random. Each test prints its seed (``crash seed: N``; pytest shows it with a
failure, or always with ``-s``); ``pytest tests/unit/client/test_crash.py --crash-seed N`` asks for the
same moments again. The seed fixes the delays, not the machine's speed: on a loaded machine the worker
may be at another point of its loop when the same delay ends, so rerun on the same machine, quiet.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from rhoconnect_client.models import Model
from rhoconnect_client.store import Store

PAGE_OBJECTS = 2000

WORKER = textwrap.dedent(
    """
    import sys
    from rhoconnect_client.models import Model
    from rhoconnect_client.protocol import Page
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    store.register_source("Product")
    model = Model(store, "Product")
    n = int(sys.argv[2])
    print("ready", flush=True)
    while True:
        token = max(store.source(1).token, 1) + 1
        insert = {
            f"p{token}-{i}": {"page": str(token), "a": "x" * 20, "b": str(i), "c": "y", "d": "z"}
            for i in range(PAGE_OBJECTS)
        }
        insert["marker"] = {"page": str(token)}
        page = Page(version=3, token=token, count=len(insert), progress_count=0, total_count=0,
                    source=None, insert=insert, delete={}, links={}, metadata=None,
                    schema_changed=False, errors=None)
        store.apply_page(1, page)
        model.create({"object": f"L{n}", "n": str(n)})
        print(f"L{n}", flush=True)
        n += 1
        if n % 3 == 0:
            store.begin_push(1)
            store.push_failed(1)
        elif n % 3 == 1:
            store.begin_push(1)  # left in flight: a crash here must not lose the rows
    """
).replace("PAGE_OBJECTS", str(PAGE_OBJECTS))


def kill_after(proc: subprocess.Popen[str], delay: float) -> None:
    """SIGKILL ``proc`` once ``delay`` seconds have passed; a worker that ended by itself before then
    (a crash of its own, not ours) fails the test with its error output."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(delay)
        _, err = proc.communicate()
        pytest.fail(f"the worker ended by itself with status {proc.returncode} before the kill:\n{err}")
    proc.send_signal(signal.SIGKILL)


def collect(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Output of a killed worker, including lines ``readline`` already buffered with "ready"
    (``communicate`` would read past that buffer and lose them)."""
    proc.wait(timeout=30)
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:  # closed here, not left to the garbage collector
        return proc.stdout.read(), proc.stderr.read()


def run_and_kill(worker: str, args: list[str], delay: float) -> list[str]:
    """Run ``worker`` (a script over this checkout's client) with ``args``, wait for its ``ready``,
    kill it with SIGKILL ``delay`` seconds later; returns the ``L...`` lines it printed (what it
    reported done before the kill)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3] / "client"))
    proc = subprocess.Popen(
        [sys.executable, "-c", worker, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    kill_after(proc, delay)
    out, err = collect(proc)
    assert proc.returncode == -signal.SIGKILL, err
    return [line for line in out.split() if line.startswith("L")]


def test_sigkill_during_page_applies(tmp_path: Path, crash_seed: int) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random(crash_seed)
    reported: list[str] = []
    for round_no in range(3):
        reported += run_and_kill(WORKER, [str(db), str(round_no * 1000)], rng.uniform(0.2, 0.9))
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            model = Model(store, "Product")
            for oid in reported:  # every committed local create is still there and still queued
                assert model.find(oid) is not None, oid
            creates = store.conn.execute("SELECT object FROM changed_values WHERE update_type='create'")
            queued = {r[0] for r in creates}
            assert set(reported) <= queued
            token = store.source("Product").token  # type: ignore[union-attr]
            if token > 1:
                marker = model.find("marker")
                assert marker is not None and marker["page"] == str(token)
                assert model.count({"page": str(token)}) == PAGE_OBJECTS + 1
                assert model.count({"page": str(token + 1)}) == 0
            batch = store.begin_push(1)  # rows left in flight are sent again, none lost
            # Nothing to send only when the worker never got to report a create (a slow start).
            assert (batch is None and not reported) or (
                batch is not None and set(reported) <= set(batch.create)
            ), (reported, batch)
            store.push_failed(1)
    assert reported, "the worker never reported a create before it was killed"


SWAP_WORKER = textwrap.dedent(
    """
    import sys
    from rhoconnect_client.models import Model
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    store.register_source("Product")
    model = Model(store, "Product")
    n = int(sys.argv[3])
    print("ready", flush=True)
    while True:
        model.create({"object": f"L{n}", "n": str(n)})
        print(f"L{n}", flush=True)
        n += 1
        store.install_bulk_database(sys.argv[2])
    """
)


def _kill_swaps(tmp_path: Path, crash_seed: int, worker: str, check: Callable[[Store], None]) -> None:
    """Three rounds of a ``worker`` that creates and swaps in a bulk file of 3000 Products in a
    loop, killed at a random moment: after each the database reopens whole (``check`` adds its
    own assertions), every reported create is there and pending, and the file's rows are all in
    or none."""
    from test_store_bulk import make_bulk_file

    bulk = make_bulk_file(tmp_path / "bulk.data", products=3000)
    db = tmp_path / "swap.db"
    rng = random.Random(crash_seed)
    reported: list[str] = []
    for round_no in range(3):
        reported += run_and_kill(worker, [str(db), str(bulk), str(round_no * 1000)], rng.uniform(0.2, 0.8))
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            check(store)
            model = Model(store, "Product")
            for oid in reported:
                assert model.find(oid) is not None, oid
            product = store.source("Product")
            assert product is not None
            batch = store.begin_push(product.source_id)
            # Nothing to send only when the worker never got to report a create (a slow start).
            assert (batch is None and not reported) or (
                batch is not None and set(reported) <= set(batch.create)
            ), (reported, batch)
            store.push_failed(product.source_id)
            server_rows = 3000 if model.find("1") is not None else 0  # swapped at least once or not
            assert model.count() - server_rows in (len(reported), len(reported) + 1)  # +1: killed pre-print
        assert not (tmp_path / "swap.db.bulk-new").exists()


def test_sigkill_during_bulk_swaps(tmp_path: Path, crash_seed: int) -> None:
    """Killed anywhere in a swap (copy, merge, journal switch, rename), the database reopens whole."""

    def in_wal_mode(store: Store) -> None:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    _kill_swaps(tmp_path, crash_seed, SWAP_WORKER, in_wal_mode)


RENUMBER_SWAP_WORKER = textwrap.dedent(
    """
    import shutil, sys
    from pathlib import Path
    from rhoconnect_client.models import Model
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    store.register_source("Local", sync_type="none")  # id 1: the file's Product (1) becomes 2
    store.register_source("Product")
    model = Model(store, "Product")
    n = int(sys.argv[3])
    download = Path(sys.argv[1] + ".download")
    print("ready", flush=True)
    while True:
        model.create({"object": f"L{n}", "n": str(n)})
        print(f"L{n}", flush=True)
        n += 1
        shutil.copyfile(sys.argv[2], download)  # as the bulk sync's own download, given away
        store.install_bulk_database(download, take=True)
    """
)


def test_sigkill_during_renumbering_swaps_of_a_given_file(tmp_path: Path, crash_seed: int) -> None:
    """The path the bulk sync takes: the download is moved into place (not copied), its ids are
    renumbered and its indexes rebuilt without a journal. Killed anywhere, the database reopens
    whole, with the local ids, every reported create pending, and the file's rows all or none."""

    def local_ids_kept(store: Store) -> None:
        ids = {s.name: s.source_id for s in store.sources()}
        assert ids["Local"] == 1 and ids["Product"] == 2, ids
        assert store.conn.execute("SELECT count(*) FROM object_values WHERE source_id=1").fetchone()[0] == 0

    _kill_swaps(tmp_path, crash_seed, RENUMBER_SWAP_WORKER, local_ids_kept)


CREATE_WORKER = textwrap.dedent(
    """
    import sys
    from rhoconnect_client.models import Model
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    store.register_source("Product")
    model = Model(store, "Product")
    print("ready", flush=True)
    while True:
        obj = model.create({"name": "n", "brand": "b", "price": "1", "quantity": "2", "sku": "s"})
        print("L" + obj["object"], flush=True)
    """
)


def test_sigkill_right_after_creates(tmp_path: Path, crash_seed: int) -> None:
    """Creates in a tight loop (each its own commit without fsync, written ahead and folded every
    2,000, the log flushed behind them): killed with creates pending, or now and then in a fold,
    every create that returned is there once, and queued once, after the next open."""
    db = tmp_path / "creates.db"
    rng = random.Random(crash_seed)
    reported: list[str] = []
    for _ in range(2):
        reported += [line[1:] for line in run_and_kill(CREATE_WORKER, [str(db)], rng.uniform(0.3, 1.2))]
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            found = {
                oid: count
                for oid, count in store.conn.execute(
                    "SELECT object, count(*) FROM object_values GROUP BY object"
                )
            }
            creates = store.conn.execute("SELECT object FROM changed_values WHERE update_type='create'")
            queued = [r[0] for r in creates]
            assert len(queued) == len(set(queued)) == len(found)  # one marker per object, no duplicate
            for oid in reported:
                assert found.get(oid) == 5, oid  # all five attributes, once
            assert set(reported) <= set(queued)
    assert reported, "the worker never reported a create before it was killed"


BUILD_WORKER = textwrap.dedent(
    """
    import sys
    from rhoconnect_client.models import Model
    from rhoconnect_client.protocol import Page
    from rhoconnect_client.schema import DEFERRABLE_INDEXES
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    sid = store.register_source("Product").source_id
    model = Model(store, "Product")
    n = int(sys.argv[2])
    if store.source(sid).token == 0:  # the first round loads the server's objects
        assert store.defer_indexes(sid, 100_000)
        for token in range(2, 2 + LOAD_PAGES):
            insert = {f"s{token}-{i}": {"a": f"v{i * 7919 % 10007}", "b": str(i)} for i in range(2000)}
            store.apply_page(sid, Page(version=3, token=token, count=len(insert), progress_count=0,
                                       total_count=0, source=None, insert=insert, delete={}, links={},
                                       metadata=None, schema_changed=False, errors=None))
        store.build_indexes()
    print("ready", flush=True)
    while True:
        model.create({"object": f"L{n}", "n": str(n)})
        print(f"L{n}", flush=True)
        n += 1
        with store.transaction() as conn:  # as after a crash mid-load: the indexes are gone
            for name in DEFERRABLE_INDEXES:
                conn.execute(f"DROP INDEX {name}")
        store.indexes_deferred = True
        store.build_indexes()
    """
).replace("LOAD_PAGES", "10")


def test_sigkill_during_index_builds(tmp_path: Path, crash_seed: int) -> None:
    """Killed anywhere in the index build after a first load (run under a rollback journal, then
    back to WAL), the database reopens whole: every row, the Rhodes indexes, WAL mode."""
    db = tmp_path / "build.db"
    rng = random.Random(crash_seed)
    reported: list[str] = []
    for round_no in range(4):
        reported += run_and_kill(BUILD_WORKER, [str(db), str(round_no * 1000)], rng.uniform(0.05, 0.6))
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
            assert {"by_src_id", "by_src_object", "by_src_value"} <= names
            model = Model(store, "Product")
            for oid in reported:
                assert model.find(oid) is not None, oid
            local = model.count() - 10 * 2000
            assert local in (len(reported), len(reported) + 1)  # +1: killed between commit and print
            assert model.count({"b": "7"}) == 10  # read through by_src_value


READ_AHEAD_WORKER = textwrap.dedent(
    """
    import json, sys
    from rhoconnect_client.overlap import PageReader
    from rhoconnect_client.store import Store

    store = Store(sys.argv[1])
    sid = store.register_source("Product").source_id
    reader = PageReader()
    print("ready", flush=True)
    while True:
        token = max(store.source(sid).token, 1) + 1
        insert = {f"p{token}-{i}": {"page": str(token), "a": "x" * 20, "b": str(i)}
                  for i in range(PAGE_OBJECTS)}
        insert["marker"] = {"page": str(token)}
        head = [{"version": 3}, {"token": str(token)}, {"count": len(insert)}, {"progress_count": 0},
                {"total_count": 0}]
        data = json.dumps(head + [{"insert": insert}]).encode()
        page, applied = reader.read(store, sid, data, lambda p: None)
        if applied is None:
            store.apply_page(sid, page)
    """
).replace("PAGE_OBJECTS", str(PAGE_OBJECTS))


def test_sigkill_during_pages_applied_while_parsed(tmp_path: Path, crash_seed: int) -> None:
    """Killed while pages are written from their text and parsed at once, the database reopens whole
    and its token names exactly the last page whose rows are all there."""
    db = tmp_path / "ahead.db"
    rng = random.Random(crash_seed)
    for _ in range(3):
        run_and_kill(READ_AHEAD_WORKER, [str(db)], rng.uniform(0.2, 0.9))
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            model = Model(store, "Product")
            token = store.source("Product").token  # type: ignore[union-attr]
            if token > 1:
                marker = model.find("marker")
                assert marker is not None and marker["page"] == str(token)
                assert model.count({"page": str(token)}) == PAGE_OBJECTS + 1
                assert model.count({"page": str(token + 1)}) == 0
