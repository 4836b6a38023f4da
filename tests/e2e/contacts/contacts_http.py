"""Personal contacts over HTTP for the e2e tests: the routes, the documented contact, and a client
carrying one user's token with the calls most tests make.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.conftest import BASE, Stack

PERSONAL = f"{BASE}/contact/personal"
EXPORT = f"{BASE}/contact/export/personal"
IMPORT = f"{BASE}/contact/import/personal"
LOGIN = f"{BASE}/auth/login"
USERS = {"contacts.ann": "ann-secret", "contacts.ben": "ben-secret"}
HEADER = "company,email,fax,firstname,lastname,mobile,number"
NOT_A_LINE = -2
# A well-formed id no contact has. Fixed, not drawn at import: test ids must be the same in every
# xdist worker's collection.
UNKNOWN_ID = "7d0f3c1e-5b2a-4c8e-9f61-2a4b8c0d1e3f"
DOCUMENTED = {"firstname": "doe", "lastname": "john", "number": "1111", "mobile": "2222", "fax": "3333",
              "email": "j.doe@my.corp", "company": "corp"}
StartStack = Callable[..., Stack]


@dataclass
class User:
    """An HTTP client carrying one user's token."""

    login: str
    http: httpx.Client

    def create(self, **fields: Any) -> dict[str, Any]:
        response = self.http.post(PERSONAL, json=fields)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def entries(self, **params: str) -> list[dict[str, Any]]:
        response = self.http.get(PERSONAL, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["headers"] == ["Firstname", "Lastname", "Number", "Mobile", "Favorite"]
        entries: list[dict[str, Any]] = body["entries"]
        return entries

    def import_csv(self, content: bytes, content_type: str = "text/csv;charset=UTF-8") -> httpx.Response:
        return self.http.post(IMPORT, content=content, headers={"Content-Type": content_type})

    def export_rows(self) -> list[list[str]]:
        response = self.http.get(EXPORT)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def login(stack_url: str, user: str, password: str) -> str:
    with httpx.Client(base_url=stack_url, timeout=15.0) as client:
        response = client.post(LOGIN, json={"login": user, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token
