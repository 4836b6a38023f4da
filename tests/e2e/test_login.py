"""POST /xuc/api/2.0/auth/login over real HTTP, as the documented clients call it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import BASE, MAX_BODY_BYTES, Stack, assert_error, assert_token_answer, login_body

LOGIN = f"{BASE}/auth/login"


def test_login_answers_a_token_with_its_ttl(api: httpx.Client) -> None:
    response = api.post(LOGIN, json=login_body("alicej"))

    assert_token_answer(response, "alicej", ttl=3600)


def test_login_accepts_json_with_a_charset(api: httpx.Client) -> None:
    response = api.post(LOGIN, content=json.dumps(login_body("alicej")).encode(),
                        headers={"Content-Type": "application/json;charset=utf-8"})

    assert_token_answer(response, "alicej")


def test_login_accepts_the_extra_keys_of_the_original_clients(api: httpx.Client) -> None:
    body = {**login_body("bobm"), "softwareType": "webBrowser", "applicationType": "ccagent"}

    assert_token_answer(api.post(LOGIN, json=body), "bobm")


def test_each_login_gets_its_own_token(api: httpx.Client) -> None:
    first = assert_token_answer(api.post(LOGIN, json=login_body("alicej")), "alicej")
    second = assert_token_answer(api.post(LOGIN, json=login_body("alicej")), "alicej")

    assert first != second


def test_wrong_password_and_unknown_user_get_the_same_answer(api: httpx.Client) -> None:
    wrong_password = api.post(LOGIN, json=login_body("alicej", "not-her-password"))
    unknown_user = api.post(LOGIN, json={"login": "nobody.here", "password": "whatever"})

    body = assert_error(wrong_password, 401, "InvalidCredentials")
    assert assert_error(unknown_user, 401, "InvalidCredentials") == body
    assert "alicej" not in wrong_password.text  # nothing tells which part was wrong


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"login": "alicej", "password": ', id="broken-json"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b'["alicej", "alice-secret"]', id="json-array"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b'{"login": "alicej"}', id="missing-password"),
        pytest.param(b'{"password": "alice-secret"}', id="missing-login"),
        pytest.param(b'{"login": 42, "password": "alice-secret"}', id="login-as-number"),
        pytest.param(b'{"login": "alicej", "password": null}', id="password-null"),
        pytest.param(b'{"login": "alic\xff\xfej", "password": "alice-secret"}', id="invalid-utf8"),
        # Nesting bombs, kept under the stack's 64 KiB body limit so that they reach the parser.
        pytest.param(b"[" * 60_000, id="deeply-nested-array"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="deeply-nested-object"),
    ],
)
def test_a_body_that_is_not_the_expected_json_is_invalid_json(api: httpx.Client, content: bytes) -> None:
    response = api.post(LOGIN, content=content, headers={"Content-Type": "application/json"})

    assert_error(response, 400, "InvalidJson")


def _oversized_body() -> bytes:
    return json.dumps({"login": "alicej", "password": "x" * (MAX_BODY_BYTES + 10)}).encode()


def test_a_body_above_the_limit_is_refused_from_its_content_length(api: httpx.Client) -> None:
    body = _oversized_body()

    response = api.post(LOGIN, content=body, headers={"Content-Type": "application/json"})

    assert response.request.headers["content-length"] == str(len(body))
    assert_error(response, 413, "PayloadTooLarge")


def test_a_streamed_body_above_the_limit_is_refused(api: httpx.Client) -> None:
    body = _oversized_body()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    response = api.post(LOGIN, content=chunks(), headers={"Content-Type": "application/json"})

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "PayloadTooLarge")


def test_a_body_just_under_the_limit_is_read(api: httpx.Client) -> None:
    body = json.dumps({"login": "nobody.here", "password": "x" * 1000, "pad": "y" * (MAX_BODY_BYTES - 2000)})
    assert len(body) <= MAX_BODY_BYTES

    response = api.post(LOGIN, content=body.encode(), headers={"Content-Type": "application/json"})

    assert_error(response, 401, "InvalidCredentials")


def test_repeated_failures_are_throttled_with_429(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(XUC_LOGIN_MAX_FAILURES="3", XUC_LOGIN_MAX_FAILURES_PER_ADDRESS="5",
                       XUC_LOGIN_FAILURE_WINDOW_S="300")
    stack.provision({"alicej": "alice-secret", "bobm": "bob-secret"})
    with httpx.Client(base_url=stack.url, timeout=15.0) as http:
        for _ in range(3):
            assert_error(http.post(f"{BASE}/auth/login", json=login_body("alicej", "wrong")), 401,
                         "InvalidCredentials")
        refused = http.post(f"{BASE}/auth/login", json=login_body("alicej"))  # even the right password
        assert "try again in" in assert_error(refused, 429, "TooManyAttempts")["message"]
        assert_token_answer(http.post(f"{BASE}/auth/login", json=login_body("bobm")), "bobm")
        for _ in range(2):  # the address's fifth failure
            assert_error(http.post(f"{BASE}/auth/login", json=login_body("bobm", "wrong")), 401,
                         "InvalidCredentials")
        assert_error(http.post(f"{BASE}/auth/login", json=login_body("bobm")), 429, "TooManyAttempts")
