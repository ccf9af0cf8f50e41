"""``rhoconnect-mock``: run the mock RhoConnect server from the command line.

``rhoconnect-mock serve [--host 127.0.0.1] [--port 9292] [--config FILE] [--seed N]
[--records Source=N ...] [--poll-interval Source=SECONDS ...] [--data FILE.json]
[--users FILE|user:pass ...]``. Precedence: defaults < config file < ``RHOCONNECT_MOCK_*``
environment < flags. Any bad flag, file or value prints one ``Error: ...`` line naming the key and
exits with status 2 (never a traceback).
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .app import create_app
from .config import MockConfig, is_loopback, parse_record_specs, parse_user_specs, resolve_config
from .errors import ConfigError
from .faults import engine_of
from .pipeline import pipeline_of
from .request_log import LOG_FORMATS, LogFormat, RequestLog
from .server import make_server, serve_until_stopped
from .state import MockState, state_of
from .users_file import KEY as KEY_USERS
from .users_file import read_users_file

log = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_RUNTIME = 1


def _users_from(values: Sequence[str]) -> dict[str, str]:
    """``login:password`` values, or files of users (format in ``users_file``); later ones win."""
    users: dict[str, str] = {}
    for value in values:
        path = Path(value)
        if ":" not in value or path.is_file():
            if not path.is_file():
                raise ConfigError(KEY_USERS, f"{value!r} is neither login:password nor a readable file")
            users.update(read_users_file(path))
        else:
            users.update(parse_user_specs([value], KEY_USERS))
    return users


def build_config(options: Mapping[str, Any], environ: Mapping[str, str]) -> MockConfig:
    """The effective config for ``serve`` options (``None`` values are flags not given)."""
    overrides: dict[str, Any] = {}
    for key in (
        "host",
        "port",
        "seed",
        "classic_prefix",
        "secret_key",
        "threads",
        "scenario",
        "admin_token",
        "journal_size",
        "max_body_size",
        "max_header_size",
        "request_timeout",
    ):
        if options.get(key) is not None:
            overrides[key] = options[key]
    if options.get("classic_resend"):
        overrides["classic_resend"] = True
    if options.get("data") is not None:
        overrides["data"] = str(options["data"])
    if options.get("records"):
        overrides["records"] = parse_record_specs(list(options["records"]))
    if options.get("poll_interval"):
        overrides["poll_interval"] = parse_record_specs(
            list(options["poll_interval"]), "--poll-interval", "SECONDS"
        )
    if options.get("users"):
        overrides["users"] = _users_from(list(options["users"]))
    if options.get("fail"):
        overrides["faults"] = list(options["fail"])
    if options.get("cors"):
        overrides["cors"] = " ".join(options["cors"])
    path = options.get("config") or environ.get("RHOCONNECT_MOCK_CONFIG")
    return resolve_config(path, environ, overrides)


def banner(cfg: MockConfig, base_url: str, state: MockState | None = None, rules: int = 0) -> str:
    """The start-up text: where to point a client, how to log in, what data there is.

    Given the running app's ``state``, the sources are the ones actually served with the records
    actually loaded (a ``--data`` file decides both); without it, what the config asks for. ``rules``
    is how many fault rules are active from start-up.
    """
    login = (
        "any non-empty login and password" if cfg.users is None else "users " + ", ".join(sorted(cfg.users))
    )
    sources = ", ".join(
        f"{name} ({partition}, {count} record{'s' if count != 1 else ''}"
        + (f", poll interval {poll} s)" if poll else ")")
        for name, partition, count, poll in _served_sources(cfg, state)
    )
    token_note = "   (token required)" if cfg.admin_token else ""
    lines = [
        "rhoconnect-mock: a mock RhoConnect 7.8 server",
        f"  base URL     {base_url}",
        f"  classic URL  {base_url}{cfg.classic_prefix}   (Rhodes syncserver)",
        f"  REST login   POST {base_url}/rc/v1/app/login",
        f"  demo login   {login}",
        f"  sources      {sources or 'none'}   (seed {cfg.seed})",
        f"  admin URL    {base_url}/_mock/" + token_note,
        f"  dashboard    {base_url}/_mock/ui/" + token_note,
        "Press Ctrl+C to stop.",
    ]
    if rules:
        lines.insert(-1, f"  faults       {rules} rule(s) active (GET {base_url}/_mock/faults)")
    if not is_loopback(cfg.host):
        lines.insert(1, f"  WARNING: listening on {cfg.host}, reachable from other machines")
    return "\n".join(lines)


def _served_sources(cfg: MockConfig, state: MockState | None) -> list[tuple[str, str, int, int]]:
    """(name, partition, records, poll interval) of each source, from the state when there is one."""
    if state is None:
        return [(s.name, s.partition, s.records, s.poll_interval) for s in cfg.sources]
    return [
        (name, spec.partition, state.loaded_count(name), spec.poll_interval)
        for name, spec in state.sources.items()
    ]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    None,
    "--version",
    "-V",
    package_name="rhoconnect-mock",
    prog_name="rhoconnect-mock",
    message="%(prog)s %(version)s",
)
def cli() -> None:
    """A mock RhoConnect server for client development and tests."""


@cli.command()
@click.option(
    "--host",
    default=None,
    help="address to bind (default 127.0.0.1: loopback only; any other needs --admin-token)",
)
@click.option("--port", type=int, default=None, help="port (default 9292; 0 picks a free one)")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML or YAML file with any of these settings",
)
@click.option("--seed", type=int, default=None, help="seed for generated records (same seed, same data)")
@click.option("--records", multiple=True, metavar="SOURCE=N", help="generate N records for SOURCE")
@click.option(
    "--poll-interval",
    multiple=True,
    metavar="SOURCE=SECONDS",
    help="keep SOURCE's master document SECONDS between adapter queries, as RhoConnect (default 0)",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=None,
    help='JSON file {"Source": {"id": {"attr": "value"}}} with the records to serve',
)
@click.option(
    "--users",
    multiple=True,
    metavar="FILE|USER:PASS",
    help="accept only these logins (default: any non-empty login and password); FILE: login:password "
    "lines, or a .json/.yaml/.toml map of login to password",
)
@click.option("--classic-prefix", default=None, help="path of the classic routes (default /application)")
@click.option(
    "--classic-resend",
    is_flag=True,
    default=False,
    help="re-send a pending page when a query carries no token (pre-7.8 behaviour)",
)
@click.option("--secret-key", default=None, help="session cookie signing key (default: random)")
@click.option("--threads", type=int, default=None, help="worker threads (default 128)")
@click.option(
    "--max-body-size", type=int, default=None, help="largest request body in bytes, else 413 (default 16 MiB)"
)
@click.option(
    "--max-header-size",
    type=int,
    default=None,
    help="largest request line and headers in bytes, else 431 (default 64 KiB)",
)
@click.option(
    "--request-timeout",
    type=float,
    default=None,
    help="seconds a client has to send a whole request (default 30)",
)
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML or YAML file of fault rules active from start-up",
)
@click.option(
    "--fail",
    "fail",
    multiple=True,
    metavar="MATCH:ACTION[:WHEN]",
    help="a fault rule, e.g. query:500:once or cud:reset:nth=2 (repeatable)",
)
@click.option("--admin-token", default=None, help="require this bearer token on the admin API (/_mock/)")
@click.option("--journal-size", type=int, default=None, help="requests kept in the journal (default 10000)")
@click.option(
    "--cors",
    "cors",
    multiple=True,
    metavar="ORIGIN",
    help="allow cross-origin requests from ORIGIN (* for any; repeatable or comma-separated)",
)
@click.option("--quiet", is_flag=True, default=False, help="no request log line per request")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="request log lines as text or as JSON objects",
)
def serve(quiet: bool, log_format: LogFormat, **options: Any) -> None:
    """Serve the RhoConnect protocol until interrupted."""
    cfg = build_config(options, os.environ)
    app = create_app(cfg)
    if not quiet:
        pipeline_of(app).observe(RequestLog(sys.stdout, log_format))
    server = make_server(app, cfg.host, cfg.port)
    try:
        server.prepare()
    except OSError as exc:
        click.echo(f"Error: {_listen_error(cfg, exc)}", err=True)
        sys.exit(EXIT_USAGE)
    state = state_of(app)
    state.warm_up()  # data generated up front, so the first client does not wait
    gc.freeze()  # the dataset lives as long as the process: keep it out of every collection
    host, port = server.bind_addr[0], server.bind_addr[1]
    shown = f"[{host}]" if ":" in str(host) else host
    text = banner(cfg, f"http://{shown}:{port}", state, len(engine_of(app).rules))
    # SIGTERM (kill, CI teardown, ``docker stop``) stops like Ctrl-C: Python's default would end the
    # process at once, without ``finally`` blocks or exit hooks, leaving the temporary bulk folder.
    # The banner goes out once that handler is in place: whoever waits for it may stop us at once.
    serve_until_stopped(
        server,
        (signal.SIGTERM,) if threading.current_thread() is threading.main_thread() else (),
        announce=lambda: click.echo(text),
    )


def _listen_error(cfg: MockConfig, exc: OSError) -> str:
    """One line saying why the port cannot be used and what to do about it."""
    where = f"cannot listen on {cfg.host}:{cfg.port}"
    code = exc.errno
    if code is None:  # cheroot re-raises a bare OSError whose text alone keeps the "[Errno N]"
        found = re.search(r"\[Errno (\d+)\]", str(exc))
        code = int(found.group(1)) if found else None
    if code == errno.EADDRINUSE:
        return f"{where}: the port is taken; choose another with --port N (--port 0: any free port)"
    if code == errno.EACCES:
        return f"{where}: permission denied; choose a port above 1023 with --port N"
    return f"{where}: {exc.strerror or exc}; check --host, or choose another port with --port N"


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one ``Error:`` line and status 2 for any usage or config problem."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None, prog_name="rhoconnect-mock", standalone_mode=False
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(EXIT_RUNTIME)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message(), err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
