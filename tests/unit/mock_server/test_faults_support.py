"""A tiny protocol client over ``requests`` for the fault, journal and admin tests (no tests here).

The tests drive the mock through real HTTP, as a client would; this keeps the requests short.
"""

from __future__ import annotations

from typing import Any

import requests

CID = "X-RhoConnect-CLIENT-ID"


class Rc:
    """One logged-in client (REST family unless told otherwise) of a running mock server."""

    def __init__(self, base_url: str, login: str = "alice", password: str = "secret") -> None:
        self.base = base_url
        self.http = requests.Session()
        self.login_as(login, password)
        response = self.http.post(f"{self.base}/rc/v1/clients", timeout=10)
        assert response.status_code == 200, response.text
        self.client_id: str = response.json()["client"]["client_id"]

    def login_as(self, login: str, password: str = "secret") -> requests.Response:
        response = self.http.post(
            f"{self.base}/rc/v1/app/login", json={"login": login, "password": password}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response

    def query(
        self, source: str = "Product", token: str | None = None, p_size: int | None = None, **kwargs: Any
    ) -> requests.Response:
        params: dict[str, Any] = {}
        if token is not None:
            params["token"] = token
        if p_size is not None:
            params["p_size"] = p_size
        kwargs.setdefault("timeout", 10)
        return self.http.get(
            f"{self.base}/app/v1/{source}", params=params, headers={CID: self.client_id}, **kwargs
        )

    def classic_query(self, source: str = "Product", **params: Any) -> requests.Response:
        query = {"client_id": self.client_id, "source_name": source, "version": 3, **params}
        return self.http.get(f"{self.base}/application", params=query, timeout=10)

    def push(self, source: str = "Product", **sections: Any) -> requests.Response:
        return self.http.post(
            f"{self.base}/app/v1/{source}", json=sections, headers={CID: self.client_id}, timeout=10
        )

    def search(self, source: str = "Product", token: str | None = None, **search: str) -> requests.Response:
        src: dict[str, str] = {"name": source}
        if token is not None:
            src["token"] = token
        body = {"sources": [src], "search": search, "p_size": 100}
        return self.http.post(
            f"{self.base}/rc/v1/app/search", json=body, headers={CID: self.client_id}, timeout=10
        )

    def bulk_data(self, partition: str = "user") -> requests.Response:
        return self.http.post(
            f"{self.base}/rc/v1/app/bulk_data",
            json={"partition": partition},
            headers={CID: self.client_id},
            timeout=10,
        )

    def sync_all(self, source: str = "Product", p_size: int = 10) -> dict[str, dict[str, str]]:
        """Page through ``source`` acknowledging every page; the records the client now holds."""
        held: dict[str, dict[str, str]] = {}
        token: str | None = None
        for _ in range(1000):
            page = self.query(source, token=token, p_size=p_size).json()
            content = page[5]
            for oid, attrs in content.get("delete", {}).items():
                for name in attrs:
                    held.get(oid, {}).pop(name, None)
                if oid in held and not held[oid]:
                    del held[oid]
            for oid, attrs in content.get("insert", {}).items():
                held.setdefault(oid, {}).update(attrs)
            token = page[1]["token"]
            if token == "":
                return held
        raise AssertionError("paging never ended")
