"""All server state of one mock app: sources, users' master documents, clients and their documents.

``MockState`` lives on the Flask app as ``app.extensions["rhoconnect_mock"]``; nothing is global.
One re-entrant lock guards every read-modify-write, so concurrent clients see consistent pages.
The protocol blueprints call the operations (``query_page``, ``push``, ``search``, client
management); the admin API, the fault engine, bulk sync and tests use the public contract below.

Public contract (stable; other modules and users rely on it):

* ``config``, ``sources`` (name -> ``SourceSpec``), ``lock``, ``failures``
* ``reset()``: fresh state, data regenerated from the config
* ``records(source, user)``, ``master_version(source, user)``, ``set_records``, ``seed_records``
* ``backend_insert/backend_update/backend_delete(source, user, ...)``: changes made by "another
  system"; every client sees them on its next query
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .backend import AdapterFailures, Dataset, MasterDocument, Record
from .config import MockConfig, Partition, SourceConfig
from .documents import ClientSourceDoc, PendingPage, SearchState, scan
from .errors import UnknownClient
from .seed import Records, generate_records, load_data_file, normalise_records
from .tokens import TokenClock

log = logging.getLogger(__name__)

UNKNOWN_SOURCE_MESSAGE = "Please set uri in your settings or through console"
_ERROR_KEYS = ("create-error", "update-error", "delete-error", "update-rollback")


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8, as RhoConnect writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


@dataclass
class Page:
    """A query answer: the JSON bytes plus what goes into the page headers."""

    body: bytes
    token: str
    count: int


@dataclass
class SearchAnswer:
    """A search answer: per-source sub-arrays, and the token/count for the page headers."""

    results: list[list[dict[str, Any]]]
    token: str
    count: int

    @property
    def body(self) -> bytes:
        return encode(self.results)


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
        self._errors: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._clients: dict[str, Client] = {}
        self._blobs: dict[tuple[str, str | None, str, str], tuple[str, bytes]] = {}
        self.reset()

    # ----------------------------------------------------------------- data and sources

    def reset(self) -> None:
        """Forget every client, document, change, failure and blob; data come back as configured."""
        with self.lock:
            self._file_data = load_data_file(self.config.data) if self.config.data else {}
            self.sources = {
                s.name: SourceSpec(
                    s.name, s.partition, s.priority, s.attributes,
                    json.loads(json.dumps(s.schema)) if s.schema else None,
                    s.metadata if not isinstance(s.metadata, dict) else dict(s.metadata), s,
                )
                for s in sorted(self.config.sources, key=lambda s: s.priority)
            }
            for name in self._file_data:
                if name not in self.sources:
                    attrs = tuple(dict.fromkeys(a for r in self._file_data[name].values() for a in r))
                    self.sources[name] = SourceSpec(name, "user", 3, attrs)
            self._datasets.clear()
            self._masters.clear()
            self._errors.clear()
            self._clients.clear()
            self._blobs.clear()
            self.failures.clear()

    def _spec(self, source: str) -> SourceSpec:
        spec = self.sources.get(source)
        if spec is None:
            raise KeyError(f"unknown source {source!r}")
        return spec

    def _owner(self, spec: SourceSpec, user: str | None) -> tuple[str, str | None]:
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

    def master(self, source: str, user: str | None) -> MasterDocument:
        """The master document of ``source`` for ``user`` (created from the dataset on first use)."""
        with self.lock:
            spec = self._spec(source)
            key = self._owner(spec, user)
            md = self._masters.get(key)
            if md is None:
                md = self._masters[key] = MasterDocument(self._dataset(spec))
            return md

    def records(self, source: str, user: str | None) -> Mapping[str, Mapping[str, str]]:
        """Current master records of ``source`` for ``user`` (read-only view; do not mutate)."""
        return self.master(source, user).records

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
            return self._blobs.get((*self._owner(self._spec(source), user), oid, attr))

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
            return dict(self._errors.get(self._owner(self._spec(source), user), {}))

    def _run_query_adapter(self, spec: SourceSpec, user: str) -> None:
        # A login attempt clears stored errors; a failed login or query leaves the master alone.
        key = self._owner(spec, user)
        errors: dict[str, Any] = {}
        for stage in ("login", "query", "logoff"):
            message = self.failures.check(stage, spec.name, user)
            if message is not None:
                errors = {f"{stage}-error": {"message": message}}
                break
        if errors:
            self._errors[key] = errors
        else:
            self._errors.pop(key, None)

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
            spec = self.sources.get(source)
            if spec is None:
                return self._page("", 0, 0, {"source-error": {"query-error": {"message": UNKNOWN_SOURCE_MESSAGE}}})
            md = self.master(source, client.user)
            doc = client.doc(source)
            self._run_query_adapter(spec, client.user)
            if doc.pending is not None:
                if token and token == doc.pending.token:
                    doc.acknowledge()
                elif token or self.config.classic_resend:
                    return Page(doc.pending.body, doc.pending.token, doc.pending.count)
                else:
                    doc.acknowledge()  # RhoConnect 7.8: no token acknowledges the pending page
            source_error = self._errors.get(self._owner(spec, client.user))
            meta = spec.metadata_json()
            if spec.schema is not None:
                if doc.schema_reset:
                    doc.schema_reset = False
                    doc.schema_seen = spec.schema_version
                    doc.metadata_seen = meta
                    return self._page("", 0, len(md.records), {"metadata": meta} if meta else {})
                if doc.schema_seen is not None and doc.schema_seen != spec.schema_version:
                    tok = self.tokens.next()
                    content: dict[str, Any] = {"schema-changed": "true"}
                    page = self._page(tok, 0, 0, content)
                    doc.pending = PendingPage(tok, page.body, 0, "schema-changed", content=content)
                    return page
                doc.schema_seen = spec.schema_version
            if p_size <= 0:
                return self._page("", 0, len(md.records), {"source-error": source_error} if source_error else {})
            diff = scan(md, doc, p_size)
            content = {}
            if diff.inserts:
                content["insert"] = diff.inserts
            if diff.deletes:
                content["delete"] = diff.deletes
            if doc.links:
                content["links"] = {temp: {"l": real} for temp, real in doc.links.items()}
                doc.links = {}
            send_meta = meta is not None and meta != doc.metadata_seen
            if send_meta:
                content["metadata"] = meta
            if source_error:
                content["source-error"] = source_error
            for key in _ERROR_KEYS:  # object errors go out once (re-sent only inside a pending page)
                if key in doc.errors:
                    content[key] = doc.errors[key]
            doc.errors = {}
            if diff.inserts or diff.deletes or "links" in content:
                tok = self.tokens.next()
                page = self._page(tok, diff.count, len(md.records), content)
                doc.pending = PendingPage(tok, page.body, diff.count, "data", diff.cursor, diff.overlay,
                                          diff.sent, meta if send_meta else None, content)
                return page
            doc.advance(diff.cursor, diff.overlay)
            if send_meta:
                doc.metadata_seen = meta
            return self._page("", 0, len(md.records), content)

    @staticmethod
    def _page(token: str, count: int, total: int, content: Mapping[str, Any]) -> Page:
        body = encode([{"version": 3}, {"token": token}, {"count": count}, {"progress_count": 0},
                       {"total_count": total}, content])
        return Page(body, token, count)

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
                    clean = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (attrs or {}).items()}
                    doc.queue.append((kind, str(oid), clean))
            self._process_queue(spec, client, doc, blobs or {})

    def _process_queue(self, spec: SourceSpec, client: Client, doc: ClientSourceDoc,
                       blobs: Mapping[str, tuple[str, bytes]]) -> None:
        md = self.master(spec.name, client.user)
        order = {"create": 0, "update": 1, "delete": 2}
        ops = sorted(doc.queue, key=lambda op: order[op[0]])
        doc.queue = []
        owner = self._owner(spec, client.user)
        for i, (kind, oid, attrs) in enumerate(ops):
            message = self.failures.check(kind, spec.name, client.user, oid)
            if kind == "create":
                if message is not None:
                    self._object_error(doc, "create-error", oid, attrs, message)
                    doc.queue = ops[i + 1:]
                    return
                new_id = md.new_id(self.config.id_template, spec.name)
                doc.set_held(new_id, md.put(new_id, attrs))
                doc.links[oid] = new_id
                self._store_blobs(owner, oid, new_id, blobs)
            elif kind == "update":
                held = doc.held(md, oid)
                if message is not None:
                    self._object_error(doc, "update-error", oid, attrs, message)
                    doc.errors.setdefault("update-rollback", {})[oid] = dict(held or {})
                    continue
                md.merge(oid, attrs)
                doc.set_held(oid, {**(held or {}), **attrs})
                self._store_blobs(owner, oid, oid, blobs)
            else:
                if message is not None:
                    self._object_error(doc, "delete-error", oid, attrs, message)
                    continue
                md.delete(oid)
                doc.set_held(oid, None)

    @staticmethod
    def _object_error(doc: ClientSourceDoc, key: str, oid: str, attrs: dict[str, str], message: str) -> None:
        errors = doc.errors.setdefault(key, {})
        errors[oid] = attrs
        errors[f"{oid}-error"] = {"message": message}

    def _store_blobs(self, owner: tuple[str, str | None], sent_id: str, oid: str,
                     blobs: Mapping[str, tuple[str, bytes]]) -> None:
        suffix = f"-{sent_id}"
        for name, blob in blobs.items():
            if name.endswith(suffix):
                self._blobs[(*owner, oid, name[: -len(suffix)])] = blob

    # ----------------------------------------------------------------- search

    def search(
        self,
        client: Client,
        sources: list[tuple[str, str | None]],
        params: Mapping[str, str],
        p_size: int,
    ) -> SearchAnswer:
        """Search the named sources; each gets a sub-array (``[]`` when nothing is left to send).

        Mock semantics: a record matches when every ``params[k] == record[k]``. One token per
        search, repeated on its later pages; acknowledging it gives the next page.
        """
        with self.lock:
            results: list[list[dict[str, Any]]] = []
            header_token, total = "", 0
            for name, token in sources:
                spec = self.sources.get(name)
                if spec is None:
                    results.append([])
                    continue
                doc = client.doc(name)
                md = self.master(name, client.user)
                if token:
                    state = doc.search
                    if state is None or state.token != token:
                        results.append(_search_error(name, "search-error", "Search error - invalid token"))
                        continue
                else:
                    failure = None
                    for stage, key in (("login", "login-error"), ("search", "search-error"), ("logoff", "logoff-error")):
                        message = self.failures.check(stage, name, client.user)
                        if message is not None:
                            failure = _search_error(name, key, message)
                            break
                    if failure is not None:
                        results.append(failure)
                        continue
                    wanted = dict(params)
                    matches = [oid for oid, rec in md.records.items()
                               if all(rec.get(k) == v for k, v in wanted.items())]
                    state = doc.search = SearchState(self.tokens.next(), matches)
                inserts: dict[str, Record] = {}
                remaining = state.remaining
                i = 0
                while i < len(remaining) and len(inserts) < max(p_size, 0):
                    oid = remaining[i]
                    i += 1
                    cur = md.records.get(oid)
                    if cur is not None and doc.held(md, oid) != cur:
                        inserts[oid] = cur
                        doc.set_held(oid, cur)
                state.remaining = remaining[i:]
                if not inserts:
                    doc.search = None
                    results.append([])
                    continue
                header_token = header_token or state.token
                total += len(inserts)
                results.append([{"version": 3}, {"token": state.token}, {"source": name},
                                {"count": len(inserts)}, {"insert": inserts}])
            return SearchAnswer(results, header_token, total)

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
                        name: {"cursor": d.cursor, "pending_token": d.pending.token if d.pending else None,
                               "queued": len(d.queue)}
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
            return {"token": page.token, "count": page.count, "kind": page.kind, "page": json.loads(page.body)}

    def client_document(self, client_id: str, source: str) -> dict[str, dict[str, str]]:
        """What the client holds of ``source``, materialised (inspection only)."""
        with self.lock:
            client = self._clients.get(client_id)
            if client is None:
                raise UnknownClient()
            doc = client.docs.get(source)
            if doc is None:
                return {}
            return doc.materialise(self.master(source, client.user))


_DEVICE_FIELDS = ("device_type", "device_push_type", "device_pin", "device_port", "device_app_id",
                  "device_app_version", "phone_id")


def _device_fields(fields: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: str(fields[k]) for k in _DEVICE_FIELDS if fields and fields.get(k) is not None}


def _search_error(source: str, key: str, message: str) -> list[dict[str, Any]]:
    return [{"version": 3}, {"source": source}, {"search-error": {key: {"message": message}}}]
