"""Push registration (``clientregister``) against a live mock: after login, again when the pin
changes, on both URL families, with Rhodes' body; a failed registration never fails the login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": 3}}}) as srv:
        yield srv


def registrations(server: MockServer) -> list[dict[str, str]]:
    return [json.loads(e.request_body or "{}") for e in server.journal(operation="clientregister")]


@pytest.mark.parametrize("family", ["classic", "rest"])
def test_registered_after_login_and_again_when_the_pin_changes(
    server: MockServer, tmp_path: Path, family: str
) -> None:
    url = server.url if family == "classic" else server.base_url
    engine = SyncEngine(url, tmp_path / "db.sqlite", url_family=family)  # type: ignore[arg-type]
    try:
        engine.add_model("Product")
        assert engine.set_push_token("PIN-1", "ANDROID", push_type="rhoconnect_push") is None  # not logged in
        assert engine.login("alice", "pw").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        client_id = engine.stores["user"].client_info().client_id
        assert client_id
        assert registrations(server) == [
            {
                "client_id": client_id,
                "device_pin": "PIN-1",
                "device_port": "100",
                "device_type": "ANDROID",
                "device_push_type": "rhoconnect_push",
            }
        ]
        body = server.journal(operation="clientregister")[0].request_body or ""
        assert body.startswith('{"client_id":')  # Rhodes' key order
        (mock_client,) = [c for c in server.state.clients() if c["id"] == client_id]
        assert mock_client["device_pin"] == "PIN-1" and mock_client["device_type"] == "ANDROID"

        # The same pin again: nothing to send; a sync does not send it either.
        assert engine.set_push_token("PIN-1", "ANDROID", push_type="rhoconnect_push") is None
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert len(registrations(server)) == 1

        handle = engine.set_push_token("PIN-2", "ANDROID", port=8080)
        assert handle is not None and handle.wait(WAIT) == {"registered": True}
        assert registrations(server)[-1] == {
            "client_id": client_id,
            "device_pin": "PIN-2",
            "device_port": "8080",
            "device_type": "ANDROID",
        }
        assert engine.stores["user"].client_info().token_sent == 1
    finally:
        engine.close()


def test_a_failed_registration_is_retried_at_the_next_sync(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    try:
        engine.add_model("Product")
        engine.set_push_token("PIN-9", "APPLE")
        server.add_fault(
            {
                "match": {"operation": "clientregister"},
                "action": {"type": "status", "status": 500},
                "times": 1,
            }
        )
        assert engine.login("alice", "pw").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.stores["user"].client_info().token_sent == 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert [r["device_pin"] for r in registrations(server)] == ["PIN-9", "PIN-9"]
        assert engine.stores["user"].client_info().token_sent == 1
    finally:
        engine.close()
