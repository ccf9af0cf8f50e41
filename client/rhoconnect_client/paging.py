"""Guards on a pull loop against a server that would never end it or that floods the client.

The sync algorithm asks for pages until the token is ``""``; nothing in the protocol bounds how many
pages or objects a server may send. A broken or hostile server that keeps handing out new tokens, or
answers a page of 2000 with a million objects, would keep a sync running (and the store growing)
forever. ``PagingGuard`` checks each page before it is applied and fails the source instead.
"""

from __future__ import annotations

import math
import re

from .exceptions import ProtocolError, ResponseTooLarge
from .protocol import Page

__all__ = ["PagingGuard"]

# The ``{"count":N}`` element near the start of a page (the third of six, after version and token).
_DECLARED_COUNT = re.compile(rb'\{\s*"count"\s*:\s*"?(\d{1,18})')
_HEAD = 512


class PagingGuard:
    """Stops a pull the server would never end, before the offending page is applied.

    * A page may hold at most twice the page size: RhoConnect sends a changed attribute as a
      ``delete`` of the old value plus an ``insert`` of the new one, so one object can count twice.
    * The pages of one pull may not exceed what the objects involved need: the largest
      ``total_count`` seen plus the objects held locally when the pull began (which may all be
      deleted), at the page size, doubled, plus ``SLACK_PAGES`` for re-sends and changes made
      meanwhile.
    * At most ``MAX_IDLE_PAGES`` pages in a row may carry no object and no link (or repeat the page
      just applied) while still handing out a token.
    """

    SLACK_PAGES = 10
    MAX_IDLE_PAGES = 5

    def __init__(self, page_size: int, local_objects: int) -> None:
        self.page_size = max(page_size, 1)
        self.local_objects = local_objects
        self.pages = 0
        self.idle = 0
        self.max_total = 0

    def check_body(self, body: bytes) -> None:
        """Before parsing: refuse a page whose declared ``count`` is already too large, so that a
        million objects are not turned into Python objects only to be refused."""
        match = _DECLARED_COUNT.search(body[:_HEAD])
        if match is not None:
            self._check_size(int(match.group(1)))

    def check(self, page: Page, *, resent: bool = False) -> None:
        self._check_size(max(page.count, page.object_count))
        if page.token == 0:
            return
        self.pages += 1
        self.max_total = max(self.max_total, page.total_count)
        self.idle = self.idle + 1 if resent or (page.object_count == 0 and not page.links) else 0
        if self.idle > self.MAX_IDLE_PAGES:
            raise ProtocolError(
                f"paging makes no progress ({self.idle} pages in a row without "
                "new objects, each with a new token)"
            )
        if self.pages > self.budget():
            raise ProtocolError(
                f"paging does not end ({self.pages} pages for a total_count of "
                f"{self.max_total} at {self.page_size} objects per page)"
            )

    def _check_size(self, objects: int) -> None:
        if objects > 2 * self.page_size:
            raise ResponseTooLarge(f"a page holds {objects} objects but {self.page_size} were asked for")

    def budget(self) -> int:
        """The most pages with a token this pull may take, given what was seen so far."""
        objects = self.max_total + self.local_objects
        return 2 * math.ceil(objects / self.page_size) + self.SLACK_PAGES
