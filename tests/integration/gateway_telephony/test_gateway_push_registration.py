"""Push registration through the gateway: one call with the user's token, the bodies refused and
the service's errors."""

from __future__ import annotations

import httpx
import pytest

from services.telephony.domain.errors import (
    PushTokenMissing,
)
from tests.support.gateway_telephony import DEPRECATED_PUSH, PUSH, FakeTelephony, Gateway, S, Status, assert_error
from xuc.errors import DomainError
from xuc.runtime.grpc_client import RETRY_POLICY
from xuc.runtime.grpc_edge import SERVICE_TOKEN_METADATA
from xucproto.telephony.v1 import telephony_pb2 as pb


# --- push registration ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "platform"),
    [
        (f"{PUSH}/android", b'{"token": "1234-5678"}', pb.ANDROID),
        (f"{PUSH}/ios", b'{"token": "1234-5678"}', pb.IOS),
        (f"{PUSH}/android", b'{\n    "token": "1234-5678",\n}', pb.ANDROID),  # as documented
        (f"{PUSH}/ios", b'{"token": "1234-5678", "platform": "android"}', pb.IOS),  # the path decides
        (DEPRECATED_PUSH, b'{"token": "1234-5678"}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678",}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "ios"}', pb.IOS),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "iOS"}', pb.IOS),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "Android"}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": null}', pb.ANDROID),
    ],
)
def test_push_registration_is_one_call_with_the_users_token(gateway: Gateway, api: httpx.Client,
                                                            fake: FakeTelephony, path: str, body: bytes,
                                                            platform: pb.PushPlatform) -> None:
    response = api.post(path, content=body, params={"apiVersion": "2.0"},
                        headers={"Content-Type": "application/json", "X-Auth-Token": gateway.tokens["tel.bob"]})

    assert response.status_code == 201, response.text
    assert response.json() == {}
    call = fake.only("RegisterPush")
    assert call.request == pb.RegisterPushRequest(platform=platform, token="1234-5678")
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['tel.bob']}"
    assert SERVICE_TOKEN_METADATA not in call.metadata


def test_push_registration_takes_a_bearer_and_no_query(gateway: Gateway, api: httpx.Client,
                                                       fake: FakeTelephony) -> None:
    response = api.post(f"{PUSH}/ios", json={"token": "abc"},
                        headers={"Authorization": f"Bearer {gateway.tokens['tel.alice']}"})

    assert response.status_code == 201, response.text
    assert fake.only("RegisterPush").request == pb.RegisterPushRequest(platform=pb.IOS, token="abc")


@pytest.mark.parametrize("path", [f"{PUSH}/android", f"{PUSH}/ios", DEPRECATED_PUSH])
def test_push_registration_needs_the_users_token(api: httpx.Client, fake: FakeTelephony, path: str) -> None:
    assert_error(api.post(path, json={"token": "t"}), 401, "AuthorizationHeaderNotFound")
    assert_error(api.post(path, json={"token": "t"}, headers={"X-Auth-Token": "forged"}), 401, "InvalidToken")
    assert_error(api.post(path, content=b"{"), 401, "AuthorizationHeaderNotFound")  # the token first
    assert fake.received == []


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (f"{PUSH}/android", b"", "JsonBodyNotFound"),
        (f"{PUSH}/android", b"{}", "JsonBodyNotFound"),
        (f"{PUSH}/ios", b'{"tokens": "1234"}', "JsonBodyNotFound"),
        (DEPRECATED_PUSH, b"", "JsonBodyNotFound"),
        (f"{PUSH}/android", b"{", "JsonErrorDecoding"),
        (f"{PUSH}/android", b"token=1234", "JsonErrorDecoding"),
        (f"{PUSH}/android", b'{"token": "1234",,}', "JsonErrorDecoding"),
        (f"{PUSH}/android", b'[{"token": "1234"},]', "JsonErrorDecoding"),
        (f"{PUSH}/ios", b'{"token": 1234}', "JsonErrorDecoding"),
        (f"{PUSH}/ios", b'{"token": "\\ud800"}', "JsonErrorDecoding"),
        (DEPRECATED_PUSH, b'{"token": "1234", "platform": "windows"}', "JsonErrorDecoding"),
        (DEPRECATED_PUSH, b'{"token": "1234", "platform": 1}', "JsonErrorDecoding"),
    ],
)
def test_push_registration_bodies_that_are_refused(gateway: Gateway, api: httpx.Client, fake: FakeTelephony,
                                                   path: str, body: bytes, code: str) -> None:
    response = api.post(path, content=body, headers={"Content-Type": "application/json",
                                                     "X-Auth-Token": gateway.tokens["tel.alice"]})

    assert_error(response, 400, code)
    assert fake.received == []


@pytest.mark.parametrize(("failure", "expected"), [
    (PushTokenMissing(), (400, "JsonBodyNotFound")),  # an empty token: the service's to refuse
    (Status(S.INTERNAL), (500, "NotHandledError")),
    (Status(S.UNAVAILABLE), (503, "Unreachable")),
])
def test_push_registration_service_errors(gateway: Gateway, api: httpx.Client, fake: FakeTelephony,
                                          failure: DomainError | Status, expected: tuple[int, str]) -> None:
    fake.fail("RegisterPush", failure)

    response = api.post(DEPRECATED_PUSH, json={"token": ""}, headers={"X-Auth-Token": gateway.tokens["tel.alice"]})

    assert_error(response, *expected)
    if isinstance(failure, Status) and failure.code == S.UNAVAILABLE:
        # RegisterPush sets a state (its proto says IDEMPOTENT): tried again before the gateway gives up.
        assert [call.method for call in fake.received] == ["RegisterPush"] * RETRY_POLICY["maxAttempts"]
    else:
        assert fake.only("RegisterPush").request.token == ""
