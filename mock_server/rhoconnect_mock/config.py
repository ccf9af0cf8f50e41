"""Configuration of the mock server: defaults < config file (TOML/YAML) < environment < flags.

Everything the command line can say, a config file can say too. Raw layers are plain mappings
(``load_config_file``, ``env_layer``, CLI overrides) merged by ``merge_layers`` and validated once
by ``MockConfig.from_mapping``; every error is a ``ConfigError`` naming the offending key, so the
CLI can print one line and exit with status 2.

File layout (TOML shown; YAML has the same keys)::

    seed = 7
    classic_prefix = "/application"
    classic_resend = false
    users = { alice = "secret" }        # omit to accept any non-empty login and password
    cors = ["http://localhost:8080"]     # origins allowed cross-origin requests ("*": any); default none
    [sources.Product]
    partition = "user"                   # or "app"
    priority = 3
    poll_interval = 0                    # > 0: RhoConnect's cached master document (seconds)
    records = 1000                       # generated records (Faker pools, deterministic per seed)
    attributes = ["name", "brand", "price", "quantity", "sku"]
    [sources.Fixed]
    schema = { version = "1.0", property = { name = "string" } }
    metadata = { title = "Fixed items" }
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError

Partition = Literal["user", "app"]
Generator = Literal["faker", "sequence"]

DEFAULT_ATTRIBUTES: tuple[str, ...] = ("name", "brand", "price", "quantity", "sku")
ENV_PREFIX = "RHOCONNECT_MOCK_"

_TOP_KEYS = {
    "host",
    "port",
    "seed",
    "classic_prefix",
    "classic_resend",
    "users",
    "sources",
    "data",
    "secret_key",
    "app_name",
    "id_template",
    "cookie_expire",
    "threads",
    "bulk_wait_polls",
    "bulk_dir",
    "records",
    "poll_interval",
    "scenario",
    "faults",
    "admin_token",
    "journal_size",
    "cors",
    "max_body_size",
    "max_header_size",
    "request_timeout",
}
_SOURCE_KEYS = {
    "partition",
    "priority",
    "poll_interval",
    "records",
    "attributes",
    "schema",
    "metadata",
    "generator",
}


@dataclass
class SourceConfig:
    """One source (adapter) the mock serves."""

    name: str
    partition: Partition = "user"
    priority: int = 3
    records: int = 25
    attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | str | None = None
    generator: Generator = "faker"
    #: Seconds the master document clients see is kept between adapter queries (RhoConnect's
    #: ``poll_interval``); 0 (the default): every change reaches clients on their next query.
    poll_interval: int = 0


def default_sources() -> list[SourceConfig]:
    """The demo data: one user-partition ``Product`` source of 25 records, as in the transcript."""
    return [SourceConfig(name="Product")]


@dataclass
class MockConfig:
    """Validated settings of one mock server (see the module docstring for the file form)."""

    sources: list[SourceConfig] = field(default_factory=default_sources)
    #: ``None`` accepts any non-empty login and password; else only these users and passwords.
    users: dict[str, str] | None = None
    seed: int = 0
    classic_prefix: str = "/application"
    #: Classic paging: a query without a token re-sends the pending page (RhoConnect 7.8 acks it).
    classic_resend: bool = False
    host: str = "127.0.0.1"
    port: int = 9292
    #: JSON file of records: ``{"Source": {"id": {"attr": "value"}}}``, overrides generation.
    data: Path | None = None
    #: Session cookie signing key; random per app when ``None``.
    secret_key: str | None = None
    app_name: str = "application"
    #: Server ids given to created objects; ``{n}`` is a per-document counter, ``{source}`` the name.
    id_template: str = "{n}"
    cookie_expire: int = 31_536_000
    #: Worker threads. A client that trickles a request holds one until ``request_timeout``; idle
    #: keep-alive connections hold none. 128 leave room for 100 such clients beside normal ones.
    threads: int = 128
    #: Largest request body accepted (bytes; 413 above it; a 100,000-record push is about 10 MB):
    #: bodies are read whole, so memory peaks near threads x this. Largest request line plus
    #: headers (bytes; 431 above it).
    max_body_size: int = 16 * 1024 * 1024
    max_header_size: int = 64 * 1024
    #: Seconds a client has to send a whole request (line, headers and body) once it starts.
    request_timeout: float = 30.0
    #: Bulk sync (engineer H2): polls answered ``wait`` before a fresh file is ready.
    bulk_wait_polls: int = 1
    bulk_dir: Path | None = None
    #: A scenario file whose rules are active from start-up.
    scenario: str | None = None
    #: Start-up fault rules as given (rule dicts or ``--fail`` strings). Settings stay plain data:
    #: the app layer validates them with the fault engine's own rules (``scenario.config_faults``)
    #: when it builds the app, so a bad rule is still one ``Error:`` line before anything is served.
    fault_specs: Any = None
    #: When set, the admin API ``/_mock/`` needs ``Authorization: Bearer <token>``.
    admin_token: str | None = None
    #: Requests kept in the journal before the oldest are dropped (and counted).
    journal_size: int = 10_000
    #: Origins allowed cross-origin requests (``*``: any), as RhoConnect's optional CORS
    #: middleware; empty (the default, as on the real server) answers no preflight.
    cors: list[str] = field(default_factory=list)

    def source(self, name: str) -> SourceConfig | None:
        """The source called ``name``, or ``None``."""
        for src in self.sources:
            if src.name == name:
                return src
        return None

    def effective_secret(self) -> str:
        """The configured secret, or a fresh random one."""
        return self.secret_key or secrets.token_hex(32)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> MockConfig:
        """Validate a merged raw mapping; raises ``ConfigError`` naming the bad key."""
        unknown = sorted(set(raw) - _TOP_KEYS)
        if unknown:
            raise ConfigError(unknown[0], "unknown setting")
        cfg = cls()
        _read_identity(cfg, raw)
        _read_serving_limits(cfg, raw)
        _read_control_settings(cfg, raw)
        _read_data_settings(cfg, raw)
        return cfg

    def _source_or_new(self, name: str) -> SourceConfig:
        src = self.source(name)
        if src is None:
            src = SourceConfig(name=name)
            self.sources.append(src)
        return src


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``localhost`` or a loopback address)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name, or cheroot's "0" (every address)
        return False


def _str(raw: Mapping[str, Any], key: str, path: str = "") -> str:
    value = raw[key]
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise ConfigError(path + key, f"must be a string, not {value!r}")
    return value


def _int(raw: Mapping[str, Any], key: str, lo: int | None, hi: int | None, path: str = "") -> int:
    value = raw[key]
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path + key, f"must be an integer, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(path + key, f"must be {bounds}, not {value}")
    return value


def _read_identity(cfg: MockConfig, raw: Mapping[str, Any]) -> None:
    """Where the server listens and how it names things: address, routes, sessions, ids."""
    if "host" in raw:
        cfg.host = _str(raw, "host")
    if "port" in raw:
        cfg.port = _int(raw, "port", 0, 65535)
    if "classic_prefix" in raw:
        prefix = _str(raw, "classic_prefix").rstrip("/")
        if not prefix.startswith("/") or len(prefix) < 2:
            raise ConfigError("classic_prefix", "must start with '/' and name a path, e.g. /application")
        cfg.classic_prefix = prefix
    if "classic_resend" in raw:
        cfg.classic_resend = _bool(raw, "classic_resend")
    if raw.get("secret_key") is not None:
        cfg.secret_key = _str(raw, "secret_key")
    if "app_name" in raw:
        cfg.app_name = _str(raw, "app_name")
    if "id_template" in raw:
        cfg.id_template = _str(raw, "id_template")
        if "{n}" not in cfg.id_template:
            raise ConfigError("id_template", "must contain {n}")
    if "cookie_expire" in raw:
        cfg.cookie_expire = _int(raw, "cookie_expire", 1, None)


def _read_data_settings(cfg: MockConfig, raw: Mapping[str, Any]) -> None:
    """What the server serves: users, the data file, sources, record counts, bulk files."""
    if "seed" in raw:
        cfg.seed = _int(raw, "seed", None, None)
    if raw.get("users") is not None:
        cfg.users = _users(raw["users"])
    if raw.get("data") is not None:
        cfg.data = Path(_str(raw, "data"))
    if "bulk_wait_polls" in raw:
        cfg.bulk_wait_polls = _int(raw, "bulk_wait_polls", 0, None)
    if raw.get("bulk_dir") is not None:
        cfg.bulk_dir = Path(_str(raw, "bulk_dir"))
    if raw.get("sources") is not None:
        cfg.sources = _sources(raw["sources"])
    if raw.get("records") is not None:
        for name, count in _records(raw["records"], "records").items():
            cfg._source_or_new(name).records = count
    if raw.get("poll_interval") is not None:
        for name, seconds in _records(raw["poll_interval"], "poll_interval", "SECONDS").items():
            cfg._source_or_new(name).poll_interval = seconds


def _read_serving_limits(cfg: MockConfig, raw: Mapping[str, Any]) -> None:
    """What one request may cost the server: worker threads, body and header sizes, read deadline."""
    if "threads" in raw:
        cfg.threads = _int(raw, "threads", 1, 1000)
    if "max_body_size" in raw:
        cfg.max_body_size = _int(raw, "max_body_size", 1, None)
    if "max_header_size" in raw:
        cfg.max_header_size = _int(raw, "max_header_size", 1024, None)
    if "request_timeout" in raw:
        cfg.request_timeout = _positive_number(raw, "request_timeout")


def _read_control_settings(cfg: MockConfig, raw: Mapping[str, Any]) -> None:
    """The settings of the mock as a test tool: admin token (required off loopback), journal,
    start-up faults, CORS."""
    if raw.get("admin_token") is not None:
        cfg.admin_token = _str(raw, "admin_token")
        if not cfg.admin_token:
            raise ConfigError("admin_token", "must not be empty (omit it: no token, loopback only)")
    if not cfg.host.strip():
        raise ConfigError("host", "must name an address, e.g. 127.0.0.1")
    if cfg.admin_token is None and not is_loopback(cfg.host):
        raise ConfigError(
            "host",
            f"{cfg.host!r} is reachable from other machines, and so would be the admin API"
            " (reset, data, faults, journal): give an admin token too (--admin-token)",
        )
    if "journal_size" in raw:
        cfg.journal_size = _int(raw, "journal_size", 1, None)
    if raw.get("scenario") is not None:
        cfg.scenario = _str(raw, "scenario")
    cfg.fault_specs = raw.get("faults")
    if raw.get("cors") is not None:
        cfg.cors = _origins(raw["cors"])


def _origins(value: Any) -> list[str]:
    """``cors``: a list of origins, or one string of them separated by commas or spaces."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(o, str) and o.strip() for o in items):
        raise ConfigError("cors", "expected a list of origins such as http://localhost:8080 or *")
    return [o.strip() for o in items]


def _positive_number(raw: Mapping[str, Any], key: str) -> float:
    value = raw[key]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(key, f"must be a number of seconds, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise ConfigError(key, f"must be a positive number of seconds, not {value!r}")
    return float(value)


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw[key]
    if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        return value.lower() in {"1", "true", "yes", "on"}
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, not {value!r}")
    return value


def _users(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = parse_user_specs([p for p in value.split(",") if p], "users")
    if not isinstance(value, Mapping):
        raise ConfigError("users", "must be a table of login = password")
    users: dict[str, str] = {}
    for login, password in value.items():
        if not isinstance(login, str) or not login:
            raise ConfigError("users", f"bad login {login!r}")
        if not isinstance(password, str | int) or isinstance(password, bool):
            raise ConfigError(f"users.{login}", "password must be a string")
        users[login] = str(password)
    return users


def parse_user_specs(specs: list[str], key: str = "--users") -> dict[str, str]:
    """``["alice:secret", "bob:pw"]`` to a users mapping (``ConfigError`` on a missing colon)."""
    users: dict[str, str] = {}
    for spec in specs:
        login, sep, password = spec.partition(":")
        if not sep or not login:
            raise ConfigError(key, f"expected user:password, got {spec!r}")
        users[login] = password
    return users


def _records(value: Any, key: str, what: str = "COUNT") -> dict[str, int]:
    """Per-source integers (``records``, ``poll_interval``): a mapping or ``"A=1,B=2"``."""
    if isinstance(value, str):
        value = parse_record_specs([p for p in value.split(",") if p], key, what)
    if not isinstance(value, Mapping):
        raise ConfigError(
            key, f"must map source names to {'record counts' if what == 'COUNT' else 'seconds'}"
        )
    return {str(k): _int(value, k, 0, None, key + ".") for k in value}


def parse_record_specs(specs: list[str], key: str = "--records", what: str = "COUNT") -> dict[str, int]:
    """``["Product=100000"]`` to ``{"Product": 100000}`` (``ConfigError`` on bad input)."""
    out: dict[str, int] = {}
    for spec in specs:
        name, sep, count = spec.partition("=")
        if not sep or not name or not count.strip().isdigit():
            raise ConfigError(key, f"expected Source={what}, got {spec!r}")
        out[name] = int(count)
    return out


def _sources(value: Any) -> list[SourceConfig]:
    if not isinstance(value, Mapping):
        raise ConfigError("sources", "must be a table keyed by source name")
    return [_source(name, spec) for name, spec in value.items()]


def _source(name: Any, spec: Any) -> SourceConfig:
    """One ``[sources.NAME]`` table."""
    path = f"sources.{name}."
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError("sources", f"bad source name {name!r}")
    spec = spec or {}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"sources.{name}", "must be a table")
    unknown = sorted(set(spec) - _SOURCE_KEYS)
    if unknown:
        raise ConfigError(path + unknown[0], "unknown setting")
    src = SourceConfig(name=name)
    if "partition" in spec:
        src.partition = _choice(spec, "partition", ("user", "app"), path)
    if "generator" in spec:
        src.generator = _choice(spec, "generator", ("faker", "sequence"), path)
    for key in ("priority", "poll_interval", "records"):
        if key in spec:
            setattr(src, key, _int(spec, key, None if key == "priority" else 0, None, path))
    if "attributes" in spec:
        attrs = spec["attributes"]
        if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) and a for a in attrs):
            raise ConfigError(path + "attributes", "must be a non-empty list of names")
        src.attributes = tuple(attrs)
    if spec.get("schema") is not None:
        src.schema = _source_schema(spec["schema"], path)
        src.attributes = tuple(src.schema["property"])
    if spec.get("metadata") is not None:
        src.metadata = _source_metadata(spec["metadata"], path)
    return src


def _source_metadata(meta: Any, path: str) -> dict[str, Any] | str:
    """A source's metadata: a JSON string as given, or a table as plain data."""
    if not isinstance(meta, Mapping | str):
        raise ConfigError(path + "metadata", "must be a table or a JSON string")
    if isinstance(meta, str):
        return meta
    plain: dict[str, Any] = json.loads(json.dumps(dict(meta)))
    return plain


def _choice(spec: Mapping[str, Any], key: str, allowed: tuple[str, ...], path: str) -> Any:
    """``spec[key]`` if it is one of ``allowed`` (``"a" or "b"``), else a ``ConfigError``."""
    value = spec[key]
    if value not in allowed:
        names = " or ".join(f'"{a}"' for a in allowed)
        raise ConfigError(path + key, f"must be {names}, not {value!r}")
    return value


def _source_schema(schema: Any, path: str) -> dict[str, Any]:
    """A source's fixed schema: a table with a ``property`` table and a ``version``, as plain data."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("property"), Mapping):
        raise ConfigError(path + "schema", "must be a table with a 'property' table")
    if "version" not in schema:
        raise ConfigError(path + "schema.version", "is required (RhoConnect needs it)")
    plain: dict[str, Any] = json.loads(json.dumps(dict(schema)))
    return plain


def read_settings_file(path: str | os.PathLike[str], key: str = "config") -> Any:
    """Parse a TOML (``.toml``) or YAML (anything else) file; ``ConfigError(key, ...)`` if unreadable.

    Shared by the config file and the scenario file, so both report the same, one-line errors.
    An empty YAML file gives ``None``.
    """
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {p}: {exc.strerror or exc}") from None
    is_toml = p.suffix.lower() == ".toml"
    try:
        return tomllib.loads(text.decode("utf-8")) if is_toml else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(key, f"{p} is not valid YAML: {_yaml_problem(exc)}") from None
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        # tomllib's message already ends with "(at line N, column M)".
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(key, f"{p} is not valid {'TOML' if is_toml else 'YAML'}: {detail}") from None


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem on one line, with the 1-based line and column it points at.

    Its own message spreads over several lines ("while parsing ..." first, the position last),
    and the CLI prints one line, so the position was lost.
    """
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or type(exc).__name__
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML (``.toml``) or YAML (anything else) file into a raw mapping."""
    data = read_settings_file(path) or {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path} must hold a table of settings")
    return data


def env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ``RHOCONNECT_MOCK_<KEY>`` variables (e.g. ``RHOCONNECT_MOCK_SEED=7``).

    ``RHOCONNECT_MOCK_USERS=alice:pw,bob:pw``, ``RHOCONNECT_MOCK_RECORDS=Product=100`` and
    ``RHOCONNECT_MOCK_POLL_INTERVAL=Product=300`` use the flag syntax; ``RHOCONNECT_MOCK_CONFIG``
    is the config file and is not a setting itself.
    """
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in _TOP_KEYS or key == "sources":
            raise ConfigError(name, "unknown setting")
        out[key] = value
    return out


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win key by key; ``sources`` tables merge per source, ``records`` per name."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key in ("records", "poll_interval") and value is not None:
                counts = _records(value, key, "COUNT" if key == "records" else "SECONDS")
                merged[key] = {**merged.get(key, {}), **counts}
            elif key == "faults" and isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *value]  # rules add up across layers
            elif key == "sources" and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def load_config(path: str | os.PathLike[str]) -> MockConfig:
    """A validated config from one file (defaults for everything it does not say)."""
    return MockConfig.from_mapping(load_config_file(path))


def config_from_env(environ: Mapping[str, str], base: Mapping[str, Any] | None = None) -> MockConfig:
    """A validated config from ``RHOCONNECT_MOCK_*`` variables layered over ``base`` (raw)."""
    return MockConfig.from_mapping(merge_layers(base or {}, env_layer(environ)))


def resolve_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> MockConfig:
    """The full precedence chain: defaults < file < environment < explicit overrides."""
    layers: list[Mapping[str, Any]] = []
    if path is not None:
        layers.append(load_config_file(path))
    env = env_layer(environ) if environ is not None else {}
    layers.append(env)
    if overrides:
        layers.append(overrides)
    try:
        return MockConfig.from_mapping(merge_layers(*layers))
    except ConfigError as exc:
        top = exc.key.split(".")[0]
        if top in env and top not in (overrides or {}):
            raise ConfigError(ENV_PREFIX + top.upper(), exc.message) from None
        if path is not None and top not in env and top not in (overrides or {}):
            raise ConfigError(f"{path}: {exc.key}", exc.message) from None
        raise


def coerce_config(config: MockConfig | Mapping[str, Any] | None) -> MockConfig:
    """Accept what ``create_app`` accepts: a ``MockConfig``, a raw mapping, or ``None``."""
    if config is None:
        return MockConfig()
    if isinstance(config, MockConfig):
        return config
    return MockConfig.from_mapping(config)
