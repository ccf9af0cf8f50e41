"""A raw RhoConnect protocol client over ``requests`` for the mock server's tests.

It speaks plain HTTP so tests check exactly what goes over the wire; ``apply_page`` applies a
page the way the Rhodes client does, so tests can compare what a client ends up with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from rhoconnect_mock import MockServer


class RC:
    """A raw RhoConnect protocol client over ``requests`` (REST family unless told otherwise)."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.base = server.base_url
        self.prefix = server.state.config.classic_prefix
        self.http = requests.Session()
        self.client_id: str | None = None

    @classmethod
    def signed_in(cls, server: MockServer, login: str = "alice") -> RC:
        """A client with a session and a client id, on ``server`` reset to its start state."""
        server.reset()
        rc = cls(server)
        assert rc.login(login).status_code == 200
        rc.create_client()
        return rc

    def login(
        self, login: str = "alice", password: str = "secret", classic: bool = False
    ) -> requests.Response:
        path = f"{self.prefix}/clientlogin" if classic else "/rc/v1/app/login"
        return self.http.post(self.base + path, json={"login": login, "password": password, "remember_me": 1})

    def create_client(self, classic: bool = False) -> str:
        if classic:
            r = self.http.get(f"{self.base}{self.prefix}/clientcreate")
        else:
            r = self.http.post(self.base + "/rc/v1/clients", json={})
        assert r.status_code == 200, r.text
        self.client_id = r.json()["client"]["client_id"]
        return self.client_id

    def query(
        self,
        source: str = "Product",
        token: str | None = None,
        p_size: int | None = None,
        classic: bool = False,
        **extra: Any,
    ) -> requests.Response:
        params: dict[str, Any] = {"client_id": self.client_id, "version": 3, **extra}
        if p_size is not None:
            params["p_size"] = p_size
        if token is not None:
            params["token"] = token
        if classic:
            params["source_name"] = source
            return self.http.get(self.base + self.prefix, params=params)
        return self.http.get(f"{self.base}/app/v1/{source}", params=params)

    def page(
        self, source: str = "Product", token: str | None = None, p_size: int | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        r = self.query(source, token, p_size, **kw)
        assert r.status_code == 200, r.text
        body: list[dict[str, Any]] = r.json()
        return body

    def push(self, source: str = "Product", classic: bool = False, **sections: Any) -> requests.Response:
        body = {"client_id": self.client_id, "source_name": source, **sections}
        url = self.base + self.prefix if classic else f"{self.base}/app/v1/{source}"
        return self.http.post(url, json=body)

    def search(self, sources: list[dict[str, str]], search: Mapping[str, str], p_size: int = 500) -> Any:
        r = self.http.post(
            self.base + "/rc/v1/app/search",
            json={
                "client_id": self.client_id,
                "sources": sources,
                "search": dict(search),
                "p_size": p_size,
                "version": 3,
            },
        )
        assert r.status_code == 200, r.text
        return r.json()

    def sync_all(
        self, source: str = "Product", p_size: int = 500, local: dict[str, dict[str, str]] | None = None
    ) -> dict[str, dict[str, str]]:
        """Pull until token "" and apply pages like a client does to ``local`` (default: empty);
        returns the local data."""
        local = {} if local is None else local
        token: str | None = None
        while True:
            page = self.page(source, token, p_size)
            apply_page(local, page)
            token = page[1]["token"]
            if token == "":
                return local


def apply_page(local: dict[str, dict[str, str]], page: list[dict[str, Any]]) -> None:
    """Apply a page the way the Rhodes client does: links, then deletes, then inserts, per attribute."""
    cmds = page[5]
    for temp, link in cmds.get("links", {}).items():
        if temp in local:
            local[link["l"]] = local.pop(temp)
    for oid, attrs in cmds.get("delete", {}).items():
        obj = local.get(oid, {})
        for attr in attrs:
            obj.pop(attr, None)
        if not obj:
            local.pop(oid, None)
    for oid, attrs in cmds.get("insert", {}).items():
        local.setdefault(oid, {}).update(attrs)
