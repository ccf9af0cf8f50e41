"""The recorded RhoConnect 7.8 exchanges in ``tests/data/rhoconnect-7.8`` are complete and readable.

The recordings are test data of this repository: a missing file is an error, never a reason to skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .transcripts import RECORDINGS, RecordingMissing, exchanges, file_listing, load


@pytest.mark.parametrize("name", RECORDINGS)
def test_exchange_ids_are_unique_and_in_recorded_order(name: str) -> None:
    items = load(name)["exchanges"]
    numbers = [int(item["id"].rsplit("-", 1)[1]) for item in items]
    assert numbers == list(range(1, len(items) + 1))
    assert all(item["id"].startswith(f"{name}-") for item in items)


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_shown_body_is_whole(name: str) -> None:
    """Content-Length matches the stored body wherever the body is shown: nothing was cut."""
    for ex in exchanges(name):
        if ex.binary:
            assert ex.body == ""
            continue
        assert int(ex.response_headers["Content-Length"]) == len(ex.body.encode()), ex.id
        if "Content-Length" in ex.request_headers:
            assert int(ex.request_headers["Content-Length"]) == len(ex.request_body.encode()), ex.id


def test_counts_named_in_the_readme() -> None:
    """120 recorded items: 118 exchanges plus two listings of downloaded bulk files."""
    assert len(exchanges("main")) + len(exchanges("errors")) == 118
    assert "CREATE TABLE Fixed(" in file_listing("errors", "errors-85")
    assert "CREATE TABLE client_info" in file_listing("errors", "errors-07")


def test_a_missing_recording_is_an_error_not_a_skip(tmp_path: Path) -> None:
    with pytest.raises(RecordingMissing, match="missing"):
        load("main", tmp_path)
    (tmp_path / "main.json").write_text("{not json")
    with pytest.raises(RecordingMissing, match="unreadable"):
        load("main", tmp_path)
