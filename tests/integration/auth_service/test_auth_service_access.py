"""Who may call the auth service: no credentials, a wrong service token, a user token on service
calls, the service token on a user's check, and forged or malformed user tokens are all refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.auth_client import PERMISSION_DENIED, SERVICE_ONLY_CALLS, UNAUTHENTICATED, AuthClient, bearer
from tests.support.processes import ServiceProcess
from tests.support.rpc import refusal, unique_login
from xucproto.auth.v1 import auth_pb2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forged_tokens(claims: dict[str, Any], kid: str, public_pem: bytes) -> dict[str, str]:
    """Tokens carrying a real user's claims and the service's kid, that must not be accepted."""
    other_key = ec.generate_private_key(ec.SECP256R1())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    hs256_signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return {
        "garbage": "not-a-jwt",
        "alg-none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "hs256-keyed-with-the-public-key": f"{header}.{payload}.{hs256_signature}",
        "signed-by-another-key": jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": kid}),
        "unknown-kid": jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": "unknown"}),
        "no-kid": jwt.encode(claims, other_key, algorithm="ES256"),
    }


async def test_calls_without_credentials_are_refused(auth: AuthClient) -> None:
    for method, request in [*SERVICE_ONLY_CALLS, ("Check", auth_pb2.CheckRequest())]:
        call = getattr(auth.stub, method)(request)
        assert await refusal(call) == (UNAUTHENTICATED, "AuthorizationHeaderNotFound"), method
    not_bearer = auth.stub.Check(auth_pb2.CheckRequest(), metadata=(("authorization", "Basic dXNlcjpwdw=="),))
    assert await refusal(not_bearer) == (UNAUTHENTICATED, "AuthorizationHeaderNotFound")


async def test_a_wrong_service_token_is_refused(auth: AuthClient, auth_service: ServiceProcess) -> None:
    for wrong in ("not-the-token", auth_service.service_token[:-1], auth_service.service_token + "x"):
        call = auth.stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=(("x-xuc-service-token", wrong),))
        assert await refusal(call) == (UNAUTHENTICATED, "InvalidToken")


async def test_a_user_token_cannot_make_service_calls(auth: AuthClient) -> None:
    login = unique_login("jack")
    await auth.create_user(login, "jack-pw")
    token = (await auth.login(login, "jack-pw")).token

    for method, request in SERVICE_ONLY_CALLS:
        call = getattr(auth.stub, method)(request, metadata=bearer(token))
        assert await refusal(call) == (PERMISSION_DENIED, "Forbidden"), method
    refused_delete = auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=bearer(token))
    assert await refusal(refused_delete) == (PERMISSION_DENIED, "Forbidden")
    assert (await auth.get_user(login)).login == login  # the refused call did nothing


async def test_the_service_token_cannot_check_as_a_user(auth: AuthClient) -> None:
    assert await refusal(auth.stub.Check(auth_pb2.CheckRequest(), metadata=auth.service)) \
        == (PERMISSION_DENIED, "Forbidden")


async def test_forged_and_malformed_user_tokens_are_refused(auth: AuthClient) -> None:
    login = unique_login("kim")
    await auth.create_user(login, "kim-pw")
    genuine = (await auth.login(login, "kim-pw")).token
    claims = jwt.decode(genuine, options={"verify_signature": False})
    keys = await auth.public_keys()

    forged = _forged_tokens(claims, keys.keys[0].kid, keys.keys[0].pem.encode())
    for name, token in forged.items():
        assert await refusal(auth.check(token)) == (UNAUTHENTICATED, "InvalidToken"), name
    assert (await auth.check(genuine)).login == login
