"""The mock's state as one object: a facade over the ``Store`` and the engines.

``MockState`` lives on the Flask app (``attach_state``/``state_of``); nothing is global. It holds no
data of its own: everything is in its store (``memory_store.MemoryStore`` unless given another),
and every operation is one store transaction that calls an engine (``query_engine``,
``cud_engine``, ``search_engine``, ``bulk_engine``, ``masters``). The protocol blueprints, the admin
API, the control service, the fault actions and tests use the public contract below.

Public contract (stable; other modules and users rely on it):

* ``config``, ``store``, ``sources`` (name -> ``SourceSpec``), ``lock`` (the store's transaction),
  ``failures``, ``bulk`` (the bulk file folder)
* ``reset()``: fresh state, data regenerated from the config; ``add_reset_listener(fn)``: extensions
  that keep state of their own get ``fn()`` called after every reset
* ``records(source, user)`` (a snapshot), ``loaded_count(source)``, ``master_version(source, user)``,
  ``set_records``, ``seed_records``
* ``backend_insert/backend_update/backend_delete(source, user, ...)``: changes made by "another
  system"; every client sees them on its next query (after the poll interval, if the source has one)
* ``master(source, user)``, ``view(source, user)``: the master document clients see;
  ``expire_poll_interval(source)``
* ``fail_adapter(stage, source, message, *, user, objects, times)``, ``clear_adapter_failures()``,
  ``source_errors(source, user)``, ``bump_schema_version(source)``
* ``create_client``, ``register_client``, ``client``, ``reset_client``, ``forget_clients``;
  ``query_page``, ``push``, ``search``, ``bulk_data``; ``blob``, ``store_blob``
* ``clients()``, ``pending_page(client_id, source)``, ``client_document(client_id, source)``, ``bulk_jobs()``
For the app partition the ``user`` argument is ignored. An unknown source name raises ``KeyError``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from flask import Flask

from . import bulk_engine, cud_engine, masters, query_engine, search_engine
from .backend import AdapterFailures, Dataset, MasterDocument
from .bulk_engine import BulkFiles
from .config import MockConfig, SourceConfig
from .errors import UnknownClient
from .memory_store import MemoryStore
from .query_engine import Page
from .search_engine import SearchAnswer
from .seed import generate_records, load_data_file, normalise_records
from .store import Client, SourceSpec, Store

log = logging.getLogger(__name__)

#: Where ``attach_state`` keeps the state on a Flask app (read it with ``state_of``).
EXTENSION_KEY = "rhoconnect_mock"


def attach_state(app: Flask, state: MockState) -> None:
    """Make ``state`` the state of ``app``."""
    app.extensions[EXTENSION_KEY] = state


def state_of(app: Flask) -> MockState:
    """The state of ``app`` (set by ``create_app``)."""
    state = app.extensions[EXTENSION_KEY]
    if not isinstance(state, MockState):
        raise TypeError(f"app {app.name!r} has no mock state")
    return state


class MockState:
    """The whole mutable state of one mock server (see the module docstring for the contract)."""

    def __init__(self, config: MockConfig, store: Store | None = None) -> None:
        self.config = config
        self.store: Store = store if store is not None else MemoryStore()
        self.bulk = BulkFiles(config.bulk_dir)
        self._reset_listeners: list[Callable[[], None]] = [self.bulk.clear]
        self.reset()

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The store's transaction: hold it to read or change several things consistently."""
        return self.store.transaction()

    @property
    def sources(self) -> Mapping[str, SourceSpec]:
        """Every source, in priority order."""
        return self.store.sources()

    @property
    def failures(self) -> AdapterFailures:
        return self.store.adapter_failures()

    # ----------------------------------------------------------------- data and sources

    def reset(self) -> None:
        """Forget every client, document, change, failure, blob and bulk file; data come back as
        configured."""
        file_data = load_data_file(self.config.data) if self.config.data else {}
        with self.lock:
            self.store.clear()
            self.store.set_users(self.config.users)
            for s in sorted(self.config.sources, key=lambda s: s.priority):
                self.store.put_source(
                    SourceSpec(
                        s.name,
                        s.partition,
                        s.priority,
                        s.attributes,
                        json.loads(json.dumps(s.schema)) if s.schema else None,
                        s.metadata if not isinstance(s.metadata, dict) else dict(s.metadata),
                        s,
                    )
                )
            for name, records in file_data.items():
                if self.store.source(name) is None:
                    attrs = tuple(dict.fromkeys(a for r in records.values() for a in r))
                    self.store.put_source(SourceSpec(name, "user", 3, attrs))
                self.store.put_dataset(name, Dataset(records))
            listeners = list(self._reset_listeners)
        # Outside the transaction: a listener may take locks of its own.
        for listener in listeners:
            listener()

    def add_reset_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every ``reset()``, for extensions that keep state of their own.

        This keeps every reset path (admin API, plugin fixture, ``MockServer.reset``) in step
        without wrapping methods.
        """
        with self.lock:
            self._reset_listeners.append(listener)

    def accepts(self, login: str, password: str) -> bool:
        """Whether ``login`` may sign in with ``password`` (no users configured: any password)."""
        with self.lock:
            users = self.store.users()
        if users is None:
            return bool(password)
        expected = users.get(login)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def owner(self, spec: SourceSpec, user: str | None) -> tuple[str, str | None]:
        """The key of a master document: the source and its user (``None`` for the app partition)."""
        return spec.owner(user)

    def warm_up(self) -> None:
        """Generate (or load) every source's dataset now rather than on the first query."""
        with self.lock:
            for spec in self.store.sources().values():
                masters.dataset(self.store, self.config, spec)

    def loaded_count(self, source: str) -> int:
        """How many records ``source`` starts with for a new user: the data file's or the generated.

        What the banner and the dashboard show; the configured ``records`` is not it when a
        ``--data`` file supplies the source.
        """
        with self.lock:
            return len(masters.dataset(self.store, self.config, masters.spec_of(self.store, source)).records)

    def master(self, source: str, user: str | None) -> MasterDocument:
        """The master document of ``source`` for ``user`` (created from the dataset on first use)."""
        with self.lock:
            return masters.master(self.store, self.config, source, user)

    def view(self, source: str, user: str | None) -> MasterDocument:
        """The master document clients of ``user`` see (the poll cache, if the source has one)."""
        with self.lock:
            return masters.view(self.store, self.config, source, user)

    def expire_poll_interval(self, source: str | None = None) -> None:
        """Let the next query of ``source`` (every source if ``None``) run the adapter again.

        The test hook for "300 s later": no test has to wait for a poll interval.
        """
        with self.lock:
            masters.expire_poll_interval(self.store, source)

    def records(self, source: str, user: str | None) -> Mapping[str, Mapping[str, str]]:
        """Current master records of ``source`` for ``user``: a snapshot taken in a transaction.

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
            spec = masters.spec_of(self.store, source)
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
            spec = masters.spec_of(self.store, source)
            if spec.schema is None:
                raise ValueError(f"source {source!r} has no fixed schema")
            if version is None:
                old = str(spec.schema.get("version", "1.0"))
                try:
                    version = f"{float(old) + 1:.1f}"
                except ValueError:
                    version = old + ".1"
            spec.schema["version"] = version
            self.store.put_source(spec)
            return version

    def blob(self, source: str, user: str | None, oid: str, attr: str) -> tuple[str, bytes] | None:
        """A blob uploaded for an object attribute: (file name, bytes), or ``None``."""
        with self.lock:
            return self.store.blob((*masters.spec_of(self.store, source).owner(user), oid, attr))

    def store_blob(self, source: str, user: str | None, oid: str, attr: str, blob: tuple[str, bytes]) -> None:
        """Keep an uploaded blob for an object attribute."""
        with self.lock:
            self.store.put_blob((*masters.spec_of(self.store, source).owner(user), oid, attr), blob)

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
            return dict(self.store.source_error(masters.spec_of(self.store, source).owner(user)) or {})

    # ----------------------------------------------------------------- clients

    def create_client(self, user: str, fields: Mapping[str, Any] | None = None) -> Client:
        """A new client id (32 lowercase hex) for ``user``."""
        with self.lock:
            client = Client(secrets.token_hex(16), user, _device_fields(fields))
            self.store.put_client(client)
            return client

    def register_client(self, client_id: str, user: str, fields: Mapping[str, Any]) -> Client:
        """Store device fields; an unknown id is created on the fly, as RhoConnect does."""
        with self.lock:
            client = self.store.client(client_id) or Client(client_id, user)
            client.fields.update(_device_fields(fields))
            self.store.put_client(client)
            return client

    def client(self, client_id: str | None, user: str) -> Client:
        """The client for a request of ``user``; a client of another user is re-bound and wiped."""
        with self.lock:
            client = self.store.client(client_id or "")
            if client is None:
                raise UnknownClient()
            if client.user != user:
                client.user = user
                client.docs.clear()
                self.store.put_client(client)
            return client

    def reset_client(self, client_id: str | None, sources: Iterable[str] | None = None) -> None:
        """Flush the client's documents (all, or the named sources): it gets everything again."""
        with self.lock:
            client = self.store.client(client_id or "")
            if client is None:
                raise UnknownClient()
            if sources is None:
                client.docs.clear()
            else:
                for name in sources:
                    client.docs.pop(name, None)
            self.store.put_client(client)

    def forget_clients(self) -> None:
        """Drop every client id, as a server whose store was flushed: each one is unknown next."""
        with self.lock:
            for client in list(self.store.clients()):
                self.store.drop_client(client.id)

    def _current(self, client: Client) -> Client:
        """The stored version of ``client``, fetched inside the caller's transaction."""
        current = self.store.client(client.id)
        if current is None:
            raise UnknownClient()
        return current

    # ----------------------------------------------------------------- protocol operations

    def query_page(self, client: Client, source: str, token: str | None, p_size: int) -> Page:
        """One query answer for ``client`` (paging, acknowledgement, errors, schema, metadata)."""
        with self.lock:
            current = self._current(client)
            page = query_engine.query_page(self.store, self.config, current, source, token, p_size)
            self.store.put_client(current)
            return page

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
        sections = {"create": create, "update": update, "delete": delete}
        with self.lock:
            current = self._current(client)
            cud_engine.push(self.store, self.config, current, source, sections, blobs or {})
            self.store.put_client(current)

    def delete_held(self, client: Client, source: str, oid: str) -> bool:
        """The single-object ``DELETE``: RhoConnect deletes the client's own copy of the object,
        whatever attributes the request carries; ``False`` (nothing done) when the client does
        not hold the object."""
        with self.lock:
            current = self._current(client)
            held = cud_engine.held_copy(self.store, self.config, current, source, oid)
            if held is None:
                return False
            cud_engine.push(self.store, self.config, current, source, {"delete": {oid: held}}, {})
            self.store.put_client(current)
            return True

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
            current = self._current(client)
            answer = search_engine.search(self.store, self.config, current, sources, params, p_size, resend)
            self.store.put_client(current)
            return answer

    def bulk_data(self, client: Client, partition: str, asked: Sequence[str] | None) -> dict[str, str]:
        """The ``bulk_data`` answer (``wait``, ``nop`` or ``url``) for the sources ``asked`` for
        (``None``: every source of the partition; unknown names are left out)."""
        requested = bulk_engine.requested_sources(self.sources, partition, asked)
        return bulk_engine.bulk_answer(
            self.store, self.config, self.bulk, client, partition, requested, asked is not None and not asked
        )

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
                for c in self.store.clients()
            ]

    def bulk_jobs(self) -> list[dict[str, Any]]:
        """Every built bulk file set: its partition and owner, url, sources, files and errors."""
        with self.lock:
            return [
                {
                    "partition": partition,
                    "owner": owner,
                    "url": job.url,
                    "sources": list(job.requested),
                    "built_at": job.built_at,
                    "waits_left": job.waits_left,
                    "files": [Path(path).name for path in job.files],
                    "errors": sorted(job.build_errors),
                }
                for (partition, owner), job in self.store.bulk_jobs()
            ]

    def pending_page(self, client_id: str, source: str) -> dict[str, Any] | None:
        """The page waiting for acknowledgement: token, count, kind and the page as JSON."""
        with self.lock:
            client = self.store.client(client_id)
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
            client = self.store.client(client_id)
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
