"""All server state of one mock app: sources, users' master documents, clients and their documents.

``MockState`` lives on the Flask app as ``app.extensions["rhoconnect_mock"]``; nothing is global.
One re-entrant lock guards every read-modify-write, so concurrent clients see consistent pages.
The protocol blueprints call the operations (``query_page``, ``push``, ``search``, client
management); the admin API, the fault engine, bulk sync and tests use the public contract below.

Public contract (stable; other modules and users rely on it):

* ``config``, ``sources`` (name -> ``SourceSpec``), ``lock``, ``failures``
* ``reset()``: fresh state, data regenerated from the config; ``add_reset_listener(fn)``: extensions
  (bulk files, ...) that keep state of their own get ``fn()`` called after every reset
* ``records(source, user)`` (a snapshot), ``loaded_count(source)``, ``master_version(source, user)``,
  ``set_records``, ``seed_records``
* ``backend_insert/backend_update/backend_delete(source, user, ...)``: changes made by "another
  system"; every client sees them on its next query (after the poll interval, if the source has one)
* ``view(source, user)``: the master document clients see; ``expire_poll_interval(source)``
* ``fail_adapter(stage, source, message, *, user, objects, times)``, ``clear_adapter_failures()``,
  ``source_errors(source, user)``, ``bump_schema_version(source)``
* ``clients()``, ``pending_page(client_id, source)``, ``client_document(client_id, source)``
For the app partition the ``user`` argument is ignored. An unknown source name raises ``KeyError``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import cud_engine, query_engine, search_engine
from .backend import AdapterFailures, Dataset, MasterDocument
from .config import MockConfig, Partition, SourceConfig
from .documents import ClientSourceDoc
from .errors import UnknownClient
from .poll_cache import PolledView, refresh_if_due
from .query_engine import Page
from .search_engine import SearchAnswer
from .seed import Records, generate_records, load_data_file, normalise_records
from .tokens import TokenClock

log = logging.getLogger(__name__)


@dataclass
class SourceSpec:
    """A source as the server sees it: partition, priority, optional fixed schema and metadata."""

    name: str
    partition: Partition
    priority: int
    attributes: tuple[str, ...]
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | str | None = None
    config: SourceConfig | None = None

    @property
    def poll_interval(self) -> int:
        """Seconds between adapter queries (0: every query sees every change; see ``poll_cache``)."""
        return self.config.poll_interval if self.config is not None else 0

    @property
    def schema_version(self) -> str | None:
        return None if self.schema is None else str(self.schema.get("version"))

    def metadata_json(self) -> str | None:
        """The metadata as the JSON string sent in pages (``schema_version`` kept current)."""
        if self.metadata is None:
            return None
        if isinstance(self.metadata, str):
            return self.metadata
        meta = dict(self.metadata)
        if "schema_version" in meta and self.schema_version is not None:
            meta["schema_version"] = self.schema_version
        return json.dumps(meta, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Client:
    """A client id bound to a user, its device fields and one document per source."""

    id: str
    user: str
    fields: dict[str, str] = field(default_factory=dict)
    docs: dict[str, ClientSourceDoc] = field(default_factory=dict)

    def doc(self, source: str) -> ClientSourceDoc:
        d = self.docs.get(source)
        if d is None:
            d = self.docs[source] = ClientSourceDoc()
        return d


class MockState:
    """The whole mutable state of one mock server (see the module docstring for the contract)."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.tokens = TokenClock()
        self.failures = AdapterFailures()
        self.sources: dict[str, SourceSpec] = {}
        self._datasets: dict[str, Dataset] = {}
        self._file_data: dict[str, Records] = {}
        self._masters: dict[tuple[str, str | None], MasterDocument] = {}
        self._views: dict[tuple[str, str | None], PolledView] = {}
        self.source_error_store: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._clients: dict[str, Client] = {}
        self._blobs: dict[tuple[str, str | None, str, str], tuple[str, bytes]] = {}
        self._reset_listeners: list[Callable[[], None]] = []
        self.reset()

    # ----------------------------------------------------------------- data and sources

    def reset(self) -> None:
        """Forget every client, document, change, failure and blob; data come back as configured."""
        with self.lock:
            self._file_data = load_data_file(self.config.data) if self.config.data else {}
            self.sources = {
                s.name: SourceSpec(
                    s.name,
                    s.partition,
                    s.priority,
                    s.attributes,
                    json.loads(json.dumps(s.schema)) if s.schema else None,
                    s.metadata if not isinstance(s.metadata, dict) else dict(s.metadata),
                    s,
                )
                for s in sorted(self.config.sources, key=lambda s: s.priority)
            }
            for name in self._file_data:
                if name not in self.sources:
                    attrs = tuple(dict.fromkeys(a for r in self._file_data[name].values() for a in r))
                    self.sources[name] = SourceSpec(name, "user", 3, attrs)
            self._datasets.clear()
            self._masters.clear()
            self._views.clear()
            self.source_error_store.clear()
            self._clients.clear()
            self._blobs.clear()
            self.failures.clear()
            listeners = list(self._reset_listeners)
        # Outside the lock: a listener may take locks of its own (the bulk registry does).
        for listener in listeners:
            listener()

    def add_reset_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every ``reset()``, for extensions that keep state of their own.

        The state knows nothing about them (bulk files, for one); this keeps every reset path
        (admin API, plugin fixture, ``MockServer.reset``) in step without wrapping methods.
        """
        with self.lock:
            self._reset_listeners.append(listener)

    def _spec(self, source: str) -> SourceSpec:
        spec = self.sources.get(source)
        if spec is None:
            raise KeyError(f"unknown source {source!r}")
        return spec

    def owner(self, spec: SourceSpec, user: str | None) -> tuple[str, str | None]:
        """The key of a master document: the source and its user (``None`` for the app partition)."""
        return (spec.name, user if spec.partition == "user" else None)

    def _dataset(self, spec: SourceSpec) -> Dataset:
        data = self._datasets.get(spec.name)
        if data is None:
            if spec.name in self._file_data:
                records: Records = self._file_data[spec.name]
            elif spec.config is not None:
                records = generate_records(spec.config, self.config.seed)
            else:
                records = {}
            data = self._datasets[spec.name] = Dataset(records)
        return data

    def warm_up(self) -> None:
        """Generate (or load) every source's dataset now rather than on the first query."""
        with self.lock:
            for spec in self.sources.values():
                self._dataset(spec)

    def loaded_count(self, source: str) -> int:
        """How many records ``source`` starts with for a new user: the data file's or the generated.

        What the banner and the dashboard show; the configured ``records`` is not it when a
        ``--data`` file supplies the source.
        """
        with self.lock:
            return len(self._dataset(self._spec(source)).records)

    def master(self, source: str, user: str | None) -> MasterDocument:
        """The master document of ``source`` for ``user`` (created from the dataset on first use)."""
        with self.lock:
            spec = self._spec(source)
            key = self.owner(spec, user)
            md = self._masters.get(key)
            if md is None:
                md = self._masters[key] = MasterDocument(self._dataset(spec))
            return md

    def view(self, source: str, user: str | None) -> MasterDocument:
        """The master document clients of ``user`` see: the cache for a source with a poll
        interval (``poll_cache``), else the master document itself."""
        with self.lock:
            spec = self._spec(source)
            if spec.poll_interval <= 0:
                return self.master(source, user)
            return self._polled(spec, user).doc

    def _polled(self, spec: SourceSpec, user: str | None) -> PolledView:
        key = self.owner(spec, user)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = PolledView(MasterDocument(self._dataset(spec)))
        return view

    def refresh_view(self, spec: SourceSpec, user: str | None) -> None:
        """The adapter's query succeeded: refresh the cache if the poll interval ran out."""
        if spec.poll_interval > 0:
            view = self._polled(spec, user)
            refresh_if_due(view, self.master(spec.name, user), spec.poll_interval, time.monotonic())

    def expire_poll_interval(self, source: str | None = None) -> None:
        """Let the next query of ``source`` (every source if ``None``) run the adapter again.

        The test hook for "300 s later": no test has to wait for a poll interval.
        """
        with self.lock:
            for (name, _owner), view in self._views.items():
                if source is None or name == source:
                    view.refresh_at = 0.0

    def records(self, source: str, user: str | None) -> Mapping[str, Mapping[str, str]]:
        """Current master records of ``source`` for ``user``: a snapshot taken under the lock.

        Not the live dict: a reader iterating it (the admin API, a test) while a request
        changes the data would fail with "dictionary changed size during iteration". Record
        values are never mutated in place, so copying the outer dict is enough.
        """
        with self.lock:
            return dict(self.master(source, user).records)

    def master_version(self, source: str, user: str | None) -> int:
        """A number that changes on every write to that master document."""
        return self.master(source, user).version

    def set_records(self, source: str, user: str | None, records: Mapping[str, Mapping[str, Any]]) -> None:
        """Make the records exactly ``records``; clients receive the differences on their next query."""
        data = normalise_records(dict(records), f"{source}")
        with self.lock:
            self.master(source, user).replace_all(data)

    def seed_records(self, source: str, user: str | None, count: int, seed: int | None = None) -> None:
        """Replace the records by ``count`` generated ones (``seed`` defaults to the config's)."""
        with self.lock:
            spec = self._spec(source)
            base = spec.config or SourceConfig(name=source, attributes=spec.attributes)
            data = generate_records(base, self.config.seed if seed is None else seed, count)
            self.master(source, user).replace_all(data)

    def backend_insert(self, source: str, user: str | None, oid: str, attrs: Mapping[str, Any]) -> None:
        """Another system created (or replaced) an object."""
        with self.lock:
            self.master(source, user).put(str(oid), {str(k): str(v) for k, v in attrs.items()})

    def backend_update(self, source: str, user: str | None, oid: str, attrs: Mapping[str, Any]) -> None:
        """Another system changed some attributes of an object."""
        with self.lock:
            self.master(source, user).merge(str(oid), {str(k): str(v) for k, v in attrs.items()})

    def backend_delete(self, source: str, user: str | None, oid: str) -> bool:
        """Another system deleted an object; ``False`` if it did not exist."""
        with self.lock:
            return self.master(source, user).delete(str(oid))

    def bump_schema_version(self, source: str, version: str | None = None) -> str:
        """Change a fixed-schema source's version; clients get ``schema-changed`` next."""
        with self.lock:
            spec = self._spec(source)
            if spec.schema is None:
                raise ValueError(f"source {source!r} has no fixed schema")
            if version is None:
                old = str(spec.schema.get("version", "1.0"))
                try:
                    version = f"{float(old) + 1:.1f}"
                except ValueError:
                    version = old + ".1"
            spec.schema["version"] = version
            return version

    def blob(self, source: str, user: str | None, oid: str, attr: str) -> tuple[str, bytes] | None:
        """A blob uploaded for an object attribute: (file name, bytes), or ``None``."""
        with self.lock:
            return self._blobs.get((*self.owner(self._spec(source), user), oid, attr))

    def store_blob(self, source: str, user: str | None, oid: str, attr: str, blob: tuple[str, bytes]) -> None:
        """Keep an uploaded blob for an object attribute."""
        with self.lock:
            self._blobs[(*self.owner(self._spec(source), user), oid, attr)] = blob

    # ----------------------------------------------------------------- adapter failures

    def fail_adapter(
        self,
        stage: str,
        source: str,
        message: str,
        *,
        user: str | None = None,
        objects: Iterable[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Make the simulated adapter raise ``message`` at ``stage`` (see ``backend.STAGES``).

        ``objects`` limits create/update/delete failures to those ids (``None``: any object);
        ``times`` ``None`` fails until ``clear_adapter_failures``.
        """
        self.failures.add(stage, source, message, user=user, objects=objects, times=times)

    def clear_adapter_failures(self) -> None:
        """Every simulated adapter works again (stored source errors clear on the next query)."""
        self.failures.clear()

    def source_errors(self, source: str, user: str | None) -> dict[str, Any]:
        """The stored ``source-error`` hash of the last adapter run (``{}`` when it worked)."""
        with self.lock:
            return dict(self.source_error_store.get(self.owner(self._spec(source), user), {}))

    # ----------------------------------------------------------------- clients

    def create_client(self, user: str, fields: Mapping[str, Any] | None = None) -> Client:
        """A new client id (32 lowercase hex) for ``user``."""
        with self.lock:
            cid = secrets.token_hex(16)
            client = self._clients[cid] = Client(cid, user, _device_fields(fields))
            return client

    def register_client(self, client_id: str, user: str, fields: Mapping[str, Any]) -> Client:
        """Store device fields; an unknown id is created on the fly, as RhoConnect does."""
        with self.lock:
            client = self._clients.get(client_id)
            if client is None:
                client = self._clients[client_id] = Client(client_id, user)
            client.fields.update(_device_fields(fields))
            return client

    def client(self, client_id: str | None, user: str) -> Client:
        """The client for a request of ``user``; a client of another user is re-bound and wiped."""
        with self.lock:
            client = self._clients.get(client_id or "")
            if client is None:
                raise UnknownClient()
            if client.user != user:
                client.user = user
                client.docs.clear()
            return client

    def reset_client(self, client_id: str | None, sources: Iterable[str] | None = None) -> None:
        """Flush the client's documents (all, or the named sources): it gets everything again."""
        with self.lock:
            client = self._clients.get(client_id or "")
            if client is None:
                raise UnknownClient()
            if sources is None:
                client.docs.clear()
            else:
                for name in sources:
                    client.docs.pop(name, None)

    # ----------------------------------------------------------------- query

    def query_page(self, client: Client, source: str, token: str | None, p_size: int) -> Page:
        """One query answer for ``client`` (paging, acknowledgement, errors, schema, metadata)."""
        with self.lock:
            return query_engine.query_page(self, client, source, token, p_size)

    # ----------------------------------------------------------------- create / update / delete

    def push(
        self,
        client: Client,
        source: str,
        create: Mapping[str, Mapping[str, Any]] | None = None,
        update: Mapping[str, Mapping[str, Any]] | None = None,
        delete: Mapping[str, Mapping[str, Any]] | None = None,
        blobs: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue and process a client's changes: creates, then updates, then deletes.

        Results (links, per-object errors, rollbacks) are delivered in the client's next page. A
        failed create stops processing: what follows stays queued until the client's next push.
        ``blobs`` maps ``<attr>-<object id>`` to (file name, bytes).
        """
        with self.lock:
            spec = self.sources.get(source)
            if spec is None:
                log.info("push to unknown source %r ignored", source)
                return
            doc = client.doc(source)
            for kind, section in (("create", create), ("update", update), ("delete", delete)):
                for oid, attrs in (section or {}).items():
                    clean = {
                        str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (attrs or {}).items()
                    }
                    doc.queue.append((kind, str(oid), clean))
            cud_engine.process_queue(self, spec, client, doc, blobs or {})

    # ----------------------------------------------------------------- search

    def search(
        self,
        client: Client,
        sources: list[tuple[str, str | None]],
        params: Mapping[str, str],
        p_size: int,
        resend: bool = False,
    ) -> SearchAnswer:
        """Search the named sources; each gets a sub-array (``[]`` when nothing is left to send).

        Mock semantics: a record matches when every ``params[k] == record[k]``. One token per
        search, repeated on its later pages; acknowledging it gives the next page.
        """
        with self.lock:
            return search_engine.search(self, client, sources, params, p_size, resend)

    # ----------------------------------------------------------------- introspection

    def clients(self) -> list[dict[str, Any]]:
        """Every client: id, user, device fields, and per source its cursor and pending token."""
        with self.lock:
            return [
                {
                    "id": c.id,
                    "user": c.user,
                    **c.fields,
                    "sources": {
                        name: {
                            "cursor": d.cursor,
                            "pending_token": d.pending.token if d.pending else None,
                            "queued": len(d.queue),
                        }
                        for name, d in c.docs.items()
                    },
                }
                for c in self._clients.values()
            ]

    def pending_page(self, client_id: str, source: str) -> dict[str, Any] | None:
        """The page waiting for acknowledgement: token, count, kind and the page as JSON."""
        with self.lock:
            client = self._clients.get(client_id)
            doc = client.docs.get(source) if client else None
            if doc is None or doc.pending is None:
                return None
            page = doc.pending
            return {
                "token": page.token,
                "count": page.count,
                "kind": page.kind,
                "page": json.loads(page.body),
            }

    def client_document(self, client_id: str, source: str) -> dict[str, dict[str, str]]:
        """What the client holds of ``source``, materialised (inspection only)."""
        with self.lock:
            client = self._clients.get(client_id)
            if client is None:
                raise UnknownClient()
            doc = client.docs.get(source)
            if doc is None:
                return {}
            return doc.materialise(self.view(source, client.user))


_DEVICE_FIELDS = (
    "device_type",
    "device_push_type",
    "device_pin",
    "device_port",
    "device_app_id",
    "device_app_version",
    "phone_id",
)


def _device_fields(fields: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: str(fields[k]) for k in _DEVICE_FIELDS if fields and fields.get(k) is not None}
