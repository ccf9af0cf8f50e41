"""Master documents as the engines need them: created on first use, seen through the poll cache.

Every function takes the ``Store`` (and the configuration where data must be generated) and is
called inside a ``store.transaction()``. A master document is created from its source's dataset
the first time an owner uses it; the dataset itself is generated (or loaded) once per source.
For a source with a poll interval, clients see a cached copy (``poll_cache``) that only a due
adapter query refreshes.
"""

from __future__ import annotations

import time
from typing import Any

from .backend import Dataset, MasterDocument, PolledView
from .config import MockConfig
from .poll_cache import refresh_if_due
from .seed import Records, generate_records
from .store import SourceSpec, Store

#: Adapter stages run by a query (and by a bulk job), in order.
QUERY_STAGES = ("login", "query", "logoff")


def spec_of(store: Store, source: str) -> SourceSpec:
    """The source named ``source``; ``KeyError`` for an unknown one."""
    spec = store.source(source)
    if spec is None:
        raise KeyError(f"unknown source {source!r}")
    return spec


def dataset(store: Store, config: MockConfig, spec: SourceSpec) -> Dataset:
    """The initial records of ``spec``: generated from its configuration on first use (a data
    file's records are put into the store when the state is reset)."""
    data = store.dataset(spec.name)
    if data is None:
        records: Records = {}
        if spec.config is not None:
            records = generate_records(spec.config, config.seed)
        data = Dataset(records)
        store.put_dataset(spec.name, data)
    return data


def master(store: Store, config: MockConfig, source: str, user: str | None) -> MasterDocument:
    """The adapter's data of ``source`` for ``user`` (created from the dataset on first use)."""
    spec = spec_of(store, source)
    key = spec.owner(user)
    md = store.master(key)
    if md is None:
        md = MasterDocument(dataset(store, config, spec))
        store.put_master(key, md)
    return md


def _polled(store: Store, config: MockConfig, spec: SourceSpec, user: str | None) -> PolledView:
    key = spec.owner(user)
    view = store.polled_view(key)
    if view is None:
        view = PolledView(MasterDocument(dataset(store, config, spec)))
        store.put_polled_view(key, view)
    return view


def view(store: Store, config: MockConfig, source: str, user: str | None) -> MasterDocument:
    """The master document clients of ``user`` see: the cache for a source with a poll interval,
    else the adapter's data itself."""
    spec = spec_of(store, source)
    if spec.poll_interval <= 0:
        return master(store, config, source, user)
    return _polled(store, config, spec, user).doc


def refresh_view(store: Store, config: MockConfig, spec: SourceSpec, user: str | None) -> None:
    """The adapter's query succeeded: refresh the cache if the poll interval ran out.

    Wall-clock time, not a monotonic clock: several processes sharing a store must agree on it.
    """
    if spec.poll_interval > 0:
        cache = _polled(store, config, spec, user)
        refresh_if_due(cache, master(store, config, spec.name, user), spec.poll_interval, time.time())


def expire_poll_interval(store: Store, source: str | None) -> None:
    """Let the next query of ``source`` (every source if ``None``) run the adapter again."""
    for (name, _owner), cache in store.polled_views():
        if source is None or name == source:
            cache.refresh_at = 0.0


def adapter_failure(store: Store, source: str, user: str | None) -> dict[str, Any] | None:
    """The ``source-error`` of a simulated login/query/logoff run, or ``None`` when it works."""
    failures = store.adapter_failures()
    for stage in QUERY_STAGES:
        message = failures.check(stage, source, user)
        if message is not None:
            return {f"{stage}-error": {"message": message}}
    return None


def run_adapter(store: Store, config: MockConfig, spec: SourceSpec, user: str) -> None:
    """Simulate the adapter's login/query/logoff and store the resulting ``source-error``.

    A successful query publishes the backend's changes to clients (``MasterDocument.publish``);
    a failed login or query leaves what clients see as it was, as RhoConnect keeps its master
    document. A failed logoff comes after the query, so the data are published.
    """
    failures = store.adapter_failures()
    errors: dict[str, Any] | None = None
    for stage in QUERY_STAGES:
        message = failures.check(stage, spec.name, user)
        if message is not None:
            errors = {f"{stage}-error": {"message": message}}
            break
        if stage == "query":
            master(store, config, spec.name, user).publish()
            refresh_view(store, config, spec, user)
    store.set_source_error(spec.owner(user), errors)
