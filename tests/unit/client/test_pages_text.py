"""Pages inserted straight from their JSON text end exactly as the parsed pages would.

The store reads a page's ``insert`` rows from the page text with SQLite's JSON functions when it
safely can (``protocol.RawInsert``); these tests apply the same pages both ways and compare the rows,
including the cases where the text and the parsed page disagree (duplicate keys) or SQLite would read
a string differently (escaped NUL, surrogates).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rhoconnect_client import pages
from rhoconnect_client.exceptions import ProtocolError
from rhoconnect_client.pages import sqlite_reads_pages_like_python
from rhoconnect_client.protocol import Page, parse_page
from rhoconnect_client.search import split_page
from rhoconnect_client.store import Store


def page_text(cmd: str, token: str = "100") -> str:
    return (
        f'[{{"version":3}},{{"token":"{token}"}},{{"count":0}},{{"progress_count":0}},'
        f'{{"total_count":0}},{cmd}]'
    )


def values(store: Store) -> list[tuple[object, ...]]:
    return [tuple(r) for r in store.conn.execute("SELECT * FROM object_values ORDER BY rowid")]


def apply_traced(store: Store, page: Page) -> list[str]:
    """Apply ``page`` to source 1 and return the SQL statements it ran."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        store.apply_page(1, page)
    finally:
        store.conn.set_trace_callback(None)
    return statements


def from_text(statements: list[str]) -> bool:
    """The rows came from the page text: the statement ran and was not undone."""
    tried = any("json_each" in s for s in statements)
    return tried and not any(s.startswith("ROLLBACK TO") for s in statements)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Store, Store]:
    """Two empty stores with source 1: one gets pages as parsed, the other without their text."""
    pair = (Store(tmp_path / "text.db"), Store(tmp_path / "parsed.db"))
    for s in pair:
        s.register_source("Product")
    return pair


def apply_both(stores: tuple[Store, Store], text: str) -> list[str]:
    """Apply ``text`` to both stores, the second without the page text; returns the statements
    the first ran."""
    page = parse_page(text.encode())
    statements = apply_traced(stores[0], page)
    assert not from_text(apply_traced(stores[1], dataclasses.replace(page, raw_insert=None)))
    assert values(stores[0]) == values(stores[1])
    return statements


def test_a_page_of_strings_is_inserted_from_its_text(stores: tuple[Store, Store]) -> None:
    cmd = '{"insert":{"1":{"name":"Pen","price":"1.10"},"2":{"name":"Ink \\"blue\\" \\u00e9\\n"}}}'
    assert from_text(apply_both(stores, page_text(cmd)))
    assert values(stores[0]) == [
        (1, "name", "1", "Pen"),
        (1, "price", "1", "1.10"),
        (1, "name", "2", 'Ink "blue" é\n'),
    ]


def test_duplicate_keys_end_as_in_the_parsed_page(stores: tuple[Store, Store]) -> None:
    # The parsed page keeps the last of duplicate keys: object 1 is {"a": "z"}, without "b".
    cmd = '{"insert":{"1":{"a":"x","b":"y"},"2":{"a":"p","a":"q"},"1":{"a":"z"}}}'
    statements = apply_both(stores, page_text(cmd))
    assert "ROLLBACK TO rc_page_text" in statements  # the text was tried, gave other rows, undone
    assert sorted(values(stores[0])) == [(1, "a", "1", "z"), (1, "a", "2", "q")]
    # A second "insert" hash in the command: the last one counts, as in the parsed page.
    statements = apply_both(stores, page_text('{"insert":{"3":{"a":"1"}},"insert":{"4":{"a":"2"}}}', "101"))
    assert "ROLLBACK TO rc_page_text" in statements
    assert (1, "a", "4", "2") in values(stores[0]) and all(r[2] != "3" for r in values(stores[0]))


def test_escapes_sqlite_reads_differently_use_the_parsed_rows(stores: tuple[Store, Store]) -> None:
    for n, value in enumerate(["nul \\u0000 inside", "pair \\ud83d\\ude00"]):
        text = page_text(f'{{"insert":{{"{n}":{{"v":"{value}"}}}}}}', token=str(100 + n))
        assert not any("json_each" in s for s in apply_both(stores, text))
    assert [r[3] for r in values(stores[0])] == ["nul \x00 inside", "pair \U0001f600"]


def test_pages_with_converted_values_are_not_read_from_text(stores: tuple[Store, Store]) -> None:
    page = parse_page(page_text('{"insert":{"1":{"n":5,"s":"x"}}}'))
    assert page.raw_insert is None and page.insert == {"1": {"n": "5", "s": "x"}}
    assert not from_text(apply_traced(stores[0], page))
    assert values(stores[0]) == [(1, "n", "1", "5"), (1, "s", "1", "x")]


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        (
            '{"insert":{"7":{"name":"ok","tags":["a"]}}}',
            r"insert\[7\]: attribute value must be a string, got list",
        ),
        ('{"insert":{"7":{"name":{"x":"y"}}}}', r"insert\[7\]: attribute value must be a string, got dict"),
        ('{"insert":{"1":{"a":"b"},"7":"flat"}}', r"insert\[7\]: expected an attribute hash, got str"),
        ('{"delete":{"7":{"a":[1]}}}', r"delete\[7\]: attribute value must be a string, got list"),
    ],
)
def test_values_that_are_no_strings_are_still_refused(cmd: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_page(page_text(cmd))


def test_a_page_repeating_objects_during_a_first_load_keeps_one_row_per_attribute(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    sid = store.register_source("Product").source_id
    assert store.defer_indexes(sid, 10_000)  # a first load: the secondary indexes are dropped
    first = '{"insert":{"1":{"name":"Pen","price":"1"},"2":{"name":"Ink"}}}'
    again = '{"insert":{"1":{"price":"2"},"3":{"name":"Cap"},"2":{"name":"Ink 2"}}}'
    for token, cmd in (("100", first), ("101", again)):
        assert from_text(apply_traced(store, parse_page(page_text(cmd, token))))
    store.build_indexes()
    rows = store.conn.execute("SELECT object, attrib, value FROM object_values ORDER BY object, attrib")
    assert rows.fetchall() == [
        ("1", "name", "Pen"),
        ("1", "price", "2"),
        ("2", "name", "Ink 2"),
        ("3", "name", "Cap"),
    ]
    assert store.integrity_check() == "ok"
    store.close()


ids = st.text(min_size=1, max_size=6)
attr_hashes = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=12), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pages=st.lists(st.dictionaries(ids, attr_hashes, min_size=1, max_size=6), min_size=1, max_size=3),
    ascii_only=st.booleans(),
)
def test_any_pages_end_the_same_from_text_and_parsed(
    tmp_path_factory: pytest.TempPathFactory, pages: list[dict[str, dict[str, str]]], ascii_only: bool
) -> None:
    tmp = tmp_path_factory.mktemp("pages")
    pair = (Store(tmp / "text.db"), Store(tmp / "parsed.db"))
    try:
        for s in pair:
            s.register_source("Product")
        for n, insert in enumerate(pages):
            apply_both(pair, page_text(json.dumps({"insert": insert}, ensure_ascii=ascii_only), str(100 + n)))
    finally:
        for s in pair:
            s.close()


def test_this_sqlite_reads_pages_like_python() -> None:
    assert sqlite_reads_pages_like_python()  # else the fast path above would never be taken


def test_a_sqlite_reading_pages_otherwise_gets_the_parsed_rows(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "sqlite_reads_pages_like_python", lambda: False)
    statements = apply_both(stores, page_text('{"insert":{"1":{"name":"Pen"}}}'))
    assert not any("json_each" in s for s in statements)
    assert values(stores[0]) == [(1, "name", "1", "Pen")]


def test_a_chunk_of_a_search_page_inserts_only_its_own_objects(tmp_path: Path) -> None:
    """A chunk (``search.split_page``) is not its page's text: reading the text would write every object
    of the page at the first chunk, before the later chunks' blob files are looked at."""
    store = Store(tmp_path / "user.db")
    store.register_source("Product", sync_priority=1)
    page = parse_page(page_text('{"insert":{"1":{"a":"x"},"2":{"a":"y"},"3":{"a":"z"}}}'))
    assert page.raw_insert is not None
    first, *rest = split_page(page, 1)
    store.apply_page(1, dataclasses.replace(first, token=1))
    assert values(store) == [(1, "a", "1", "x")]
    assert len(rest) == 2
