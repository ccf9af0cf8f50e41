"""``rhoconnect-mock``: run the mock RhoConnect server from the command line.

``rhoconnect-mock serve [--host 127.0.0.1] [--port 9292] [--config FILE] [--seed N]
[--records Source=N ...] [--poll-interval Source=SECONDS ...] [--data FILE.json]
[--users FILE|user:pass ...]``. Precedence: defaults < config file < ``RHOCONNECT_MOCK_*``
environment < flags. Any bad flag, file or value prints one ``Error: ...`` line naming the key and
exits with status 2 (never a traceback).
"""

from __future__ import annotations

import gc
import logging
import os
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
from .pipeline import pipeline_of
from .request_log import LOG_FORMATS, LogFormat, RequestLog
from .server import make_server, serve_until_stopped
from .state import state_of

log = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_RUNTIME = 1


def _users_from(values: Sequence[str]) -> dict[str, str]:
    """``user:pass`` values, or files holding one ``user:pass`` per line (``#`` comments)."""
    specs: list[str] = []
    for value in values:
        path = Path(value)
        if ":" not in value or path.is_file():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(
                    "--users",
                    f"{value!r} is neither user:password nor a readable file ({exc.strerror or exc})",
                ) from None
            specs.extend(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
        else:
            specs.append(value)
    return parse_user_specs(specs, "--users")


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
    path = options.get("config") or environ.get("RHOCONNECT_MOCK_CONFIG")
    return resolve_config(path, environ, overrides)


def banner(cfg: MockConfig, base_url: str) -> str:
    """The start-up text: where to point a client, how to log in, what data there is."""
    login = (
        "any non-empty login and password" if cfg.users is None else "users " + ", ".join(sorted(cfg.users))
    )
    sources = ", ".join(
        f"{s.name} ({s.partition}, {s.records} records"
        + (f", poll interval {s.poll_interval} s)" if s.poll_interval else ")")
        for s in cfg.sources
    )
    lines = [
        "rhoconnect-mock: a mock RhoConnect 7.8 server",
        f"  base URL     {base_url}",
        f"  classic URL  {base_url}{cfg.classic_prefix}   (Rhodes syncserver)",
        f"  REST login   POST {base_url}/rc/v1/app/login",
        f"  demo login   {login}",
        f"  sources      {sources or 'none'}   (seed {cfg.seed})",
        f"  admin URL    {base_url}/_mock/" + ("   (token required)" if cfg.admin_token else ""),
        "Press Ctrl+C to stop.",
    ]
    if cfg.faults:
        lines.insert(-1, f"  faults       {len(cfg.faults)} rule(s) active (GET {base_url}/_mock/faults)")
    if not is_loopback(cfg.host):
        lines.insert(1, f"  WARNING: listening on {cfg.host}, reachable from other machines")
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    help="accept only these logins (default: any non-empty login and password)",
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
        click.echo(f"Error: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_RUNTIME)
    state_of(app).warm_up()  # data generated up front, so the first client does not wait
    gc.freeze()  # the dataset lives as long as the process: keep it out of every collection
    host, port = server.bind_addr[0], server.bind_addr[1]
    shown = f"[{host}]" if ":" in str(host) else host
    click.echo(banner(cfg, f"http://{shown}:{port}"))
    # SIGTERM (kill, CI teardown, ``docker stop``) stops like Ctrl-C: Python's default would end the
    # process at once, without ``finally`` blocks or exit hooks, leaving the temporary bulk folder.
    serve_until_stopped(
        server, (signal.SIGTERM,) if threading.current_thread() is threading.main_thread() else ()
    )


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
