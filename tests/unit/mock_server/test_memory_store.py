"""The in-process store keeps the store contract, and the mock keeps its state in the store."""

from __future__ import annotations

import pytest
from rhoconnect_mock import create_app
from rhoconnect_mock.memory_store import MemoryStore
from rhoconnect_mock.state import state_of
from rhoconnect_mock.store import Store
from store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Store:
        return MemoryStore()


def test_the_protocol_writes_its_state_into_the_store() -> None:
    app = create_app({"records": {"Product": 3}})
    store = state_of(app).store
    web = app.test_client()
    assert web.post("/rc/v1/app/login", json={"login": "u", "password": "p"}).status_code == 200
    cid = web.post("/rc/v1/clients").get_json()["client"]["client_id"]
    page = web.get("/app/v1/Product", query_string={"client_id": cid, "p_size": 2}).get_json()
    with store.transaction():
        client = store.client(cid)
        assert client is not None and client.user == "u"
        pending = client.docs["Product"].pending
        assert pending is not None and pending.token == page[1]["token"]
        master = store.master(("Product", "u"))
        assert master is not None and len(master.records) == 3


def test_an_unknown_app_has_no_state() -> None:
    from flask import Flask

    with pytest.raises(KeyError):
        state_of(Flask("other"))
