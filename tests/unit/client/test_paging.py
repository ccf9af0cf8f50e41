"""PagingGuard: which page sequences a pull accepts and which it stops, without a server."""

from __future__ import annotations

import pytest
from rhoconnect_client.exceptions import ProtocolError, ResponseTooLarge
from rhoconnect_client.paging import PagingGuard
from rhoconnect_client.protocol import Page


def make_page(
    token: int, *, inserts: int = 0, deletes: int = 0, total: int = 0, count: int | None = None
) -> Page:
    return Page(
        version=3,
        token=token,
        count=inserts + deletes if count is None else count,
        progress_count=0,
        total_count=total,
        source=None,
        insert={f"i{token}-{n}": {"name": "x"} for n in range(inserts)},
        delete={f"d{token}-{n}": {"name": "x"} for n in range(deletes)},
        links={},
        metadata=None,
        schema_changed=False,
        errors=None,
    )


def test_an_honest_pull_passes() -> None:
    guard = PagingGuard(10, local_objects=0)
    for token in range(1, 11):
        guard.check(make_page(token, inserts=10, total=100))
    guard.check(make_page(0, total=100))


def test_deleting_every_local_object_passes_even_with_total_count_zero() -> None:
    guard = PagingGuard(10, local_objects=500)
    for token in range(1, 51):
        guard.check(make_page(token, deletes=10, total=0))
    guard.check(make_page(0, total=0))


def test_changed_attributes_may_fill_a_page_twice() -> None:
    guard = PagingGuard(10, local_objects=10)
    guard.check(make_page(1, inserts=10, deletes=10, total=10))


@pytest.mark.parametrize(("inserts", "count"), [(21, None), (1, 1_000_000)])
def test_a_page_over_twice_the_page_size_is_refused(inserts: int, count: int | None) -> None:
    guard = PagingGuard(10, local_objects=0)
    with pytest.raises(ResponseTooLarge, match=r"a page holds \d+ objects but 10 were asked for"):
        guard.check(make_page(1, inserts=inserts, total=30, count=count))


def test_new_tokens_beyond_the_budget_stop_the_pull() -> None:
    guard = PagingGuard(10, local_objects=5)
    budget = guard.budget()
    assert budget == 2 * 1 + PagingGuard.SLACK_PAGES
    for token in range(1, budget + 1):
        guard.check(make_page(token, inserts=1, total=5))
    expected = rf"paging does not end \({budget + 1} pages for a total_count of 5 at 10 objects per page\)"
    with pytest.raises(ProtocolError, match=expected):
        guard.check(make_page(budget + 1, inserts=1, total=5))


def test_empty_pages_with_tokens_stop_the_pull() -> None:
    guard = PagingGuard(10, local_objects=0)
    guard.check(make_page(1, inserts=3, total=1_000_000))
    for token in range(2, 2 + PagingGuard.MAX_IDLE_PAGES):
        guard.check(make_page(token, total=1_000_000))
    with pytest.raises(ProtocolError, match=r"no progress \(6 pages in a row without new objects"):
        guard.check(make_page(99, total=1_000_000))


def test_re_sent_pages_count_as_no_progress_and_progress_resets_the_count() -> None:
    guard = PagingGuard(10, local_objects=0)
    for _ in range(PagingGuard.MAX_IDLE_PAGES):
        guard.check(make_page(5, inserts=2, total=1000), resent=True)
    guard.check(make_page(6, inserts=2, total=1000))  # progress: the idle count starts again
    for _ in range(PagingGuard.MAX_IDLE_PAGES):
        guard.check(make_page(6, inserts=2, total=1000), resent=True)
    with pytest.raises(ProtocolError, match="no progress"):
        guard.check(make_page(6, inserts=2, total=1000), resent=True)


def test_a_declared_count_over_the_limit_is_refused_before_parsing() -> None:
    guard = PagingGuard(10, local_objects=0)
    guard.check_body(b'[{"version":3},{"token":"5"},{"count":20},{"progress_count":0}')
    with pytest.raises(ResponseTooLarge, match="a page holds 1000000 objects"):
        guard.check_body(b'[{"version":3},{"token":"5"},{"count":1000000},{"progress_count":0},' + b"x" * 10)
    guard.check_body(b"not a page at all")  # left to the parser's own errors
