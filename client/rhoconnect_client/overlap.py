"""Parsing a query page on a helper thread while the store writes its rows from the page text.

A page's rows go into ``object_values`` straight from its JSON text (``pages._insert_from_text``), so
SQLite needs nothing of the parsed page to write them; the parse (``protocol.parse_page``) is only
needed to validate the page and to know what else it carries. ``PageReader`` therefore runs the two
at once: SQLite executes the insert (it lets other threads run meanwhile) and a helper thread parses;
on two cores the parse costs no time of its own.

Why this keeps every durability rule: both happen inside the page's one transaction
(``Store.apply_page_ahead``), and nothing is committed before the parse and the paging guard's checks
succeeded. A page that fails either is rolled back whole, exactly as if it had never been applied; a
page that is not a plain insert page of the expected layout (``pages.text_rows_stand``) is rolled
back and applied the usual way. The token is still acknowledged only in the next request, after the
commit; nothing here changes which requests are sent or when.

Only a page following a plain page of the same pull is read this way (the layout, the JSON path of
the command hash, is the one the previous page had): the first page of a pull, a page after a page
with deletes or links, and bodies that are not plain UTF-8 are parsed first and applied as before.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .pages import AppliedPage, is_plain
from .protocol import Page, parse_page
from .store import Store

__all__ = ["PageReader"]


class _Pending:
    """One page being parsed on the reader's thread; the parse waits for ``start``."""

    def __init__(self, pool: ThreadPoolExecutor, text: str, check: Callable[[Page], None]) -> None:
        self._go = threading.Event()
        self._check = check
        self._future: Future[Page] = pool.submit(self._parse, text)

    def _parse(self, text: str) -> Page:
        self._go.wait()
        return parse_page(text)

    def start(self) -> None:
        self._go.set()

    def result(self) -> Page:
        self.start()
        page = self._future.result()
        self._check(page)
        return page


class PageReader:
    """Reads and applies the pages of one pull; ``close`` ends its helper thread."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._path: str | None = None  # the command hash's JSON path of the last plain page
        self._gave_up = False  # a page read ahead had to be applied again: not worth trying further

    def read(
        self, store: Store, source_id: int, body: bytes, check: Callable[[Page], None]
    ) -> tuple[Page, AppliedPage | None]:
        """The parsed page, checked with ``check``, and what applying it changed, or None when the
        page is not applied yet (the caller applies it the usual way).

        ``check`` (the paging guard) runs once per page, before anything of it is committed.
        """
        text = _utf8(body) if self._path is not None else None
        if text is None or self._path is None:
            page = parse_page(body)
            check(page)
            self._learn(page)
            return page, None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rhoconnect-parse")
        pending = _Pending(self._pool, text, check)
        try:
            with store.lock:
                page, applied = store.apply_page_ahead(source_id, text, self._path, pending)
        finally:
            pending.start()  # never leave the helper waiting (an error before the insert)
        if applied is None:  # its rows were written twice; e.g. blob names, which every page has
            self._gave_up = True
            self._path = None
        return page, applied

    def _learn(self, page: Page) -> None:
        """Read the next page ahead only after a plain page, at the same path."""
        raw = page.raw_insert
        plain = raw is not None and is_plain(page) and not self._gave_up
        self._path = raw.path if raw is not None and plain else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _utf8(body: bytes) -> str | None:
    """``body`` as text when it is plain UTF-8 (what ``parse_page`` reads as such), else None."""
    if json.detect_encoding(body) != "utf-8":
        return None
    with contextlib.suppress(UnicodeDecodeError):
        return body.decode("utf-8")
    return None
