"""GET /xuc/api/2.0/auth/check over real HTTP: headers, refreshed tokens, forged tokens."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import (
    BASE,
    Stack,
    assert_error,
    assert_token_answer,
    forge,
    jwt_parts,
    login_body,
)
from tests.support.http_errors import NO_BEARER_MESSAGE, NO_CREDENTIALS_MESSAGE

LOGIN = f"{BASE}/auth/login"
CHECK = f"{BASE}/auth/check"


def _token(api: httpx.Client, login: str = "alicej") -> str:
    return assert_token_answer(api.post(LOGIN, json=login_body(login)), login)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- presenting a token ---------------------------------------------------------------------------
def test_a_bearer_token_is_checked_and_refreshed(api: httpx.Client) -> None:
    token = _token(api)

    refreshed = assert_token_answer(api.get(CHECK, headers=_bearer(token)), "alicej")

    assert refreshed != token
    assert jwt_parts(refreshed)[1]["jti"] != jwt_parts(token)[1]["jti"]


def test_an_x_auth_token_header_is_accepted(api: httpx.Client) -> None:
    token = _token(api, "bobm")

    assert_token_answer(api.get(CHECK, headers={"X-Auth-Token": token}), "bobm")


def test_the_bearer_scheme_is_case_insensitive(api: httpx.Client) -> None:
    token = _token(api)

    assert_token_answer(api.get(CHECK, headers={"Authorization": f"bearer {token}"}), "alicej")


def test_the_refreshed_token_works_and_the_old_one_stays_valid(api: httpx.Client) -> None:
    old = _token(api)
    refreshed = assert_token_answer(api.get(CHECK, headers=_bearer(old)), "alicej")

    assert_token_answer(api.get(CHECK, headers=_bearer(refreshed)), "alicej")
    assert_token_answer(api.get(CHECK, headers=_bearer(old)), "alicej")


def test_no_header_is_authorization_header_not_found(api: httpx.Client) -> None:
    assert_error(api.get(CHECK), 401, "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)


@pytest.mark.parametrize("value", ["Basic xyz", "Bearer", "Token abc.def.ghi", "eyJhbGciOiJFUzI1NiJ9.e30.sig"])
def test_an_authorization_header_without_a_bearer_token_is_bearer_not_found(api: httpx.Client, value: str) -> None:
    assert_error(api.get(CHECK, headers={"Authorization": value}), 401, "BearerNotFound", NO_BEARER_MESSAGE)


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.", "eyJ.eyJ.eyJ"])
def test_a_garbage_bearer_token_is_invalid(api: httpx.Client, garbage: str) -> None:
    assert_error(api.get(CHECK, headers=_bearer(garbage)), 401, "InvalidToken")


def test_a_garbage_x_auth_token_is_invalid(api: httpx.Client) -> None:
    assert_error(api.get(CHECK, headers={"X-Auth-Token": "garbage"}), 401, "InvalidToken")


# --- forged tokens --------------------------------------------------------------------------------
FORGERIES = [
    "alg-none",
    "alg-none-with-signature",
    "hs256-with-the-public-key",
    "hs256-with-a-secret",
    "es256-with-another-key",
    "es256-with-another-key-and-a-longer-life",
    "tampered-login",
    "tampered-expiry",
    "unknown-kid",
    "no-kid",
    "truncated-signature",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_forged_token_is_invalid(api: httpx.Client, stack: Stack, kind: str) -> None:
    token = _token(api)
    forged = forge(kind, token, stack)
    assert forged != token

    assert_error(api.get(CHECK, headers=_bearer(forged)), 401, "InvalidToken")
    assert_error(api.get(CHECK, headers={"X-Auth-Token": forged}), 401, "InvalidToken")
    assert_token_answer(api.get(CHECK, headers=_bearer(token)), "alicej")  # the real one still passes

