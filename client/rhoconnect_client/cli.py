"""``rhoconnect-client``: sync, search and inspect a local database from the command line.

Commands::

    rhoconnect-client sync   --server URL --login U --password P --db FILE [--source NAME ...]
                             [--page-size N] [--no-verify] [--rest] [--timeout S] [--deadline S]
                             [--max-body-mb N] [--bulk [--bulk-timeout S]]
    rhoconnect-client search --server URL --login U --password P --db FILE --source NAME
                             --param KEY=VALUE ... [--progress-step N]
    rhoconnect-client show   --db FILE SOURCE [--json]
    rhoconnect-client create --db FILE SOURCE NAME=VALUE ...
    rhoconnect-client update --db FILE SOURCE OBJECT_ID NAME=VALUE ...
    rhoconnect-client delete --db FILE SOURCE OBJECT_ID
    rhoconnect-client push   --server URL --login U --password P --db FILE [--source NAME ...]

``create``/``update``/``delete`` work on the local database only (no server needed) and queue the
change; ``push`` (or ``sync``) sends it.

``sync`` shows one progress bar per source (records received of the server's ``total_count``), then
a summary table. Every failure is one line on stderr, never a traceback. Exit codes: 0 success, 1 a
source failed (an HTTP or network error, or adapter errors reported in its pages) or the bulk sync
failed, 2 bad usage, 3 login or connection failure, 4 local database problem. While a bulk sync
waits for the server to build its file, a progress line goes to stderr every few seconds.
"""

from __future__ import annotations

import functools
import json
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click

from .context import DEFAULT_BULK_TIMEOUT
from .engine import SyncEngine
from .exceptions import ERR_CUSTOMSYNCSERVER, ERR_NONE, RhoconnectError, StoreError
from .models import Model, ObjectNotFound
from .store import Store, partition_path
from .transport import DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES

__all__ = ["main"]

EXIT_SOURCE_FAILED = 1
EXIT_LOGIN = 3
EXIT_STORE = 4
_WAIT = 24 * 3600.0
_BULK_PROGRESS_EVERY = 5.0


class CliError(click.ClickException):
    """A one-line error (click prints ``Error: message``); the subclass sets the exit code."""

    exit_code = 2


class SourceFailed(CliError):
    exit_code = EXIT_SOURCE_FAILED


class LoginFailed(CliError):
    exit_code = EXIT_LOGIN


class LocalStoreError(CliError):
    exit_code = EXIT_STORE


def _describe_error(params: dict[str, Any]) -> str:
    message = str(params.get("error_message") or "").strip().splitlines()
    text = message[0] if message else ""
    if params.get("server_errors"):
        parts = []
        for kind, value in params["server_errors"].items():
            inner = value.get("message") if isinstance(value, dict) else None
            parts.append(f"{kind}: {inner}" if inner else kind)
        text = "; ".join(parts)
    return f"error {params.get('error_code')}" + (f": {text}" if text else "")


@dataclass(frozen=True)
class ServerOptions:
    """The options every command that talks to a server takes (``_server_options``)."""

    server: str
    login_name: str
    password: str
    db: str
    page_size: int | None
    no_verify: bool
    rest: bool
    timeout: float
    deadline: float
    max_body_mb: float


def _open_engine(opts: ServerOptions, bulk_timeout: float = DEFAULT_BULK_TIMEOUT) -> SyncEngine:
    try:
        engine = SyncEngine(
            opts.server,
            opts.db,
            url_family="rest" if opts.rest else "classic",
            verify_ssl=not opts.no_verify,
            timeout=opts.timeout,
            deadline=opts.deadline,
            max_body_bytes=max(int(opts.max_body_mb * 1024 * 1024), 1),
            bulk_timeout=bulk_timeout,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except StoreError as exc:
        raise LocalStoreError(exc.message) from exc
    if opts.page_size is not None:
        engine.set_pagesize(opts.page_size)
    return engine


def _login(engine: SyncEngine, login: str, password: str) -> None:
    result = engine.login(login, password).wait(_WAIT) or {}
    if result.get("error_code") == 404:
        # The usual cause is a URL of the wrong family: classic routes hang off the application
        # path, REST routes off the server root. Say so rather than echo an HTML error page.
        raise LoginFailed(
            f"login failed for {login!r} (error 404: no login route at this URL; classic routes need "
            "--server http://HOST:PORT/application, --rest needs the server root http://HOST:PORT)"
        )
    if result.get("error_code") != ERR_NONE:
        raise LoginFailed(f"login failed for {login!r} ({_describe_error(result)})")


def _declare(engine: SyncEngine, sources: tuple[str, ...]) -> list[str]:
    for name in sources:
        try:
            engine.model(name)
        except RhoconnectError:
            engine.add_model(name)
    names = [
        src.name for store in engine.stores.values() for src in store.sources() if src.sync_type != "none"
    ]
    if not names:
        raise CliError("no source to sync: pass --source NAME (the server does not list its sources)")
    return names


class _Bars:
    """One click progress bar per source, driven from the main thread by queued notifications."""

    def __init__(self) -> None:
        # Bars only on a terminal: redirected output gets the summary table alone.
        self.visible = sys.stderr.isatty()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.bars: dict[str, Any] = {}
        self.done: dict[str, int] = {}
        self.outcome: dict[str, dict[str, Any]] = {}
        # (partition, when its bulk sync started, when progress was last shown) while waiting.
        self.bulk_wait: tuple[str, float, float] | None = None

    def __call__(self, params: dict[str, Any]) -> None:  # runs on the sync thread
        self.events.put(params)

    def pump(self) -> None:
        while True:
            try:
                params = self.events.get_nowait()
            except queue.Empty:
                return
            self._show(params)

    def _show(self, params: dict[str, Any]) -> None:
        name = params.get("source_name")
        if not name:
            if params.get("sync_type") == "bulk":
                self._bulk_event(params)
            return
        status = params.get("status")
        if status == "in_progress":
            if not self.visible:
                return
            bar = self.bars.get(name)
            total = max(int(params.get("total_count") or 0), int(params.get("cumulative_count") or 0), 1)
            if bar is None:
                bar = click.progressbar(length=total, label=f"{name:<20}", file=sys.stderr, show_pos=True)
                bar.__enter__()
                self.bars[name] = bar
                self.done[name] = 0
            bar.length = total
            bar.update(int(params.get("cumulative_count") or 0) - self.done[name])
            self.done[name] = int(params.get("cumulative_count") or 0)
            return
        if status == "error" and params.get("error_code") == ERR_CUSTOMSYNCSERVER and name in self.outcome:
            return
        if status == "error" and params.get("error_code") == ERR_CUSTOMSYNCSERVER:
            self.outcome.setdefault(name + "#adapter", params)
            return
        self.outcome[name] = params
        bar = self.bars.pop(name, None)
        if bar is not None:
            bar.__exit__(None, None, None)

    def _bulk_event(self, params: dict[str, Any]) -> None:
        if params.get("status") == "error":
            self.outcome["(bulk)"] = params
        partition = str(params.get("partition") or "")
        waiting = params.get("bulk_status") == "start" and partition
        now = time.monotonic()
        self.bulk_wait = (partition, now, now) if waiting else None

    def tick(self, bulk_timeout: float) -> None:
        """While the server builds a bulk file: a progress line every few seconds (stderr)."""
        if self.bulk_wait is None:
            return
        partition, started, shown = self.bulk_wait
        now = time.monotonic()
        if now - shown < _BULK_PROGRESS_EVERY:
            return
        self.bulk_wait = (partition, started, now)
        click.echo(
            f"bulk sync: waiting for the server to prepare the {partition} partition "
            f"({now - started:.0f} s, giving up after {bulk_timeout:g} s)",
            err=True,
        )

    def close(self) -> None:
        self.pump()
        for bar in self.bars.values():
            bar.__exit__(None, None, None)
        self.bars.clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    None,
    "--version",
    "-V",
    package_name="rhoconnect-client",
    prog_name="rhoconnect-client",
    message="%(prog)s %(version)s",
)
def main() -> None:
    """Reference RhoConnect client: sync a local SQLite database with a RhoConnect server."""


def _server_options(func: Callable[..., None]) -> Callable[..., None]:
    """Add the server options to a command; the command receives them as one ``ServerOptions``."""
    names = [field.name for field in fields(ServerOptions)]

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        opts = ServerOptions(**{name: kwargs.pop(name) for name in names})
        func(opts, **kwargs)

    options = [
        click.option(
            "--server", required=True, help="Sync server URL, e.g. http://127.0.0.1:9292/application"
        ),
        click.option("--login", "login_name", required=True, help="User name."),
        click.option("--password", required=True, help="Password."),
        click.option("--db", required=True, type=click.Path(dir_okay=False), help="Local database file."),
        click.option(
            "--page-size", type=click.IntRange(min=1), default=None, help="Objects per page (2000)."
        ),
        click.option("--no-verify", is_flag=True, help="Do not verify the server's TLS certificate."),
        click.option(
            "--rest", is_flag=True, help="Use the REST routes (/rc/v1, /app/v1) instead of classic."
        ),
        click.option(
            "--timeout", type=click.FloatRange(min=0.1), default=30.0, help="Network timeout per read (s)."
        ),
        click.option(
            "--deadline",
            type=click.FloatRange(min=0.1),
            default=DEFAULT_DEADLINE,
            show_default=True,
            help="Longest time one request may take, first byte to last (s).",
        ),
        click.option(
            "--max-body-mb",
            type=click.FloatRange(min=0.001),
            default=DEFAULT_MAX_BODY_BYTES / (1024 * 1024),
            show_default=True,
            help="Largest server answer accepted (MiB); a larger one fails its source.",
        ),
    ]
    decorated: Callable[..., None] = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


@main.command()
@_server_options
@click.option("--source", "sources", multiple=True, help="Source (model) to sync; repeatable.")
@click.option("--bulk", is_flag=True, help="Run a bulk sync first.")
@click.option(
    "--bulk-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_BULK_TIMEOUT,
    show_default=True,
    help="How long the server may keep answering 'wait' for a bulk file (s).",
)
def sync(opts: ServerOptions, sources: tuple[str, ...], bulk: bool, bulk_timeout: float) -> None:
    """Log in and sync every source (or the --source ones), with a progress bar per source."""
    engine = _open_engine(opts, bulk_timeout)
    try:
        names = _declare(engine, sources)
        _login(engine, opts.login_name, opts.password)
        if bulk:
            engine.bulksync_state = 0
        bars = _Bars()
        engine.set_notification(-1, bars)
        if sources:
            handles = [engine.dosync_source(name, False) for name in sources]
        else:
            handles = [engine.dosync(False)]
        for handle in handles:
            while handle.wait(0.1) is None and not handle.done():
                bars.pump()
                bars.tick(bulk_timeout)
        bars.close()
        failures = _summary(engine, names, bars)
    finally:
        engine.close()
    if failures:
        raise SourceFailed(failures)


def _summary(engine: SyncEngine, names: list[str], bars: _Bars) -> str:
    """Print the summary table; return a one-line failure description ('' if all went well)."""
    rows = [("source", "status", "local records", "pending changes", "detail")]
    failures = []
    for name in names:
        model = engine.model(name)
        params = bars.outcome.get(name, {})
        adapter = bars.outcome.get(name + "#adapter")
        status = str(params.get("status", "not synced"))
        detail = _describe_error(params) if status == "error" else ""
        if adapter is not None and not detail:
            detail = "server reported " + _describe_error(adapter)
        if status == "error" or adapter is not None:
            failures.append(f"{name}: {detail}")
        store = engine.stores.get(model.source.partition)
        pending = store.pending_count(model.source.source_id) if store is not None else 0
        rows.append((name, status, str(model.count()), str(pending), detail))
    if "(bulk)" in bars.outcome:
        failures.append("bulk sync: " + _describe_error(bars.outcome["(bulk)"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))
    return "; ".join(failures)


@main.command()
@_server_options
@click.option("--source", "sources", multiple=True, required=True, help="Source to search; repeatable.")
@click.option("--param", "params", multiple=True, help="Search parameter KEY=VALUE; repeatable.")
@click.option("--from", "from_", default="search", show_default=True, help="Server search path.")
@click.option("--progress-step", type=int, default=-1, help="Report progress every N objects.")
def search(
    opts: ServerOptions, sources: tuple[str, ...], params: tuple[str, ...], from_: str, progress_step: int
) -> None:
    """Search the server; the results are stored in the local database."""
    search_params: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param must look like KEY=VALUE, not {item!r}")
        search_params[key] = value
    engine = _open_engine(opts)
    try:
        _declare(engine, sources)
        _login(engine, opts.login_name, opts.password)

        def progress(p: dict[str, Any]) -> None:
            if p.get("status") == "in_progress":
                click.echo(f"{p.get('source_name')}: {p.get('cumulative_count')} records", err=True)

        result = (
            engine.search(
                list(sources), from_, search_params, callback=progress, progress_step=progress_step
            ).wait(_WAIT)
            or {}
        )
        counts = {name: engine.model(name).count() for name in sources}
    finally:
        engine.close()
    if result.get("status") != "complete":
        raise SourceFailed(f"search failed ({_describe_error(result)})")
    for name, count in counts.items():
        click.echo(f"{name}: {count} local records")


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="Local database file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("source")
def show(db: str, source: str, as_json: bool) -> None:
    """Print the local objects of SOURCE."""
    if not Path(db).is_file():
        raise LocalStoreError(f"no database at {db}")
    try:
        store = Store(db)
    except StoreError as exc:
        raise LocalStoreError(exc.message) from exc
    try:
        if store.source(source) is None:
            known = ", ".join(s.name for s in store.sources()) or "none"
            raise CliError(f"no source {source!r} in {db} (known: {known})")
        objects = Model(store, source).find_all()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(objects, indent=2, sort_keys=True))
        return
    attrs = sorted({key for obj in objects for key in obj if key != "object"})
    header = ["object", *attrs]
    rows = [[str(obj.get(key, "")) for key in header] for obj in objects]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(objects)} objects)")


# --------------------------------------------------------------------------- local record commands


def _assignments(items: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"attributes must look like NAME=VALUE, not {item!r}")
        values[key] = value
    return values


def _open_model(db: str, source: str, *, create: bool) -> tuple[list[Store], Model]:
    """The store holding SOURCE (the ``user`` database or its ``app`` partition beside it); with
    ``create`` an unknown source is declared in ``user``, as ``add_model`` would."""
    paths = [db, partition_path(db, "app")]
    if not create and not Path(db).is_file():
        raise LocalStoreError(f"no database at {db}")
    stores: list[Store] = []
    try:
        for path in paths:
            if path == db or Path(path).is_file():
                stores.append(Store(path, partition="user" if path == db else "app"))
        for store in stores:
            if store.source(source) is not None:
                return stores, Model(store, source)
        if not create:
            known = ", ".join(s.name for st in stores for s in st.sources()) or "none"
            raise CliError(f"no source {source!r} in {db} (known: {known})")
        stores[0].register_source(source)
        return stores, Model(stores[0], source)
    except StoreError as exc:
        for store in stores:
            store.close()
        raise LocalStoreError(exc.message) from exc
    except CliError:
        for store in stores:
            store.close()
        raise


def _local_write(
    db: str, source: str, write: Callable[[Model], dict[str, str] | None], *, create: bool
) -> None:
    stores, model = _open_model(db, source, create=create)
    try:
        result = write(model)
    except ObjectNotFound as exc:
        raise CliError(exc.message) from exc
    except (ValueError, TypeError) as exc:
        raise CliError(str(exc)) from exc
    except StoreError as exc:
        raise LocalStoreError(exc.message) from exc
    finally:
        for store in stores:
            store.close()
    if result is not None:
        click.echo(json.dumps(result, sort_keys=True))


_DB_OPTION = click.option("--db", required=True, type=click.Path(dir_okay=False), help="Local database file.")


@main.command()
@_DB_OPTION
@click.argument("source")
@click.argument("attributes", nargs=-1)
def create(db: str, source: str, attributes: tuple[str, ...]) -> None:
    """Create a local object of SOURCE from NAME=VALUE ATTRIBUTES; prints it with its temporary id.

    The create is queued and sent by the next ``sync`` or ``push``, which gives it the server's id.
    """
    values = _assignments(attributes)
    _local_write(db, source, lambda model: model.create(values), create=True)


@main.command()
@_DB_OPTION
@click.argument("source")
@click.argument("object_id")
@click.argument("attributes", nargs=-1, required=True)
def update(db: str, source: str, object_id: str, attributes: tuple[str, ...]) -> None:
    """Change NAME=VALUE ATTRIBUTES of object OBJECT_ID of SOURCE; prints the object.

    Only the attributes whose value differs are queued for the next ``sync`` or ``push``.
    """
    values = _assignments(attributes)
    _local_write(db, source, lambda model: model.update(object_id, values), create=False)


@main.command()
@_DB_OPTION
@click.argument("source")
@click.argument("object_id")
def delete(db: str, source: str, object_id: str) -> None:
    """Delete object OBJECT_ID of SOURCE locally; the delete is sent by the next ``sync`` or ``push``."""

    def destroy(model: Model) -> None:
        model.destroy(object_id)
        click.echo(f"deleted {source} {object_id}")

    _local_write(db, source, destroy, create=False)


@main.command()
@_server_options
@click.option("--source", "sources", multiple=True, help="Only this source; repeatable.")
def push(opts: ServerOptions, sources: tuple[str, ...]) -> None:
    """Log in and sync every source with local changes (push, then the pages with their links)."""
    engine = _open_engine(opts)
    try:
        pending = [
            src.name
            for store in engine.stores.values()
            for src in store.sources()
            if src.synced and store.pending_count(src.source_id) and (not sources or src.name in sources)
        ]
        if not pending:
            click.echo("nothing to push")
            return
        _login(engine, opts.login_name, opts.password)
        bars = _Bars()
        engine.set_notification(-1, bars)
        for handle in [engine.dosync_source(name, False) for name in pending]:
            while handle.wait(0.1) is None and not handle.done():
                bars.pump()
        bars.close()
        failures = _summary(engine, pending, bars)
    finally:
        engine.close()
    if failures:
        raise SourceFailed(failures)
