"""Pages applied while they are parsed (``overlap.PageReader``, ``Store.apply_page_ahead``).

The rows are written from the page text before the parse ends; these tests check that the result is
the usual one whenever the page is kept, and that nothing of a page stays when its parse or its
checks fail, or when it is not a plain insert page of the expected layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rhoconnect_client import overlap
from rhoconnect_client.exceptions import ProtocolError
from rhoconnect_client.protocol import Page, parse_page
from rhoconnect_client.store import Store


def body(token: int, cmd: dict[str, object]) -> bytes:
    items = [{"version": 3}, {"token": str(token)}, {"count": 2}, {"progress_count": 0}, {"total_count": 9}]
    return json.dumps([*items, cmd]).encode()


def inserts(first: int, n: int = 2) -> dict[str, object]:
    return {"insert": {str(i): {"name": f"n{i}", "price": str(i)} for i in range(first, first + n)}}


def rows(store: Store) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.conn.execute("SELECT * FROM object_values ORDER BY object, attrib")]


def token(store: Store) -> int:
    source = store.source("Product")
    assert source is not None
    return source.token


class Parsed:
    """A ``pages.PendingParse`` that parses on the calling thread (no helper needed here)."""

    def __init__(self, data: bytes, fail: Exception | None = None) -> None:
        self.data, self.fail, self.started = data, fail, False

    def start(self) -> None:
        self.started = True

    def result(self) -> Page:
        assert self.started
        if self.fail is not None:
            raise self.fail
        return parse_page(self.data)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    pair = (Store(tmp_path / "ahead.db"), Store(tmp_path / "usual.db"))
    for s in pair:
        s.register_source("Product")
    yield pair
    for s in pair:
        s.close()


def test_a_plain_page_ends_as_applied_the_usual_way(stores: tuple[Store, Store]) -> None:
    ahead, usual = stores
    data = body(100, inserts(1, 3))
    _, applied = ahead.apply_page_ahead(1, data.decode(), "$[5]", Parsed(data))
    assert applied is not None and sorted(applied.updated) == ["1", "2", "3"]
    assert usual.apply_page(1, parse_page(data)).updated == applied.updated
    assert rows(ahead) == rows(usual) and token(ahead) == token(usual) == 100


@pytest.mark.parametrize(
    "cmd",
    [
        '{"insert":{"5":{"name":"a"}},"delete":{"1":{"name":"n1"}}}',  # deletes come before inserts
        '{"insert":{"5":{"name":"a"}},"links":{"t1":{"l":"5"}}}',
        '{"insert":{"5":{"name":"a"}},"metadata":"{}"}',
        '{"insert":{"5":{"name":"a","name":"b"}}}',  # duplicate keys: the text gives more rows
        '{"insert":{"5":{"pic-rhoblob":"http://x/5"}}}',  # renamed before it is written
        '{"insert":{"5":{"name":"a"}},"source-error":{"query-error":{"message":"m"}}}',
    ],
)
def test_a_page_that_is_not_plain_is_rolled_back_and_handed_back(
    stores: tuple[Store, Store], cmd: str
) -> None:
    ahead, _ = stores
    ahead.apply_page(1, parse_page(body(100, inserts(1))))
    before = rows(ahead)
    data = body(101, {})[: -len(b"{}]")] + cmd.encode() + b"]"
    page, applied = ahead.apply_page_ahead(1, data.decode(), "$[5]", Parsed(data))
    assert applied is None and page.token == 101
    assert rows(ahead) == before and token(ahead) == 100  # nothing of the page stayed


def test_a_page_at_another_path_or_resent_is_handed_back(stores: tuple[Store, Store]) -> None:
    ahead, _ = stores
    data = body(100, inserts(1))
    assert ahead.apply_page_ahead(1, data.decode(), "$[4]", Parsed(data))[1] is None
    assert rows(ahead) == []
    ahead.apply_page(1, parse_page(data))
    before = rows(ahead)
    again = body(100, inserts(7))  # the stored token again: a re-send, not applied
    assert ahead.apply_page_ahead(1, again.decode(), "$[5]", Parsed(again))[1] is None
    assert rows(ahead) == before


def test_a_failed_parse_or_check_leaves_nothing(stores: tuple[Store, Store]) -> None:
    ahead, _ = stores
    data = body(100, inserts(1))
    with pytest.raises(ProtocolError, match="refused"):
        ahead.apply_page_ahead(1, data.decode(), "$[5]", Parsed(data, ProtocolError("refused")))
    assert rows(ahead) == [] and token(ahead) == 0
    assert not ahead.conn.in_transaction


def test_the_reader_reads_ahead_after_a_plain_page_and_stops_after_a_miss(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead, _ = stores
    used: list[bool] = []
    real = Store.apply_page_ahead

    def spy(self: Store, *args: object) -> object:
        answer = real(self, *args)  # type: ignore[arg-type]
        used.append(answer[1] is not None)
        return answer

    monkeypatch.setattr(Store, "apply_page_ahead", spy)
    checked: list[int] = []
    reader = overlap.PageReader()
    try:
        bodies = [
            body(100, inserts(1)),
            body(101, inserts(3)),
            body(102, {**inserts(5), "delete": {"1": {"name": "n1"}}}),
            body(103, inserts(7)),
            body(104, inserts(9)),
        ]
        for data in bodies:
            page, applied = reader.read(ahead, 1, data, lambda p: checked.append(p.token))
            if applied is None:
                ahead.apply_page(1, page)
    finally:
        reader.close()
    assert used == [True, False]  # page 2 read ahead; page 3 was not plain: no more reading ahead
    assert checked == [100, 101, 102, 103, 104]  # every page checked once
    assert token(ahead) == 104
    assert {r[2] for r in rows(ahead)} == {str(i) for i in range(1, 11)}
    assert ("name", "1") not in {(r[1], r[2]) for r in rows(ahead)}  # page 3's delete was applied


def test_a_check_failing_on_the_helper_path_propagates(stores: tuple[Store, Store]) -> None:
    ahead, _ = stores
    reader = overlap.PageReader()
    try:
        reader.read(ahead, 1, body(100, inserts(1)), lambda p: None)
        ahead.apply_page(1, parse_page(body(100, inserts(1))))

        def refuse(page: Page) -> None:
            raise ProtocolError("paging does not end")

        with pytest.raises(ProtocolError, match="paging does not end"):
            reader.read(ahead, 1, body(101, inserts(3)), refuse)
    finally:
        reader.close()
    assert token(ahead) == 100 and {r[2] for r in rows(ahead)} == {"1", "2"}
