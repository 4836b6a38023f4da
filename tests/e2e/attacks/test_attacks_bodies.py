"""Hostile bodies through `xuc up`: a 10 MB body, JSON nested 100,000 deep and lone surrogates are
each a clear documented error, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.attacks.attack_stack import ANSWER, LOGIN, PERSONAL, PUSH, V1, AttackStack
from tests.e2e.conftest import BASE, assert_error

# --- big, deep and broken bodies ------------------------------------------------------------------
JSON_ROUTES = [
    (LOGIN, "InvalidJson"),
    (PERSONAL, "JsonParsingError"),
    (ANSWER, "JsonErrorDecoding"),
    (PUSH, "JsonErrorDecoding"),
    (f"{BASE}/mobile/push/register", "JsonErrorDecoding"),
    (f"{V1}/dial/avencall.com/victim/", "JsonErrorDecoding"),
    (f"{V1}/connect/avencall.com/victim/", "JsonErrorDecoding"),
]


# A body that is not JSON is a 400 but on personal contacts, whose page documents a 500 JsonParsingError.
DOCUMENTED_STATUS = {"JsonParsingError": 500}


@pytest.mark.parametrize(("path", "code"), JSON_ROUTES)
def test_a_10_mb_body_is_payload_too_large_declared_or_streamed(victim: httpx.Client, path: str, code: str) -> None:
    body = b'{"a": "' + b"x" * 10_000_000 + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    headers = {"Content-Type": "application/json"}
    assert_error(victim.post(path, content=body, headers=headers), 413, "PayloadTooLarge")
    assert_error(victim.post(path, content=chunks(), headers=headers), 413, "PayloadTooLarge")


@pytest.mark.parametrize(("path", "code"), JSON_ROUTES)
@pytest.mark.parametrize("body", [
    pytest.param(b"[" * 100_000, id="100000-brackets"),
    pytest.param(b'{"a":' * 100_000, id="100000-objects"),
    pytest.param(b"[" * 50_000 + b"]" * 50_000, id="valid-but-50000-deep"),
])
def test_deeply_nested_json_is_a_clear_documented_error(target: AttackStack, victim: httpx.Client, path: str,
                                                        code: str, body: bytes) -> None:
    mark = len(target.log())

    assert_error(victim.post(path, content=body, headers={"Content-Type": "application/json"}),
                 DOCUMENTED_STATUS.get(code, 400), code)
    assert "RecursionError" not in target.log()[mark:]


@pytest.mark.parametrize(("path", "body", "code"), [
    (LOGIN, b'{"login": "\\ud800", "password": "x"}', "InvalidJson"),
    (LOGIN, b'{"login": "victim", "password": "\\udfff"}', "InvalidJson"),
    (PERSONAL, b'{"lastname": "\\ud800"}', "InvalidContact"),
    (ANSWER, b'{"sub_qualification_id": 1, "time": "2024-01-01 00:00:00", "queue": 9, "comment": "\\ud800"}',
     "JsonErrorDecoding"),
    (PUSH, b'{"token": "\\ud800"}', "JsonErrorDecoding"),
])
def test_a_lone_surrogate_is_a_400_not_a_500(victim: httpx.Client, path: str, body: bytes, code: str) -> None:
    # JSON may escape a lone surrogate, which no UTF-8 (so no protobuf string) can hold: a 500 once.
    assert_error(victim.post(path, content=body, headers={"Content-Type": "application/json"}), 400, code)


def test_a_lone_surrogate_in_a_contact_update_is_a_400(victim: httpx.Client) -> None:
    contact = victim.post(PERSONAL, json={"lastname": "Kept"}).json()
    response = victim.put(f"{PERSONAL}/{contact['id']}", content=b'{"lastname": "\\ud800"}',
                          headers={"Content-Type": "application/json"})

    assert_error(response, 400, "InvalidContact")
    assert victim.get(f"{PERSONAL}/{contact['id']}").json() == contact
