"""Search: match records for a client, page the results with one token per search.

Mock semantics: a record matches when every search parameter equals its attribute. Results are
paged like RhoConnect's search documents: one token per search (repeated on its later pages),
acknowledged by sending it back; only objects the client does not already hold the same way are
sent, and what is sent becomes part of the client's document. For a source with a poll interval
the adapter's records are searched, changed objects go out whole (RhoConnect compares whole
objects), and what is sent is also written into the cached master document (``poll_cache``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import masters
from .backend import MasterDocument, Record
from .config import MockConfig
from .documents import ClientSourceDoc, SearchState
from .encoding import encode
from .poll_cache import store_search_result
from .store import Client, Store


@dataclass
class SearchAnswer:
    """A search answer: per-source sub-arrays, and the token/count for the page headers."""

    results: list[list[dict[str, Any]]]
    token: str
    count: int

    @property
    def body(self) -> bytes:
        return encode(self.results)


def _search_error(source: str, key: str, message: str) -> list[dict[str, Any]]:
    return [{"version": 3}, {"source": source}, {"search-error": {key: {"message": message}}}]


def _adapter_failure(store: Store, name: str, user: str) -> list[dict[str, Any]] | None:
    """The error sub-array of the first adapter stage (login, search, logoff) set to fail, if any."""
    for stage, key in (("login", "login-error"), ("search", "search-error"), ("logoff", "logoff-error")):
        message = store.adapter_failures().check(stage, name, user)
        if message is not None:
            return _search_error(name, key, message)
    return None


def _next_page(
    found: SearchState,
    md: MasterDocument,
    view: MasterDocument,
    doc: ClientSourceDoc,
    polled: bool,
    size: int,
) -> dict[str, Record]:
    """Up to ``size`` of the search's remaining matches the client does not hold that way yet;
    what goes out becomes part of the client's document (and of the poll cache when ``polled``)."""
    inserts: dict[str, Record] = {}
    remaining = found.remaining
    i = 0
    while i < len(remaining) and len(inserts) < size:
        oid = remaining[i]
        i += 1
        cur = md.records.get(oid)
        if cur is None:
            continue
        held = doc.held(view, oid) or {}
        if polled:
            if dict(held) != dict(cur):
                inserts[oid] = cur
                doc.set_held(oid, cur)
                store_search_result(view, oid, cur)
            continue
        # Only inserts, as RhoConnect's search page: the client upserts them attribute by
        # attribute and keeps any attribute ``cur`` lacks, which the next query page deletes.
        changed = {k: v for k, v in cur.items() if held.get(k) != v}
        if changed:
            inserts[oid] = changed
            doc.set_held(oid, {**held, **cur})
    found.remaining = remaining[i:]
    return inserts


def search(
    store: Store,
    config: MockConfig,
    client: Client,
    sources: list[tuple[str, str | None]],
    params: Mapping[str, str],
    p_size: int,
    resend: bool = False,
) -> SearchAnswer:
    """One search answer (call inside ``store.transaction()``).

    ``resend``: a client recovering an interrupted search (the Rhodes C++ client's ``recoverSearch``) sends
    its last
    token with ``resend=1`` and gets the last page again instead of the next one.
    """
    results: list[list[dict[str, Any]]] = []
    header_token, total = "", 0
    for name, token in sources:
        spec = store.source(name)
        if spec is None:
            results.append([])
            continue
        doc = client.doc(name)
        md = masters.master(store, config, name, client.user)
        view = masters.view(store, config, name, client.user)
        polled = view is not md
        if token:
            found = doc.search
            if found is None or found.token != token:
                results.append(_search_error(name, "search-error", "Search error - invalid token"))
                continue
            if resend and found.last is not None:
                header_token = header_token or found.token
                total += found.last[3]["count"]
                results.append(found.last)
                continue
        else:
            failure = _adapter_failure(store, name, client.user)
            if failure is not None:
                results.append(failure)
                continue
            wanted = dict(params)
            matches = [
                oid for oid, rec in md.records.items() if all(rec.get(k) == v for k, v in wanted.items())
            ]
            found = doc.search = SearchState(store.next_token(), matches)
        inserts = _next_page(found, md, view, doc, polled, max(p_size, 0))
        if not inserts:
            doc.search = None
            results.append([])
            continue
        header_token = header_token or found.token
        total += len(inserts)
        found.last = [
            {"version": 3},
            {"token": found.token},
            {"source": name},
            {"count": len(inserts)},
            {"insert": inserts},
        ]
        results.append(found.last)
    return SearchAnswer(results, header_token, total)
