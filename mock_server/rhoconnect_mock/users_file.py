"""Reading ``--users FILE``: the logins the mock accepts, with their passwords.

The format follows the file name:

* ``.json``, ``.yaml``/``.yml``, ``.toml``: a map of login to password (``{"alice": "secret"}``,
  ``alice: secret``, ``alice = "secret"``), either at the top or under a ``users`` key, so a
  config file's ``users`` table can be reused as it is. Numbers are taken as text (``1234``).
* anything else: one ``login:password`` per line. The login is everything before the first colon,
  the password everything after it, byte for byte; only the line ending is removed. Blank lines
  and lines starting with ``#`` are skipped.

A password written as a line has no way to show surrounding spaces, so a line whose login or
password starts or ends with whitespace is refused rather than read with an invisible space (the
classic surprise: ``alice: secret`` meaning the password ``" secret"``). So is a line that looks
like JSON or YAML in a file without that extension. Every refusal is a ``ConfigError`` naming the
file and the line, which the command line prints as one ``Error:`` line (exit status 2).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

KEY = "--users"
_MAP_SUFFIXES = {".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}
_NOT_IN_A_LOGIN = set("{}[]\"'")


def read_users_file(path: Path) -> dict[str, str]:
    """The users of one file (see the module docstring for the formats)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(KEY, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(KEY, f"{path} line {line}: not UTF-8 text") from None
    kind = _MAP_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return _read_lines(path, text)
    return _users_map(path, kind, _parse_map(path, kind, text))


def _read_lines(path: Path, text: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{path} line {number}"
        login, colon, password = line.partition(":")
        if not colon or not login:
            raise ConfigError(KEY, f"{where}: expected login:password, got {line!r}")
        if _NOT_IN_A_LOGIN & set(login):
            raise ConfigError(
                KEY,
                f"{where}: {login!r} is not a login; a JSON, YAML or TOML file needs the "
                ".json, .yaml or .toml extension",
            )
        for name, value in (("login", login), ("password", password)):
            if value != value.strip():
                raise ConfigError(
                    KEY,
                    f"{where}: the {name} starts or ends with a space; write login:password with "
                    "nothing around the colon (a password with spaces needs a JSON, YAML or TOML file)",
                )
        if not password:
            raise ConfigError(KEY, f"{where}: empty password for {login!r}")
        users[login] = password
    if not users:
        raise ConfigError(KEY, f"{path}: no login:password line")
    return users


def _parse_map(path: Path, kind: str, text: str) -> Any:
    try:
        if kind == "JSON":
            return json.loads(text)
        if kind == "TOML":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(KEY, f"{path} line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has the position only in its message: "... (at line 3, column 5)".
        found = re.search(r"\(at line (\d+), column \d+\)$", str(exc))
        where = f"{path} line {found.group(1)}" if found else str(path)
        problem = str(exc)[: found.start()].strip() if found else str(exc)
        raise ConfigError(KEY, f"{where}: not valid TOML: {problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(KEY, f"{where}: not valid YAML: {problem}") from None


def _users_map(path: Path, kind: str, data: Any) -> dict[str, str]:
    if isinstance(data, Mapping) and set(data) == {"users"}:
        data = data["users"]
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(KEY, f"{path}: a {kind} file must hold a map of login to password")
    users: dict[str, str] = {}
    for login, password in data.items():
        if not isinstance(login, str) or not login:
            raise ConfigError(KEY, f"{path}: bad login {login!r}")
        if isinstance(password, bool) or not isinstance(password, str | int) or password == "":
            raise ConfigError(KEY, f"{path}: the password of {login!r} must be a non-empty string")
        users[login] = str(password)
    return users
