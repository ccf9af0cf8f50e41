"""Reading the recorded RhoConnect 7.8 exchanges out of the reference transcripts.

The transcripts are markdown: for each step a ``### N. title`` heading, a ``Request as sent:``
block (request line, headers, blank line, body) and a ``Response: **S**`` block (status line,
headers, blank line, body). Binary bodies are replaced by a note and flagged here, and the
first transcript cuts very long bodies; both are marked so tests can skip what they cannot
check. The files live beside the repository (``../shared/reference``, or ``/work/shared``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

TRANSCRIPT_NAMES = ("rhoconnect-7.8-transcript.md", "rhoconnect-7.8-errors-transcript.md")

_STEP = re.compile(r"^#{3,4} (\d+)\. (.*)$", re.M)
_BLOCK = re.compile(r"```\n(.*?)```", re.S)


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response."""

    transcript: str
    step: int
    title: str
    method: str
    target: str  # path and query string as sent
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    body: str
    binary: bool  # body not shown (downloads)
    truncated: bool  # body cut by the recorder

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def content_type(self) -> str | None:
        return self.response_headers.get("content-type")

    @property
    def id(self) -> str:
        short = "errors" if "errors" in self.transcript else "main"
        return f"{short}-{self.step:02d}"


def reference_dir() -> Path | None:
    """The folder holding the transcripts: ``../shared/reference`` from the repository root."""
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo.parent / "shared" / "reference", Path("/work/shared/reference")):
        if all((candidate / name).exists() for name in TRANSCRIPT_NAMES):
            return candidate
    return None


def _split_http(block: str) -> tuple[str, dict[str, str], str]:
    head, _, body = block.partition("\n\n")
    first, *header_lines = head.split("\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    # The recorder appends one newline after the body inside the code block.
    return first, headers, body[:-1] if body.endswith("\n") else body


def parse_transcript(path: Path) -> list[Exchange]:
    """Every exchange of one transcript file, in order."""
    text = path.read_text(encoding="utf-8")
    exchanges: list[Exchange] = []
    headings = list(_STEP.finditer(text))
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        section = text[heading.end() : end]
        if "Request as sent:" not in section or "Response: **" not in section:
            continue  # a file dump, not an exchange
        req_part = section[section.index("Request as sent:") :]
        resp_at = section.index("Response: **")
        request_block = _BLOCK.search(req_part)
        response_block = _BLOCK.search(section, resp_at)
        if request_block is None or response_block is None:
            continue
        request_line, request_headers, request_body = _split_http(request_block.group(1))
        status_line, response_headers, body = _split_http(response_block.group(1))
        method, target, _ = request_line.split(" ", 2)
        binary = body.startswith("(binary body omitted")
        exchanges.append(
            Exchange(
                transcript=path.name,
                step=int(heading.group(1)),
                title=heading.group(2).strip(),
                method=method,
                target=target,
                request_headers=request_headers,
                request_body=request_body,
                status=int(status_line.split(" ")[1]),
                response_headers=response_headers,
                body="" if binary else body,
                binary=binary,
                truncated="[cut" in body or "(truncated" in body or "..." in body[-20:],
            )
        )
    return exchanges


def all_exchanges() -> list[Exchange]:
    """Both transcripts' exchanges, or an empty list when the reference folder is absent."""
    folder = reference_dir()
    if folder is None:
        return []
    return [ex for name in TRANSCRIPT_NAMES for ex in parse_transcript(folder / name)]
