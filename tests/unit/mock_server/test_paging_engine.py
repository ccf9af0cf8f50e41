"""The paging engine (``backend`` + ``documents``) against a model: any interleaving of backend
changes, client pushes, searches, page sizes and acknowledgements leaves every client with the
master data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import pytest
from rhoconnect_mock.backend import MasterDocument
from rhoconnect_mock.config import MockConfig, SourceConfig
from rhoconnect_mock.documents import ClientSourceDoc, scan
from rhoconnect_mock.state import MockState


def _apply(local: dict[str, dict[str, str]], content: dict[str, Any]) -> None:
    for temp, link in content.get("links", {}).items():
        if temp in local:
            local[link["l"]] = local.pop(temp)
    for oid, attrs in content.get("delete", {}).items():
        obj = local.get(oid, {})
        for attr in attrs:
            obj.pop(attr, None)
        if not obj:
            local.pop(oid, None)
    for oid, attrs in content.get("insert", {}).items():
        local.setdefault(oid, {}).update(attrs)


def test_value_as_of_tracks_history() -> None:
    md = MasterDocument({"a": {"x": "1"}, "b": {"x": "2"}})
    md.merge("a", {"x": "3"})
    md.delete("b")
    md.put("b", {"x": "4"})
    assert md.value_as_of("a", 1) == {"x": "1"} and md.value_as_of("a", 3) == {"x": "3"}
    assert md.value_as_of("b", 1) is None and md.value_as_of("b", 2) == {"x": "2"}
    assert md.value_as_of("b", 4) is None and md.value_as_of("b", 5) == {"x": "4"}
    assert md.end == 5 and md.version == 3


def test_scan_cost_is_bounded_by_page() -> None:
    md = MasterDocument({str(i): {"v": str(i)} for i in range(1000)})
    doc = ClientSourceDoc()
    diff = scan(md, doc, 10)
    assert len(diff.inserts) == 10 and diff.cursor == 10


def test_superseded_entry_beyond_page_is_pinned() -> None:
    md = MasterDocument({str(i): {"v": str(i)} for i in range(1, 6)})
    doc = ClientSourceDoc()
    doc.cursor = md.end  # client holds all five
    md.merge("2", {"v": "two"})  # position 6
    md.merge("4", {"v": "four"})  # position 7
    md.merge("2", {"v": "TWO"})  # position 8 supersedes 6
    assert scan(md, doc, 10).inserts == {}  # not published by an adapter query yet
    md.publish()
    diff = scan(md, doc, 1)  # one object: "4" at 7; "2" at 6 is skipped and must be pinned
    assert diff.inserts == {"4": {"v": "four"}} and diff.cursor == 7
    assert diff.overlay["2"] == {"v": "2"}
    doc.cursor, doc.overlay = (
        diff.cursor,
        {k: v for k, v in diff.overlay.items() if v is not None and "v" in v},
    )
    final = scan(md, doc, 10)
    assert final.inserts == {"2": {"v": "TWO"}} and final.deletes == {"2": {"v": "2"}}


def test_unpublished_change_leaves_the_published_version_visible() -> None:
    # While the adapter fails, clients see the data of its last successful query: an object
    # changed since then goes out as it was, and the client's view is that version afterwards.
    md = MasterDocument({"x": {"v": "0"}, "y": {"v": "y"}})  # positions 1, 2
    md.merge("x", {"v": "1"})  # 3
    md.publish()
    md.merge("x", {"v": "2"})  # 4: not published
    doc = ClientSourceDoc()
    diff = scan(md, doc, 10)
    assert diff.inserts == {"x": {"v": "1"}, "y": {"v": "y"}} and diff.cursor == 3
    doc.advance(diff.cursor, diff.overlay)
    assert doc.held(md, "x") == {"v": "1"}
    md.publish()
    after = scan(md, doc, 10)
    assert (after.inserts, after.deletes) == ({"x": {"v": "2"}}, {"x": {"v": "1"}})


@pytest.mark.parametrize("seed", range(40))
def test_random_interleavings_converge(seed: int) -> None:
    run = _Interleaving(seed)
    for _step in range(300):
        run.step()
    run.state.clear_adapter_failures()
    for i, client in enumerate(run.clients):
        while True:
            page = run.state.query_page(client, "S", run.tokens[i], 5)
            body = json.loads(page.body)
            _apply(run.local[i], body[5])
            run.tokens[i] = body[1]["token"] or None
            if run.tokens[i] is None:
                break
        assert run.local[i] == dict(run.state.records("S", "u")), f"client {i}"
        assert run.state.client_document(client.id, "S") == dict(run.state.records("S", "u"))


class _Interleaving:
    """Three clients of one user and a backend that changes under them, driven by a seeded random
    sequence: adapter failures, backend changes, client pushes, searches and query pages. Each
    client keeps what it received in ``local``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.cfg = MockConfig(
            sources=[SourceConfig(name="S", records=30, attributes=("a", "b"), generator="sequence")],
            classic_resend=bool(seed % 2),
        )
        self.state = MockState(self.cfg)
        self.clients = [self.state.create_client("u") for _ in range(3)]
        self.local: list[dict[str, dict[str, str]]] = [{} for _ in self.clients]
        self.tokens: list[str | None] = [None] * len(self.clients)
        self.search_tokens: list[str | None] = [None] * len(self.clients)
        self.temp = 0

    def step(self) -> None:
        rng, state = self.rng, self.state
        i = rng.randrange(len(self.clients))
        action = rng.random()
        records = state.records("S", "u")
        if action < 0.03:
            state.fail_adapter("query", "S", "down", times=rng.randint(1, 3))  # pages lag the backend
        elif action < 0.25:
            self._backend_change(action, records)
        elif action < 0.35 and [o for o in self.local[i] if not o.startswith("t")]:
            self._client_change(i)
        elif action < 0.42 and not [o for o in self.local[i] if o.startswith("t")]:
            self._search(i)
        else:
            self._query(i)

    def _backend_change(self, action: float, records: Mapping[str, Any]) -> None:
        rng, state = self.rng, self.state
        if action < 0.15 and records:
            oid = rng.choice(list(records))
            state.backend_update("S", "u", oid, {rng.choice("ab"): str(rng.random())[:5]})
        elif action < 0.2 and records:
            state.backend_delete("S", "u", rng.choice(list(records)))
        else:
            # A new object, or an existing one replaced by a version without attribute "b".
            oid = rng.choice([f"n{rng.randrange(50)}", *list(records)[:5]])
            state.backend_insert("S", "u", oid, {"a": "new"})

    def _client_change(self, i: int) -> None:
        # Update or delete something the client holds (not an object still waiting for its link:
        # real clients do not push those), or create.
        local, client = self.local[i], self.clients[i]
        oid = self.rng.choice([o for o in local if not o.startswith("t")])
        kind = self.rng.choice(["update", "delete", "create"])
        if kind == "update":
            attrs = {"a": f"c{i}-{self.temp}"}
            local[oid].update(attrs)
            self.state.push(client, "S", update={oid: attrs})
        elif kind == "delete":
            self.state.push(client, "S", delete={oid: dict(local.pop(oid))})
        else:
            self.temp += 1
            local[f"t{self.temp}"] = {"a": "made", "b": str(i)}
            self.state.push(client, "S", create={f"t{self.temp}": {"a": "made", "b": str(i)}})

    def _search(self, i: int) -> None:
        # Not while a create awaits its link: the result could name the new id before the client
        # knows it. Results are upserted attribute by attribute.
        criteria = {"a": "new"} if self.rng.random() < 0.5 else {}
        answer = self.state.search(
            self.clients[i], [("S", self.search_tokens[i])], criteria, self.rng.choice([1, 3, 10])
        )
        sub = answer.results[0]
        for oid, attrs in (sub[4]["insert"] if sub else {}).items():
            self.local[i].setdefault(oid, {}).update(attrs)
        self.search_tokens[i] = sub[1]["token"] if sub else None

    def _query(self, i: int) -> None:
        send = self.tokens[i]
        roll = self.rng.random()
        if roll < 0.1:
            send = "123"  # a wrong token re-sends the pending page
        elif roll < 0.2 and not self.cfg.classic_resend:
            send = None  # a new sync run: RhoConnect 7.8 takes the pending page as applied
        page = self.state.query_page(self.clients[i], "S", send, self.rng.choice([1, 2, 3, 7, 50]))
        body = json.loads(page.body)
        if not (self.tokens[i] and body[1]["token"] == self.tokens[i]):  # clients skip a re-sent page
            _apply(self.local[i], body[5])
        self.tokens[i] = body[1]["token"] or None


def test_a_fresh_page_is_a_run_of_the_initial_records_without_copies() -> None:
    from rhoconnect_mock.backend import Dataset, MasterDocument
    from rhoconnect_mock.documents import ClientSourceDoc, InitialRun, scan

    data = Dataset({f"o{i}": {"a": str(i)} for i in range(1, 8)})
    master, doc = MasterDocument(data), ClientSourceDoc()
    doc.cursor = 2
    diff = scan(master, doc, 3)
    run = diff.inserts
    assert isinstance(run, InitialRun) and diff.sent is run and diff.cursor == 5
    assert list(run) == ["o3", "o4", "o5"] and len(run) == 3
    assert "o3" in run and "o5" in run and "o2" not in run and "o6" not in run and "zz" not in run
    assert run["o4"] is data.records["o4"]
    with pytest.raises(KeyError):
        run["o6"]
    master.merge("o1", {"a": "changed"})  # a change: the general scan again
    assert not isinstance(scan(master, doc, 3).inserts, InitialRun)
