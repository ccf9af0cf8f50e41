"""The exchanges recorded from a real RhoConnect 7.8 server, read from ``tests/data/rhoconnect-7.8``.

Each recording is one JSON file (``main.json``, ``errors.json``; the format is described in that
folder's README). An item is either an ``exchange`` (the request as curl sent it and the answer as
the server gave it) or a ``file_listing`` (what ``sqlite3``/``unzip`` printed about a downloaded bulk
file). Exchanges are named ``<recording>-<NN>``, e.g. ``errors-53``.

The recordings are part of the repository: when one is missing or unreadable, ``load`` raises
``RecordingMissing`` and the tests that need it fail (they never skip).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "rhoconnect-7.8"
RECORDINGS = ("main", "errors")


class RecordingMissing(AssertionError):
    """A recording the tests need is not in ``tests/data/rhoconnect-7.8`` (or is not valid JSON)."""


def _headers(lines: list[str]) -> CaseInsensitiveDict[str]:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for line in lines:
        name, _, value = line.partition(": ")
        headers[name] = value
    return headers


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response. Header lookups ignore case; iteration keeps the
    recorded spelling and order."""

    recording: str
    id: str
    title: str
    part: str | None
    cookie_jar: str | None  # the curl cookie file used, so a replay can keep the same sessions apart
    method: str
    target: str  # path and query string as sent
    request_headers: CaseInsensitiveDict[str]
    request_body: str
    status: int
    response_headers: CaseInsensitiveDict[str]
    body: str
    binary: bool  # a download whose body the recording does not include
    setup: list[dict[str, Any]] = field(default_factory=list)  # adapter switches made before it
    not_replayed: str | None = None  # why a replay leaves it out, if it does
    note: str | None = None

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def content_type(self) -> str | None:
        return self.response_headers.get("content-type")


@cache
def load(name: str, folder: Path = DATA_DIR) -> dict[str, Any]:
    """The whole recording ``name`` (``main`` or ``errors``) as stored."""
    path = folder / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingMissing(f"recorded exchanges missing: {path} is part of the repository") from None
    except ValueError as exc:
        raise RecordingMissing(f"recorded exchanges unreadable: {path}: {exc}") from None
    return data


def exchanges(name: str) -> list[Exchange]:
    """Every exchange of one recording, in recorded order (file listings left out)."""
    found: list[Exchange] = []
    for item in load(name)["exchanges"]:
        if item["kind"] != "exchange":
            continue
        request, response = item["request"], item["response"]
        found.append(
            Exchange(
                recording=name,
                id=item["id"],
                title=item["title"],
                part=item.get("part"),
                cookie_jar=item["cookie_jar"],
                method=request["method"],
                target=request["target"],
                request_headers=_headers(request["headers"]),
                request_body=request["body"],
                status=response["status"],
                response_headers=_headers(response["headers"]),
                body=response["body"],
                binary=response["body_omitted"],
                setup=item.get("setup", []),
                not_replayed=item.get("not_replayed"),
                note=item.get("note"),
            )
        )
    return found


def file_listing(name: str, item_id: str) -> str:
    """The shell output recorded about a downloaded bulk file (``sqlite3 ... .schema`` and more)."""
    for item in load(name)["exchanges"]:
        if item["id"] == item_id:
            if item["kind"] != "file_listing":
                raise RecordingMissing(f"{item_id} is an exchange, not a file listing")
            return str(item["output"])
    raise RecordingMissing(f"{item_id} not found in the {name} recording")


def all_exchanges() -> list[Exchange]:
    """Both recordings' exchanges."""
    return [ex for name in RECORDINGS for ex in exchanges(name)]
