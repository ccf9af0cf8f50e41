"""An in-process fake RhoConnect server and a transport that talks to it without sockets.

Small on purpose: enough protocol to drive the engine through every branch (paging with tokens and
re-sends, links, adapter errors, search, bulk) and a fault script (``server.fail(op, ...)``) for
statuses, network errors, malformed bodies and blocking. The real wire behaviour is checked by the
integration tests against the live mock.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhoconnect_client.exceptions import (
    ConnectionFailed,
    HTTPStatusError,
    NotAuthorized,
    RequestTimeout,
)
from rhoconnect_client.schema import ensure_schema
from rhoconnect_client.transport import Transport

Records = dict[str, dict[str, str]]


@dataclass
class _Pending:
    token: str
    body: list[Any]
    inserts: Records
    deletes: Records
    links: dict[str, str]


@dataclass
class _Client:
    user: str
    docs: dict[str, Records] = field(default_factory=dict)  # what the client holds per source
    pending: dict[str, _Pending] = field(default_factory=dict)
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    search_token: str | None = None


@dataclass
class Fault:
    kind: str  # status | connection | timeout | body | block | call
    status: int = 500
    body: str = ""
    event: threading.Event | None = None
    func: Callable[[], Any] | None = None


class FakeServer:
    """Master data per source, per-client documents, tokens, links and a fault script."""

    def __init__(self, data: Mapping[str, Records] | None = None) -> None:
        self.data: dict[str, Records] = {
            k: {i: dict(a) for i, a in v.items()} for k, v in (data or {}).items()
        }
        self.clients: dict[str, _Client] = {}
        self.sessions: dict[str, str] = {}
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.create_fails: Callable[[dict[str, str]], str | None] = lambda attrs: None
        self.update_fails: Callable[[str, dict[str, str]], str | None] = lambda oid, attrs: None
        self.source_errors: dict[str, dict[str, str]] = {}
        self.schema_changed: set[str] = set()
        self.refresh_time: dict[str, int] = {}  # sent in every query page of that source (old servers)
        self.bulk_waits = 0
        self.bulk_answer: str | None = None
        self.bulk_bytes: bytes | None = None
        self.resend_once = False
        self.lose_push_answer = 0  # process the next N pushes, then fail as if the answer was lost
        self._ids = itertools.count(1)
        self._tokens = itertools.count(564895898600000)
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ fault script
    def fail(
        self,
        op: str,
        kind: str = "status",
        *,
        status: int = 500,
        body: str = "",
        times: int = 1,
        event: threading.Event | None = None,
        func: Callable[[], Any] | None = None,
    ) -> None:
        for _ in range(times):
            self.faults.setdefault(op, []).append(Fault(kind, status, body, event, func))

    def _fault(self, op: str) -> str | None:
        """Raise the next scripted fault of ``op``; a ``body`` fault returns the body to send."""
        queue = self.faults.get(op)
        if not queue:
            return None
        fault = queue.pop(0)
        if fault.kind == "status":
            if fault.status == 401:
                raise NotAuthorized(401, fault.body, op)
            raise HTTPStatusError(fault.status, fault.body, op)
        if fault.kind == "connection":
            raise ConnectionFailed("cannot reach fake: connection refused")
        if fault.kind == "timeout":
            raise RequestTimeout("no answer from fake in time")
        if fault.kind == "block":
            assert fault.event is not None
            fault.event.wait(30)
            return None
        if fault.kind == "call":
            assert fault.func is not None
            fault.func()
            return None
        return fault.body

    def _client(self, client_id: str, session: str | None) -> _Client:
        if session not in self.sessions:
            raise NotAuthorized(401, "Not authenticated", "fake")
        client = self.clients.get(client_id)
        if client is None:
            raise HTTPStatusError(500, "Unknown client", "fake")
        return client

    # ------------------------------------------------------------------ operations
    def login(self, body: bytes) -> str:
        data = json.loads(body)
        self.log.append(("login", data))
        if (b := self._fault("login")) is not None:
            raise HTTPStatusError(500, b, "fake")
        if not data.get("login") or data.get("password") == "wrong":
            raise NotAuthorized(401, f"Unable to authenticate '{data.get('login', '')}'", "fake")
        session = f"rhoconnect_session=s{next(self._ids)}"
        self.sessions[session] = data["login"]
        return session

    def client_create(self, session: str | None) -> bytes:
        self.log.append(("clientcreate", {}))
        if (b := self._fault("clientcreate")) is not None:
            return b.encode()
        if session not in self.sessions:
            raise NotAuthorized(401, "Not authenticated", "fake")
        client_id = f"{next(self._ids):032x}"
        self.clients[client_id] = _Client(self.sessions[session])
        return json.dumps({"client": {"client_id": client_id}}).encode()

    def client_reset(self, client_id: str, session: str | None) -> None:
        self.log.append(("clientreset", {"client_id": client_id}))
        self._fault("clientreset")
        client = self._client(client_id, session)
        client.docs.clear()
        client.pending.clear()

    def query(
        self, source: str, client_id: str, page_size: int, token: int | None, session: str | None
    ) -> bytes:
        self.log.append(("query", {"source": source, "token": token, "p_size": page_size}))
        if (b := self._fault("query")) is not None:
            return b.encode()
        with self.lock:
            client = self._client(client_id, session)
            pending = client.pending.get(source)
            if pending is not None and self.resend_once:
                self.resend_once = False
                return json.dumps(pending.body).encode()
            if pending is not None:
                if token is not None and str(token) == pending.token:
                    self._ack(client, source, pending)
                elif token is not None:
                    return json.dumps(pending.body).encode()  # re-send unchanged
                else:
                    self._ack(client, source, pending)  # no token: treated as acknowledged (7.8)
                client.pending.pop(source, None)
            return json.dumps(self._page(client, source, page_size)).encode()

    def _ack(self, client: _Client, source: str, pending: _Pending) -> None:
        doc = client.docs.setdefault(source, {})
        for oid in pending.deletes:
            doc.pop(oid, None)
        for oid, attrs in pending.inserts.items():
            doc[oid] = dict(attrs)
        links = client.links.get(source, {})
        for temp in pending.links:
            links.pop(temp, None)

    def _page(self, client: _Client, source: str, page_size: int) -> list[Any]:
        master = self.data.setdefault(source, {})
        doc = client.docs.setdefault(source, {})
        head: list[Any] = [{"version": 3}]
        cmd: dict[str, Any] = {}
        errors = client.errors.pop(source, {})
        if source in self.source_errors:
            errors["source-error"] = {k: {"message": v} for k, v in self.source_errors[source].items()}
        if source in self.schema_changed:
            self.schema_changed.discard(source)
            token = str(next(self._tokens))
            body = [
                *head,
                {"token": token},
                {"count": 0},
                {"progress_count": 0},
                {"total_count": 0},
                {"schema-changed": "true"},
            ]
            client.pending[source] = _Pending(token, body, {}, {}, {})
            return body
        inserts: Records = {}
        deletes: Records = {}
        if source not in self.source_errors:
            for oid, attrs in master.items():
                if len(inserts) + len(deletes) >= page_size:
                    break
                if doc.get(oid) != attrs:
                    inserts[oid] = dict(attrs)
            for oid, attrs in doc.items():
                if len(inserts) + len(deletes) >= page_size:
                    break
                if oid not in master:
                    deletes[oid] = dict(attrs)
        links = dict(client.links.get(source, {}))
        if inserts:
            cmd["insert"] = inserts
        if deletes:
            cmd["delete"] = deletes
        if links:
            cmd["links"] = {t: {"l": r} for t, r in links.items()}
        cmd.update(errors)
        count = len(inserts) + len(deletes)
        token = str(next(self._tokens)) if (inserts or deletes or links) else ""
        body = [
            *head,
            {"token": token},
            {"count": count},
            {"progress_count": 0},
            {"total_count": len(master)},
            cmd,
        ]
        if source in self.refresh_time:
            body.insert(3, {"refresh_time": self.refresh_time[source]})  # after count, as Rhodes reads it
        if token:
            client.pending[source] = _Pending(token, body, inserts, deletes, links)
        return body

    def push(self, source: str, client_id: str, body: Mapping[str, Any], session: str | None) -> None:
        self.log.append(("push", {"source": source, "body": json.loads(json.dumps(body))}))
        self._fault("push")
        with self.lock:
            client = self._client(client_id, session)
            master = self.data.setdefault(source, {})
            doc = client.docs.setdefault(source, {})
            errors: dict[str, Any] = {}
            for temp, attrs in body.get("create", {}).items():
                message = self.create_fails(attrs)
                if message:
                    errors.setdefault("create-error", {})[temp] = attrs
                    errors["create-error"][f"{temp}-error"] = {"message": message}
                    break
                real = f"srv{next(self._ids)}"
                master[real] = dict(attrs)
                doc[real] = dict(attrs)
                client.links.setdefault(source, {})[temp] = real
            for oid, attrs in body.get("update", {}).items():
                message = self.update_fails(oid, attrs)
                if message:
                    errors.setdefault("update-error", {})[oid] = attrs
                    errors["update-error"][f"{oid}-error"] = {"message": message}
                    errors.setdefault("update-rollback", {})[oid] = dict(doc.get(oid, {}))
                    continue
                master.setdefault(oid, {}).update(attrs)
                doc.setdefault(oid, {}).update(attrs)
            for oid in body.get("delete", {}):
                master.pop(oid, None)
                doc.pop(oid, None)
            if errors:
                client.errors[source] = errors
        if self.lose_push_answer:
            self.lose_push_answer -= 1
            raise ConnectionFailed("connection reset by peer")

    def search(
        self,
        sources: Sequence[tuple[str, int | None]],
        client_id: str,
        page_size: int,
        params: Mapping[str, Any],
        session: str | None,
    ) -> bytes:
        self.log.append(("search", {"sources": list(sources), "params": dict(params)}))
        if (b := self._fault("search")) is not None:
            return b.encode()
        client = self._client(client_id, session)
        answer: list[Any] = []
        for name, token in sources:
            if name in self.source_errors:
                answer.append(
                    [
                        {"version": 3},
                        {"source": name},
                        {
                            "search-error": {
                                "search-error": {
                                    "message": self.source_errors[name].get("search-error", "boom")
                                }
                            }
                        },
                    ]
                )
                continue
            doc = client.docs.setdefault(name, {})
            found = {
                oid: a
                for oid, a in self.data.get(name, {}).items()
                if all(a.get(k) == str(v) for k, v in params.items()) and doc.get(oid) != a
            }
            if token is not None and client.search_token != str(token):
                answer.append(
                    [
                        {"version": 3},
                        {"source": name},
                        {"search-error": {"search-error": {"message": "Search error - invalid token"}}},
                    ]
                )
                continue
            chunk = dict(itertools.islice(found.items(), page_size))
            if not chunk:
                answer.append([])
                continue
            client.search_token = client.search_token or str(next(self._tokens))
            for oid, attrs in chunk.items():
                doc[oid] = dict(attrs)
            answer.append(
                [
                    {"version": 3},
                    {"token": client.search_token},
                    {"source": name},
                    {"count": len(chunk)},
                    {"insert": chunk},
                ]
            )
        return json.dumps(answer).encode()

    def bulk_data(self, client_id: str, partition: str, sources: Sequence[str], session: str | None) -> bytes:
        self.log.append(("bulk_data", {"partition": partition, "sources": list(sources)}))
        if (b := self._fault("bulk_data")) is not None:
            return b.encode()
        self._client(client_id, session)
        if self.bulk_waits > 0:
            self.bulk_waits -= 1
            return b'{"result":"wait"}'
        if self.bulk_answer is not None:
            return self.bulk_answer.encode()
        if not sources:
            return b'{"result":"nop"}'
        self.bulk_bytes = self.make_bulk_file(partition, sources)
        return json.dumps({"result": "url", "url": f"/data/application/{partition}_1.data"}).encode()

    def make_bulk_file(self, partition: str, sources: Sequence[str]) -> bytes:
        """A Rhodes bulk database of the master data, zipped like a ``.rzip``."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bulk.data"
            conn = sqlite3.connect(path)
            ensure_schema(conn)
            conn.execute("DELETE FROM sources")
            for sid, name in enumerate(sources, start=1):
                conn.execute(
                    "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type) "
                    "VALUES (?, ?, ?, ?, 'incremental')",
                    (sid, name, sid, partition),
                )
                conn.executemany(
                    "INSERT INTO object_values VALUES (?, ?, ?, ?)",
                    [
                        (sid, a, oid, v)
                        for oid, attrs in self.data.get(name, {}).items()
                        for a, v in attrs.items()
                    ],
                )
            conn.commit()
            conn.close()
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(path, f"{partition}_1.data")
            return buffer.getvalue()


class FakeTransport(Transport):
    """A ``Transport`` whose operations call a :class:`FakeServer` in-process (no sockets).

    Requests still go through ``Transport._run`` so that ``stop_sync`` cancellation is exercised.
    """

    def __init__(self, server: FakeServer, url: str = "http://fake.invalid/application") -> None:
        super().__init__(url)
        self.server = server
        self.posted: list[tuple[str, list[tuple[str, str]]]] = []

    def login(self, login_body: bytes) -> str:
        return self._run(lambda: self.server.login(login_body), "login")

    def client_create(self) -> bytes:
        return self._run(lambda: self.server.client_create(self.session), "clientcreate")

    def client_reset(self, client_id: str, sources: Sequence[str] = ()) -> None:
        self._run(lambda: self.server.client_reset(client_id, self.session), "clientreset")

    def query(
        self, source_name: str, *, client_id: str, page_size: int, token: int | None, query_params: str = ""
    ) -> bytes:
        return self._run(
            lambda: self.server.query(source_name, client_id, page_size, token, self.session), "query"
        )

    def push(
        self,
        source_name: str,
        client_id: str,
        body: Mapping[str, Any],
        blobs: Mapping[str, Path] | None = None,
    ) -> None:
        self._run(lambda: self.server.push(source_name, client_id, body, self.session), "push")

    def search(
        self,
        *,
        from_: str,
        client_id: str,
        page_size: int,
        sources: Sequence[tuple[str, int | None]],
        search_params: Mapping[str, Any] | None = None,
        offset: int | None = None,
        max_results: int | None = None,
    ) -> bytes:
        return self._run(
            lambda: self.server.search(sources, client_id, page_size, search_params or {}, self.session),
            "search",
        )

    def bulk_data(self, *, client_id: str, partition: str, sources: Sequence[str]) -> bytes:
        return self._run(
            lambda: self.server.bulk_data(client_id, partition, sources, self.session), "bulk_data"
        )

    def download(self, url: str, dest: Path) -> int:
        self.server.log.append(("download", {"url": url}))
        if (b := self.server._fault("download")) is not None:
            dest.write_bytes(b.encode())
            return len(b)
        assert self.server.bulk_bytes is not None
        dest.write_bytes(self.server.bulk_bytes)
        return len(self.server.bulk_bytes)

    def post_form(self, url: str, fields: Sequence[tuple[str, str]]) -> str:
        self.posted.append((url, list(fields)))
        return ""
