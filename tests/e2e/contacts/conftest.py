"""Users of the personal contacts e2e tests, provisioned once per module on the shared stack
(contacts.ann, contacts.ben); each test starts from an empty contact list for them (the `ann` and
`ben` fixtures delete everything first).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.contacts.contacts_http import PERSONAL, USERS, User, login


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    stack.provision(USERS, name="contacts-users.yaml")
    return {user: login(stack.url, user, password) for user, password in USERS.items()}


def _user(stack: Stack, tokens: dict[str, str], name: str) -> Iterator[User]:
    with httpx.Client(base_url=stack.url, headers={"X-Auth-Token": tokens[name]}, timeout=120.0) as http:
        assert http.delete(PERSONAL).status_code == 204  # a clean slate
        yield User(name, http)


@pytest.fixture
def ann(stack: Stack, tokens: dict[str, str]) -> Iterator[User]:
    yield from _user(stack, tokens, "contacts.ann")


@pytest.fixture
def ben(stack: Stack, tokens: dict[str, str]) -> Iterator[User]:
    yield from _user(stack, tokens, "contacts.ben")
