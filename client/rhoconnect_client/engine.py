"""``SyncEngine``: the public client API, with the seed's names and argument order.

The engine owns one :class:`~rhoconnect_client.store.Store` per partition (``user`` at ``database``,
``app`` next to it), the :class:`~rhoconnect_client.transport.Transport`, the
:class:`~rhoconnect_client.notify.Notifier` and the :class:`~rhoconnect_client.sync_thread.SyncThread`.
``login``, ``dosync``, ``dosync_source`` and ``search`` queue a command and return its
:class:`~rhoconnect_client.sync_thread.Handle` at once; the algorithm itself lives in
``sync_source``, ``search`` and ``bulk``. Everything else acts directly on the local state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import checks
from .catalog import declare
from .context import DEFAULT_BULK_TIMEOUT, Settings, SyncContext
from .exceptions import RhoconnectError, UnknownSource
from .models import Model
from .mutex import SyncMutex
from .notify import GLOBAL, Callback, Notifier, Registration, merge_params
from .registration import remember
from .search import run_search
from .session import adopt_server, drop_session, run_login, start_session
from .status import StatusReporter
from .store import Store, partition_path
from .sync_source import Syncer
from .sync_thread import Command, Handle, SyncThread, first_poll_wait
from .transport import DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, Transport, UrlFamily

__all__ = ["SyncEngine"]

log = logging.getLogger(__name__)

_PARTITIONS = ("user", "app", "local")


class SyncEngine:
    """A Rhodes ``SyncEngine`` over local SQLite databases.

    ``database`` is a file path (the ``user`` partition; ``app`` and ``local`` live beside it as
    ``<stem>-app<suffix>``...) or ``":memory:"``. Keyword options: ``url_family`` (``"classic"`` or
    ``"rest"``), ``poll_interval`` (seconds, 0 = no polling, the default; the first wait is
    shortened by the time since the last sync, docs/protocol.md#threads-stop-and-polling), ``page_size``
    (2000), ``timeout`` (per read),
    ``deadline`` (whole request), ``max_body_bytes`` (largest answer), ``verify_ssl`` (True),
    ``bulk_wait_seconds`` and ``bulk_timeout`` (pause between ``bulk_data`` polls, give up after),
    ``bulksync_state`` (None: bulk never runs, 0: bulk at the next sync), ``status_reporter``
    (callable receiving each notification of a ``show_sync_status`` command) and ``transport`` (a
    ready-made transport, for tests).
    """

    def __init__(
        self,
        server_url: str,
        database: str | os.PathLike[str] = ":memory:",
        *,
        url_family: UrlFamily = "classic",
        poll_interval: float = 0,
        page_size: int = 2000,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        verify_ssl: bool = True,
        bulk_wait_seconds: float = 5.0,
        bulk_timeout: float = DEFAULT_BULK_TIMEOUT,
        bulksync_state: int | None = None,
        status_reporter: Any = None,
        transport: Transport | None = None,
    ) -> None:
        checks.server_url("server_url", server_url)
        checks.integer("page_size", page_size, minimum=1)
        checks.seconds("poll_interval", poll_interval)
        self._database = database
        self._transport = transport or Transport(
            server_url, url_family=url_family, timeout=timeout, verify_ssl=verify_ssl, deadline=deadline
        )
        if transport is None:  # a ready-made transport keeps its own cap
            self._transport.max_body_bytes = checks.integer("max_body_bytes", max_body_bytes, minimum=1) or 1
        self._stores: dict[str, Store] = {"user": Store(database, partition="user")}
        self._notifier = Notifier(self._transport.post_form)
        self._settings = Settings(
            page_size=int(page_size), bulk_wait_seconds=bulk_wait_seconds, path=Settings.file_beside(database)
        )
        self._settings.bulk_timeout = checks.seconds("bulk_timeout", bulk_timeout)
        self._settings.load()
        if bulksync_state is not None:
            self._settings.bulksync_state = bulksync_state
        self._popup_enabled = False
        self._models: dict[str, Model] = {}
        self._mutex = SyncMutex(self._stores)
        self._ctx = SyncContext(
            transport=self._transport,
            notifier=self._notifier,
            stores=self._stores,
            settings=self._settings,
            stop_flag=threading.Event(),
            reporter=status_reporter or StatusReporter(),
        )
        adopt_server(self._ctx, self._transport.server_url)
        if str(database) != ":memory:" and Path(partition_path(Path(database), "app")).exists():
            self._store("app")  # an earlier run's app partition: its sources count for the poll timer
        info = self._stores["user"].client_info()
        self._transport.session = info.session or None
        self._thread = SyncThread(
            poll_interval=poll_interval,
            on_poll=self._poll_command,
            on_start=self._on_command_start,
            first_wait=first_poll_wait(float(poll_interval), self._ctx.seconds_since_sync()),
        )
        self._ctx.stop_flag = self._thread.stop_flag

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop the sync thread and close the databases.

        As with ``stop_sync``: while the caller holds the sync mutex, or from a callback, the
        running command may be waiting for that very caller, so ``close`` flags the stop and
        returns; the sync thread closes the network and the databases once the command has ended
        (after the app releases the mutex).
        """
        self.stop_sync()  # cancels a request in flight, so closing never waits for a slow server
        if self._thread.in_sync_thread() or self._mutex.held_here():
            self._thread.close(wait=False, on_exit=self._release)
            return
        self._thread.close()
        self._release()

    def _release(self) -> None:
        self._transport.close()
        for store in list(self._stores.values()):
            store.close()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ models and stores
    def _store(self, partition: str) -> Store:
        if partition not in _PARTITIONS:
            raise ValueError(f"partition must be one of {', '.join(_PARTITIONS)}, not {partition!r}")
        store = self._stores.get(partition)
        if store is None:
            path: str | os.PathLike[str] = self._database
            if str(path) != ":memory:":
                path = partition_path(Path(path), partition)
            store = Store(path, partition=partition)
            self._stores[partition] = store
        return store

    def add_model(
        self,
        name: str,
        sync_priority: int = 1000,
        sync_type: str = "incremental",
        partition: str = "user",
        *,
        schema: Mapping[str, Any] | str | None = None,
        associations: str | None = None,
        blob_attribs: str | None = None,
        options: Sequence[str] = (),
    ) -> Model:
        """Declare a model (a source); idempotent. Rules and arguments: ``catalog.declare``."""
        model = declare(
            self._stores,
            self._store,
            name,
            sync_priority=sync_priority,
            sync_type=sync_type,
            partition=partition,
            schema=schema,
            associations=associations,
            blob_attribs=blob_attribs,
            options=options,
        )
        self._models[name] = model
        return model

    def model(self, name: str) -> Model:
        model = self._models.get(name)
        if model is not None:
            return model
        for store in self._stores.values():
            source = store.source(name)
            if source is not None:
                model = Model(store, source)
                self._models[name] = model
                return model
        raise UnknownSource(name)

    @property
    def stores(self) -> Mapping[str, Store]:
        """The open partition stores (read-only view, for tools and tests)."""
        return dict(self._stores)

    # ------------------------------------------------------------------ session
    def login(self, login: str, password: str, callback: Callback | None = None) -> Handle:
        """Queue a login; the handle (and callback) get ``error_code``/``error_message``
        (docs/protocol.md#login)."""
        checks.text("login", login)
        checks.text("password", password)
        checks.callback("callback", callback)
        self.stop_sync()  # Rhodes: login first stops any running sync
        registration = Registration(callback) if callback is not None else None
        command = Command(
            "login",
            ("login", login, password, id(callback)),
            lambda: self._login_and_register(login, password, registration),
        )
        return self._thread.submit(command)

    def _login_and_register(self, login: str, password: str, reg: Registration | None) -> dict[str, Any]:
        """Rhodes registers the push pin right after a successful login (``registration``)."""
        params = run_login(self._ctx, login, password, reg)
        if params.get("error_code") == 0 and self._stores["user"].client_info().token:
            try:
                start_session(self._ctx)  # client id, then the registration while it is due
            except RhoconnectError as exc:  # the login itself succeeded; the next sync retries
                log.warning("push registration after login failed: %s", exc.message)
        return params

    def set_push_token(
        self, token: str | None, device_type: str, port: int | str = 100, push_type: str = ""
    ) -> Handle | None:
        """Give the device's push pin (``None`` forgets it) for ``clientregister``; see
        ``registration.remember``. A changed pin is registered at once when logged in (the handle
        gives ``{"registered": bool}``), else after the next login or at the next sync."""
        if not (remember(self._ctx, token, device_type, port, push_type) and token and self.logged_in()):
            return None

        def register() -> dict[str, Any]:
            client_id = start_session(self._ctx)
            info = self._stores["user"].client_info()
            return {"registered": bool(info.token_sent) and info.client_id == client_id}

        return self._thread.submit(Command("register", ("register", token), register))

    def logout(self) -> None:
        """Forget the session; no request is made and the client id stays."""
        self.stop_sync()
        drop_session(self._ctx)

    def logged_in(self) -> bool:
        return bool(self._stores["user"].client_info().session)

    def get_user_name(self) -> str:
        """The current user, or the last one logged in (not cleared by logout); ``""`` if nobody
        ever logged in (Rhodes reads ``rho_sync_user`` from rhoconfig, a string)."""
        return self._settings.rho_sync_user or ""

    # ------------------------------------------------------------------ sync commands
    def dosync(self, show_sync_status: bool = True, query_params: str | Mapping[str, Any] = "") -> Handle:
        """Queue a sync of every source; the handle gives the final (``complete``) parameters."""
        show_sync_status = checks.flag("show_sync_status", show_sync_status)
        query = checks.query_string("query_params", query_params)
        command = Command(
            "dosync", ("dosync", bool(show_sync_status), query), lambda: Syncer(self._ctx, query).sync_all()
        )
        command.show_status = bool(show_sync_status)
        return self._thread.submit(command)

    def dosync_source(
        self,
        source_id_or_name: str | int,
        show_sync_status: bool = True,
        query_params: str | Mapping[str, Any] = "",
    ) -> Handle:
        """Queue a sync of one source; the handle gives that source's final parameters.

        As in Rhodes, a source the sync engine does not know (undeclared, or local-only with
        ``sync_type`` none) is reported from the sync thread: an ``error`` with ``ERR_RUNTIME`` to the ``-1``
        callback. Arguments of the wrong type raise here.
        """
        key = checks.source_key("source_id_or_name", source_id_or_name)
        show_sync_status = checks.flag("show_sync_status", show_sync_status)
        query = checks.query_string("query_params", query_params)
        try:
            name: int | str = self._ctx.find_source(key)[1].name  # by name: id and name requests merge
        except UnknownSource:
            name = key
        command = Command(
            "dosync_source",
            ("dosync_source", name, show_sync_status, query),
            lambda: Syncer(self._ctx, query).sync_one(name),
        )
        command.show_status = bool(show_sync_status)
        return self._thread.submit(command)

    def search(
        self,
        source_names: Sequence[str] | str | None = None,
        from_: str = "search",
        search_params: Mapping[str, Any] | None = None,
        offset: int | None = None,
        max_results: int | None = None,
        callback: Callback | None = None,
        callback_param: Mapping[str, Any] | str | None = None,
        progress_step: int = -1,
        sync_changes: bool = False,
    ) -> Handle:
        """Stop any running sync, then queue a server search (docs/protocol.md#search); results land in the
        local models.

        Bad arguments (unknown source, negative offset ...) raise here, before anything is queued.
        A search over several sources reports each failing source's message under
        ``server_errors[kind]["sources"][name]["message"]`` (``search`` module docstring).
        """
        request = checks.search_request(
            self._ctx,
            source_names,
            from_,
            search_params,
            offset,
            max_results,
            progress_step,
            sync_changes,
        )
        checks.callback("callback", callback)
        checks.params("callback_param", callback_param)
        registration = Registration(callback, merge_params(callback_param)) if callback is not None else None
        # Rhodes rho_sync_doSearch: a running sync is stopped first (docs/protocol.md#search-request)
        self.stop_sync()
        command = Command(
            "search", ("search", id(request)), lambda: run_search(self._ctx, request, registration)
        )
        command.show_status = False
        return self._thread.submit(command)

    def _on_command_start(self, command: Command) -> None:
        self._notifier.suppressed = False
        self._transport.reset_cancel()
        self._ctx.reporting = self._popup_enabled and bool(command.show_status)

    def _poll_command(self) -> Command | None:
        if not self.logged_in():
            return None
        command = Command("dosync", ("dosync", False, ""), lambda: Syncer(self._ctx, "").sync_all())
        command.show_status = False
        return command

    def stop_sync(self) -> None:
        """Cancel the running command and queued ones; return once the sync thread is idle (decision
        "Notification lifetime").

        From a callback (the sync thread) or while the caller holds the sync mutex (the sync thread
        may be waiting for it) waiting would never end: the stop is flagged and the command ends,
        silently, at its next step.
        """
        if not self._thread.busy:
            return
        self._notifier.suppressed = True
        self._transport.cancel()
        wait = not self._thread.in_sync_thread() and not self._mutex.held_here()
        self._thread.stop(wait=wait)
        if wait:
            self._transport.reset_cancel()
            self._notifier.suppressed = False

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no command is running or queued (test and CLI helper)."""
        return self._thread.wait_idle(timeout)

    # ------------------------------------------------------------------ the sync mutex
    def lock_sync_mutex(self) -> None:
        """Block the sync thread from writing until :meth:`unlock_sync_mutex` (re-entrant)."""
        self._mutex.acquire()

    def unlock_sync_mutex(self) -> None:
        """Release the sync mutex taken by :meth:`lock_sync_mutex` in this thread."""
        self._mutex.release()

    @contextlib.contextmanager
    def sync_mutex(self) -> Iterator[None]:
        """``with engine.sync_mutex(): ...`` batch writes not interleaved with a page apply."""
        self.lock_sync_mutex()
        try:
            yield
        finally:
            self.unlock_sync_mutex()

    # ------------------------------------------------------------------ notifications
    def set_notification(
        self, source_id: int | str, callback: Callback | None, params: Mapping[str, Any] | str | None = None
    ) -> None:
        """Per-source (one-shot) or ``-1`` (persistent) sync callback; a name is accepted too.

        ``callback`` None clears the registration; an unknown source raises ``UnknownSource``.
        """
        sid = self._source_id(source_id)
        checks.callback("callback", callback)
        self._notifier.set_notification(sid, callback, checks.params("params", params))

    def clear_notification(self, source_id: int | str) -> None:
        self._notifier.clear_notification(self._source_id(source_id))

    def _source_id(self, source_id: int | str) -> int:
        """``-1`` (every source) or the id of a declared source, given by id or name."""
        key = checks.source_key("source_id", source_id)
        if key == GLOBAL or key == str(GLOBAL):
            return GLOBAL
        return self._ctx.find_source(key)[1].source_id

    def set_objectnotify_url(
        self, callback: Callback | None, params: Mapping[str, Any] | str | None = None
    ) -> None:
        checks.callback("callback", callback)
        self._notifier.set_objectnotify(callback, checks.params("params", params))

    def add_objectnotify(self, source_id: int | str, object_id: str) -> None:
        """Watch one object (by its id, temporary or not) of a declared source."""
        sid = self._source_id(source_id)
        if sid == GLOBAL:
            raise ValueError("add_objectnotify needs the id of a source, not -1")
        self._notifier.add_objectnotify(sid, checks.text("object_id", object_id))

    def clean_objectnotify(self) -> None:
        self._notifier.clean_objectnotify()

    # ------------------------------------------------------------------ recovery
    # (docs/protocol.md#recovery-after-adapter-errors)
    # Each store call is one transaction under the store lock (the sync mutex).
    def on_sync_create_error(self, source_name: str, objects: Any, action: str) -> None:
        store, source = self._ctx.find_source(source_name)
        store.on_sync_create_error(source.source_id, objects, action)

    def on_sync_update_error(
        self, source_name: str, objects: Any, action: str, rollback_objects: Any = None
    ) -> None:
        store, source = self._ctx.find_source(source_name)
        store.on_sync_update_error(source.source_id, objects, action, rollback_objects)

    def on_sync_delete_error(self, source_name: str, objects: Any, action: str) -> None:
        store, source = self._ctx.find_source(source_name)
        store.on_sync_delete_error(source.source_id, objects, action)

    # ------------------------------------------------------------------ settings
    def set_pollinterval(self, interval: float) -> float:
        """Set the poll interval in seconds (0 disables polling); returns the previous value."""
        checks.seconds("interval", interval)
        previous = self._thread.set_poll_interval(interval)
        return int(previous) if float(previous).is_integer() else previous

    def set_syncserver(self, server_url: str) -> None:
        """decision "Sessions and servers": stop the sync; a different URL drops the client id and the
        session.

        The URL is remembered beside the database (Rhodes stores it in rhoconfig.txt), so that an
        engine opened later on another URL does not present this server's client id there.
        """
        checks.server_url("server_url", server_url)
        self.stop_sync()
        if adopt_server(self._ctx, server_url):
            self._transport.server_url = server_url
            self._transport.session = None

    @property
    def server_url(self) -> str:
        return self._transport.server_url

    def set_pagesize(self, size: int) -> None:
        """Objects per page asked of the server (``p_size``); at least 1 (0 pages nothing, finding 12)."""
        self._settings.page_size = checks.integer("size", size, minimum=1) or 1

    def get_pagesize(self) -> int:
        return self._settings.page_size

    def enable_status_popup(self, flag: bool) -> None:
        self._popup_enabled = checks.flag("flag", flag)

    def set_status_reporter(self, reporter: Any) -> None:
        """Replace the status reporter (a callable receiving each notification's parameters)."""
        self._ctx.reporter = reporter

    def set_ssl_verify_peer(self, flag: bool) -> None:
        self._transport.verify_ssl = checks.flag("flag", flag)

    def get_ssl_verify_peer(self) -> bool:
        return self._transport.verify_ssl

    @property
    def bulksync_state(self) -> int | None:
        """Rhodes ``bulksync_state``: set 0 to bulk-sync at the next command; 1 once done."""
        return self._settings.bulksync_state

    @bulksync_state.setter
    def bulksync_state(self, value: int | None) -> None:
        self._settings.bulksync_state = value
        self._settings.save()
