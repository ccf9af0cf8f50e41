"""Client speed on the mock's default generated data (Faker, 5 attributes), against a baseline client.

    .venv/bin/python benchmarks/client_speed.py full 100000 [--repeat 3] [--baseline REV]
    .venv/bin/python benchmarks/client_speed.py creates 10000 [--repeat 3] [--baseline REV]
    .venv/bin/python benchmarks/client_speed.py bulk-renumber 100000 [--repeat 3] [--baseline REV]
    .venv/bin/python benchmarks/client_speed.py bulk-renumber-warm 100000 [--repeat 3] [--baseline REV]
    .venv/bin/python benchmarks/client_speed.py million              # 100k then 1M, this client only
    .venv/bin/python benchmarks/client_speed.py phases full 100000 [--repeat 3]
    .venv/bin/python benchmarks/client_speed.py phases bulk-renumber 100000 [--repeat 3]
    .venv/bin/python benchmarks/client_speed.py phases bulk-renumber-warm 100000 [--repeat 3]

The server is ``rhoconnect-mock serve --records Product=N`` in its own process (the default
generator: Faker values, attributes name, brand, price, quantity, sku). Every client run is a fresh
child process (``_child``) with ``PYTHONPATH`` pointing at one client's sources: this tree's
``client/`` ("new") or the client of git revision ``REV`` extracted with ``git archive`` ("base",
default ``main``). The two alternate A B A B against the same server, so load spikes on the shared
machine hit both; medians and the median ratio are reported as one JSON line per benchmark.

* ``full N``: login, then ``dosync`` of Product into a fresh on-disk database, timed from ``dosync``
  to ``complete``;
* ``creates N``: N ``Model.create`` calls, each its own transaction (no ``sync_mutex``), timed up to
  the ``count()`` after them that sees them all;
* ``bulk-renumber N``: a local-only model declared first, so the bulk file's source ids are
  renumbered, then ``dosync`` with ``bulksync_state = 0``, timed end to end (server build included);
* ``bulk-renumber-warm N``: the same sync with the user's bulk file already built, so only the
  client's part is timed (``bulk_data`` answering the url at once, download, unzip, swap, the pull
  after it). RhoConnect reuses a completed bulk file until its refresh time passes, and the mock
  reuses one per (partition, user) until the data change: a warm-up ``bulk_data`` of the run's user
  builds it before the runs, which all use that one user;
* ``million``: ``full`` of 100,000 then of 1,000,000 records with this client; the ratio of the two
  and the 1M child's peak RSS (``ru_maxrss``);
* ``phases full|bulk-renumber|bulk-renumber-warm N``: this client only, where one run's time
  goes, from timers wrapped around its functions in the child: for ``full`` the query requests
  (server and network), ``parse_page``, ``Store.apply_page``, ``Store.apply_page_ahead`` (a page
  applied while it is parsed on a helper thread: the ``parse_page`` time of those pages runs
  inside it, on the other core) and the index build at the end; for ``bulk-renumber`` the
  server's build (polling ``bulk_data`` until the file is ready), the download, the unzip, and the
  swap's steps (validation, copy with renumbering and index rebuild, merge, rename), then the pull
  that follows the bulk sync.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from mock_common import extract_tree, start_server
from mock_common import run_child as child

ROOT = Path(__file__).resolve().parent.parent


def start_mock(records: int) -> tuple[subprocess.Popen[str], str]:
    """``rhoconnect-mock serve --records Product=N`` on a free port; returns it and its base URL."""
    proc, base, _ = start_server(
        "--records", f"Product={records}", env={"RHOCONNECT_MOCK_BULK_WAIT_POLLS": "0"}
    )
    return proc, base


def warm_bulk_file(base: str, user: str, sources: tuple[str, ...] = ("Product",)) -> str:
    """Have the mock build ``user``'s bulk file of ``sources`` now (a throwaway client asks for it,
    as the engine will: partition ``user``, the synced sources); returns the file's url."""
    with requests.Session() as http:
        login = http.post(f"{base}/rc/v1/app/login", json={"login": user, "password": "pw"}, timeout=600)
        login.raise_for_status()
        client = http.post(f"{base}/rc/v1/clients", json={}, timeout=600).json()["client"]["client_id"]
        body = {"client_id": client, "partition": "user", "sources": list(sources)}
        answer = http.post(f"{base}/rc/v1/app/bulk_data", json=body, timeout=600).json()
    assert answer.get("result") == "url" and answer.get("url"), answer
    return str(answer["url"])


def extract_client(rev: str, dest: Path) -> str:
    """The ``client/`` folder of git revision ``rev`` under ``dest``; returns the commit id."""
    return extract_tree(ROOT, rev, "client", dest)


def run_child(
    client_dir: Path, kind: str, base: str, db: Path, n: int, user: str = "bench"
) -> dict[str, Any]:
    return child(__file__, client_dir, [kind, base, str(db), str(n), user], kind)


# --------------------------------------------------------------------------- child side


def _time_phases() -> dict[str, float]:
    """Wrap the client's steps in timers (this tree's client only); returns the running totals."""
    import functools

    from rhoconnect_client import bulk, bulkswap, overlap, store, transport

    totals: dict[str, float] = {}

    def wrap(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)

    wrap(transport.Transport, "query", "query requests")
    wrap(overlap, "parse_page", "parse_page")
    wrap(store.Store, "apply_page", "apply_page")
    wrap(store.Store, "apply_page_ahead", "apply_page_ahead")
    wrap(store.Store, "build_indexes", "index build")
    wrap(bulk, "_bulk_partition", "bulk, all")
    wrap(transport.Transport, "download", "bulk download")
    wrap(bulk, "unzip_single", "bulk unzip")
    wrap(bulkswap, "validate_bulk_file", "swap: validate")
    wrap(bulkswap, "_renumber", "swap: renumber")
    wrap(bulkswap, "_prepare_copy", "swap: copy, renumber, indexes")
    wrap(bulkswap, "_merge", "swap: merge")
    wrap(bulkswap, "_swap_file", "swap: rename, reopen")
    wrap(store.Store, "install_bulk_database", "swap, all")
    return totals


def _child(kind: str, base: str, db: str, n: int, user: str) -> None:
    from rhoconnect_client import SyncEngine  # from PYTHONPATH: the client under test

    phases = _time_phases() if kind.startswith("phases-") else None
    kind = kind.removeprefix("phases-").removesuffix("-warm")  # warm: the same sync, file prebuilt
    engine = SyncEngine(base + "/application", db, bulk_wait_seconds=0.05, timeout=600)
    try:
        if kind == "bulk-renumber":
            engine.add_model("Note", sync_type="none")  # takes id 1: the file's Product (1) becomes 2
        model = engine.add_model("Product")
        assert engine.login(user, "pw").wait(60)["error_code"] == 0  # type: ignore[index]
        if kind == "creates":
            started = time.perf_counter()
            for i in range(n):
                model.create({"name": f"n{i}", "brand": "b", "price": "1", "quantity": "2", "sku": f"s{i}"})
            # Timed up to a read that sees them all: a client that defers part of a create's work
            # (creates written ahead, folded at the next read) does it inside the figure.
            assert model.count() == n
            elapsed = time.perf_counter() - started
        else:
            if kind == "bulk-renumber":
                engine.bulksync_state = 0
            started = time.perf_counter()
            result = engine.dosync(False).wait(3600)
            elapsed = time.perf_counter() - started
            assert result is not None and result["status"] == "complete", result
            assert model.count() == n, model.count()
    finally:
        engine.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out: dict[str, Any] = {"s": round(elapsed, 3), "peak_rss_mb": round(peak_mb, 1)}
    if phases is not None:
        if "bulk, all" in phases:  # the rest of the bulk step is polling while the server builds
            client_side = ("bulk download", "bulk unzip", "swap, all")
            phases["bulk: server build (polling)"] = phases["bulk, all"] - sum(
                phases.get(k, 0.0) for k in client_side
            )
            phases["after the bulk sync (pull)"] = elapsed - phases["bulk, all"]
            phases["client's part (all but the build)"] = elapsed - phases["bulk: server build (polling)"]
        out["phases"] = {k: round(v, 3) for k, v in sorted(phases.items())}
    print(json.dumps(out))


# --------------------------------------------------------------------------- parent side


def compare(kind: str, n: int, repeat: int, baseline: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        commit = extract_client(baseline, tmp / "base")
        clients = {"new": ROOT / "client", "base": tmp / "base" / "client"}
        proc, base = start_mock(n if kind != "creates" else 10)
        times: dict[str, list[float]] = {"new": [], "base": []}
        try:
            warm_url = warm_bulk_file(base, "bench-warm") if kind.endswith("-warm") else None
            for i in range(repeat):
                for name in ("new", "base"):  # A B A B: load spikes hit both
                    db = tmp / f"{name}{i}.sqlite"
                    # A user per run: the mock keeps a built bulk file per user, which the second
                    # run of a pair would otherwise reuse (a warm run wants exactly that).
                    user = "bench-warm" if warm_url else f"bench-{name}-{i}"
                    times[name].append(run_child(clients[name], kind, base, db, n, user)["s"])
            if warm_url:  # every run was given the file built by the warm-up
                assert warm_bulk_file(base, "bench-warm") == warm_url, "the mock rebuilt the bulk file"
        finally:
            proc.terminate()
            proc.wait()
    ratios = [a / b for a, b in zip(times["new"], times["base"], strict=True)]
    return {
        "bench": kind,
        "records": n,
        "data": "mock default (Faker), 5 attributes",
        "new_median_s": round(statistics.median(times["new"]), 3),
        "base_median_s": round(statistics.median(times["base"]), 3),
        "median_ratio_new_to_base": round(statistics.median(ratios), 3),
        "new_runs": times["new"],
        "base_runs": times["base"],
        "baseline": f"{baseline} ({commit[:10]})",
        "load_avg": os.getloadavg(),
    }


def phases(kind: str, n: int, repeat: int) -> dict[str, Any]:
    """Where this client's time goes in ``kind`` (``full``, ``bulk-renumber[-warm]``): medians per phase."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_mock(n)
        try:
            warm_url = warm_bulk_file(base, "p-warm") if kind.endswith("-warm") else None
            for i in range(repeat):
                db = tmp / f"p{i}.sqlite"
                user = "p-warm" if warm_url else f"p{i}"
                runs.append(run_child(ROOT / "client", f"phases-{kind}", base, db, n, user))
            if warm_url:
                assert warm_bulk_file(base, "p-warm") == warm_url, "the mock rebuilt the bulk file"
        finally:
            proc.terminate()
            proc.wait()
    names = sorted({name for run in runs for name in run["phases"]})
    return {
        "bench": f"phases {kind}",
        "records": n,
        "data": "mock default (Faker), 5 attributes",
        "total_median_s": round(statistics.median(r["s"] for r in runs), 3),
        "phase_medians_s": {
            name: round(statistics.median(r["phases"].get(name, 0.0) for r in runs), 3) for name in names
        },
        "totals_s": [r["s"] for r in runs],
        "load_avg": os.getloadavg(),
    }


def million() -> dict[str, Any]:
    figures: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n in (100_000, 1_000_000):
            proc, base = start_mock(n)
            try:
                figures[n] = run_child(ROOT / "client", "full", base, tmp / f"m{n}.sqlite", n)
            finally:
                proc.terminate()
                proc.wait()
    return {
        "bench": "million",
        "data": "mock default (Faker), 5 attributes",
        "s_100k": figures[100_000]["s"],
        "s_1m": figures[1_000_000]["s"],
        "ratio_1m_to_100k": round(figures[1_000_000]["s"] / figures[100_000]["s"], 2),
        "peak_rss_mb_1m": figures[1_000_000]["peak_rss_mb"],
        "load_avg": os.getloadavg(),
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "_child":
        _child(argv[1], argv[2], argv[3], int(argv[4]), argv[5] if len(argv) > 5 else "bench")
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "bench", choices=["full", "creates", "bulk-renumber", "bulk-renumber-warm", "million", "phases"]
    )
    parser.add_argument("args", nargs="*", help="N; for phases: full|bulk-renumber|bulk-renumber-warm N")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="git revision of the baseline client")
    args = parser.parse_args(argv)
    if args.bench == "million":
        result = million()
    elif args.bench == "phases":
        if not args.args or args.args[0] not in ("full", "bulk-renumber", "bulk-renumber-warm"):
            parser.error("phases needs full, bulk-renumber or bulk-renumber-warm")
        result = phases(args.args[0], int(args.args[1]) if len(args.args) > 1 else 100_000, args.repeat)
    else:
        default = 10_000 if args.bench == "creates" else 100_000
        result = compare(args.bench, int(args.args[0]) if args.args else default, args.repeat, args.baseline)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
