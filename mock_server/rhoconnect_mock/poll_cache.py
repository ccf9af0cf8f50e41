"""Sources with a poll interval: the master document clients see is a cache of the adapter's data.

RhoConnect 7.8 (``Source#if_need_refresh``, ``handler/query``, ``handler/changes/engine.rb``,
``handler/search/runner.rb``) runs a source's adapter query only when ``poll_interval`` seconds
have passed since the last one, and pages are diffs between that cached master document and each
client's document. Until the next refresh:

* a pushed create goes into the cache (and the pushing client's document) at once;
* a pushed update goes to the adapter only: neither the cache nor the pusher's document changes,
  so other clients still get the old values and a search still sends the pusher the new ones;
* a pushed delete removes the object from the cache and the pusher's document only if the pushed
  attributes are the whole object as stored (the store removes whole-object elements): the
  single-object ``DELETE /app/v1/<Source>/<id>`` sends the client's copy, so it removes; a
  combined push usually carries a few attributes, so the object stays;
* a search result goes into the client's document, and into the cache as an extra version of the
  object (``MasterDocument.extras``), so a client holding it gets the cache's version whole.

The reported ``total_count`` is RhoConnect's ``md_size`` counter: the adapter's record count at the
refresh, plus one per create and stored search result, minus one per processed delete.

The adapter's data are the source's ``MasterDocument`` (what the admin API and pushes change); the
cache is a second ``MasterDocument`` per owner. A refresh walks the adapter's change log from where
the last one stopped and logs only the differences into the cache, so it costs in proportion to
the changes since then (the first one reads the whole log once) and clients keep their cursors.
With ``poll_interval`` 0 there is no cache (``MockState.view`` is the master document itself) and
nothing here runs.
"""

from __future__ import annotations

import logging

from .backend import MasterDocument, PolledView, Record

log = logging.getLogger(__name__)


def refresh_if_due(view: PolledView, master: MasterDocument, interval: int, now: float) -> bool:
    """After a successful adapter query: bring the cache up to the adapter's data if it is due.

    Every way the cache departs from the adapter's data (a create, a whole-object delete, a stored
    search result) concerns an object the adapter changed after the last refresh, so walking the
    adapter's log from there finds every difference.
    """
    if now < view.refresh_at:
        return False
    cache = view.doc
    for oid in dict.fromkeys(master.log[view.synced :]):
        value = master.records.get(oid)
        if value is None:
            cache.delete(oid)
        elif cache.records.get(oid) != value:
            cache.put(oid, value)
    view.synced = master.end
    cache.extras.clear()
    cache.visible = len(cache.log)
    cache.visible_count = len(cache.records)
    view.refresh_at = now + interval
    log.debug("poll interval: master document refreshed (%d objects)", len(cache.records))
    return True


def store_create(cache: MasterDocument, oid: str, value: Record) -> Record:
    """A created object enters the cache at once; returns the cached value."""
    stored = cache.put(oid, value)
    cache.show(1)
    return stored


def store_delete(cache: MasterDocument, oid: str, attrs: Record) -> None:
    """A processed delete: the object leaves the cache only if ``attrs`` is the whole object."""
    if oid in cache.records and dict(cache.records[oid]) == dict(attrs):
        cache.delete(oid)
        cache.extras.pop(oid, None)
    cache.show(-1)


def store_search_result(cache: MasterDocument, oid: str, value: Record) -> None:
    """A search result sent to a client is written into the cache (RhoConnect ``_compute_search``)."""
    current = cache.records.get(oid)
    if current is None:
        cache.put(oid, value)
    elif dict(current) == dict(value) or value in cache.extras.get(oid, ()):
        return
    else:
        cache.extras.setdefault(oid, []).append(value)
    cache.show(1)
