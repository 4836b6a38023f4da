"""Who is calling (xuc/runtime/grpc_edge.py): the Authenticator, and the interceptor around RPCs."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.errors import UserNotFound
from services.auth.domain.model import Profile, User
from xuc.errors import Forbidden, InvalidToken, MissingCredentials, TokenExpired
from xuc.runtime.grpc_edge import (
    AUTHORIZATION_METADATA,
    SERVICE_TOKEN_METADATA,
    Access,
    Authenticator,
    Caller,
    EdgeInterceptor,
    current_caller,
)
from xuc.runtime.grpc_errors import reason_of
from xuc.security.tokens import TokenVerifier

SERVICE_TOKEN = "0123456789abcdef-service-token"
KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = JwtIssuer(KEY, "xuc", 600)
ALICE = User("alice", "hash:x", Profile())


def user_token() -> str:
    return ISSUER.issue(ALICE, time.time()).token


def bearer(token: str) -> dict[str, str]:
    return {AUTHORIZATION_METADATA: f"Bearer {token}"}


SERVICE = {SERVICE_TOKEN_METADATA: SERVICE_TOKEN}


@pytest.fixture
def authenticator() -> Authenticator:
    return Authenticator(SERVICE_TOKEN, TokenVerifier("xuc", [KEY.public_key()]))


# --- Authenticator --------------------------------------------------------------------------------
@pytest.mark.parametrize("access", [Access.SERVICE, Access.USER_OR_SERVICE])
def test_the_service_token_is_accepted(authenticator: Authenticator, access: Access) -> None:
    caller = authenticator.authenticate(SERVICE, access)
    assert caller == Caller(claims=None)
    assert caller.is_service


@pytest.mark.parametrize(
    "presented", ["wrong", "", SERVICE_TOKEN + "x", SERVICE_TOKEN[:-1], SERVICE_TOKEN.upper(), f" {SERVICE_TOKEN}"]
)
def test_a_wrong_service_token_is_an_invalid_token(authenticator: Authenticator, presented: str) -> None:
    with pytest.raises(InvalidToken):
        authenticator.authenticate({SERVICE_TOKEN_METADATA: presented}, Access.SERVICE)


def test_a_wrong_service_token_is_refused_even_with_a_valid_user_token(authenticator: Authenticator) -> None:
    with pytest.raises(InvalidToken):
        authenticator.authenticate({SERVICE_TOKEN_METADATA: "wrong", **bearer(user_token())}, Access.USER)


@pytest.mark.parametrize("access", [Access.USER, Access.USER_OR_SERVICE])
def test_a_user_token_is_accepted(authenticator: Authenticator, access: Access) -> None:
    caller = authenticator.authenticate(bearer(user_token()), access)
    assert not caller.is_service
    assert caller.claims is not None
    assert caller.claims.login == "alice"
    assert caller.claims.user_id == ALICE.id


def test_the_bearer_scheme_is_case_insensitive(authenticator: Authenticator) -> None:
    caller = authenticator.authenticate({AUTHORIZATION_METADATA: f"bearer {user_token()}"}, Access.USER)
    assert caller.claims is not None


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_a_bad_user_token_is_an_invalid_token(authenticator: Authenticator, token: str) -> None:
    with pytest.raises(InvalidToken):
        authenticator.authenticate(bearer(token), Access.USER)


def test_an_expired_user_token_is_token_expired(authenticator: Authenticator) -> None:
    expired = ISSUER.issue(ALICE, time.time() - 3600).token
    with pytest.raises(TokenExpired):
        authenticator.authenticate(bearer(expired), Access.USER)


@pytest.mark.parametrize("access", list(Access))
def test_no_credentials_is_missing_credentials(authenticator: Authenticator, access: Access) -> None:
    with pytest.raises(MissingCredentials):
        authenticator.authenticate({}, access)
    with pytest.raises(MissingCredentials):
        authenticator.authenticate({"x-unrelated": "value"}, access)


@pytest.mark.parametrize("authorization", ["Basic xyz", "Bearer", "Bearer ", "Bearer    ", "Token abc", "", "xyz"])
def test_an_authorization_that_is_not_bearer_is_missing_credentials(
    authenticator: Authenticator, authorization: str
) -> None:
    with pytest.raises(MissingCredentials):
        authenticator.authenticate({AUTHORIZATION_METADATA: authorization}, Access.USER)


def test_a_user_may_not_make_a_service_call(authenticator: Authenticator) -> None:
    with pytest.raises(Forbidden):
        authenticator.authenticate(bearer(user_token()), Access.SERVICE)


def test_a_service_may_not_make_a_user_call(authenticator: Authenticator) -> None:
    with pytest.raises(Forbidden):
        authenticator.authenticate(SERVICE, Access.USER)


def test_a_service_without_a_verifier_refuses_user_calls() -> None:
    authenticator = Authenticator(SERVICE_TOKEN, verifier=None)
    with pytest.raises(Forbidden):
        authenticator.authenticate(bearer(user_token()), Access.USER_OR_SERVICE)
    assert authenticator.authenticate(SERVICE, Access.SERVICE).is_service


def test_a_service_token_is_required() -> None:
    with pytest.raises(ValueError, match="XUC_SERVICE_TOKEN"):
        Authenticator("", verifier=None)


# --- EdgeInterceptor, through a real server on the loopback ------------------------------------------
PROBE = "test.v1.Probe"
POLICY = {
    f"/{PROBE}/Anyone": Access.USER_OR_SERVICE,
    f"/{PROBE}/ServiceOnly": Access.SERVICE,
    f"/{PROBE}/NotFound": Access.SERVICE,
    f"/{PROBE}/Crash": Access.SERVICE,
}


async def whoami(request: bytes, context: Any) -> bytes:
    caller = current_caller()
    return b"service" if caller.is_service else f"user:{caller.claims.login}".encode()  # type: ignore[union-attr]


async def not_found(request: bytes, context: Any) -> bytes:
    raise UserNotFound("No user with login 'bob'")


async def crash(request: bytes, context: Any) -> bytes:
    raise RuntimeError("secret internals: /var/lib/xuc/db password=hunter2")


@pytest.fixture
async def channel(authenticator: Authenticator) -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[EdgeInterceptor(POLICY, authenticator)])
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(behaviour)
        for name, behaviour in {
            "Anyone": whoami, "ServiceOnly": whoami, "Unlisted": whoami, "NotFound": not_found, "Crash": crash,
        }.items()
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(PROBE, handlers)])
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as client:
            yield client
    finally:
        await server.stop(None)


async def call(channel: grpc.aio.Channel, method: str, metadata: dict[str, str]) -> bytes:
    reply: bytes = await channel.unary_unary(f"/{PROBE}/{method}")(b"", metadata=tuple(metadata.items()), timeout=5)
    return reply


async def refused(channel: grpc.aio.Channel, method: str, metadata: dict[str, str]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel, method, metadata)
    return raised.value


async def test_the_handler_sees_its_caller(channel: grpc.aio.Channel) -> None:
    assert await call(channel, "Anyone", SERVICE) == b"service"
    assert await call(channel, "Anyone", bearer(user_token())) == b"user:alice"


async def test_refusals_carry_status_and_reason(channel: grpc.aio.Channel) -> None:
    missing = await refused(channel, "Anyone", {})
    assert (missing.code(), reason_of(missing)) == (grpc.StatusCode.UNAUTHENTICATED, "AuthorizationHeaderNotFound")
    invalid = await refused(channel, "Anyone", bearer("garbage"))
    assert (invalid.code(), reason_of(invalid)) == (grpc.StatusCode.UNAUTHENTICATED, "InvalidToken")
    forbidden = await refused(channel, "ServiceOnly", bearer(user_token()))
    assert (forbidden.code(), reason_of(forbidden)) == (grpc.StatusCode.PERMISSION_DENIED, "Forbidden")


async def test_a_method_missing_from_the_policy_is_refused_to_everyone(channel: grpc.aio.Channel) -> None:
    error = await refused(channel, "Unlisted", SERVICE)
    assert (error.code(), reason_of(error)) == (grpc.StatusCode.PERMISSION_DENIED, "Forbidden")


async def test_a_domain_error_leaves_with_its_reason(channel: grpc.aio.Channel) -> None:
    error = await refused(channel, "NotFound", SERVICE)
    assert (error.code(), reason_of(error)) == (grpc.StatusCode.NOT_FOUND, "UserNotFound")
    assert error.details() == "No user with login 'bob'"


async def test_an_unexpected_error_is_internal_without_internals(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="xuc.runtime.grpc_edge"):
        error = await refused(channel, "Crash", SERVICE)
    assert (error.code(), reason_of(error)) == (grpc.StatusCode.INTERNAL, "NotHandledError")
    assert "hunter2" not in (error.details() or "")
    assert "hunter2" not in str(error.trailing_metadata())
    # One line at ERROR (a client repeating the call cannot flood the logs); the traceback at DEBUG.
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [(record.levelname, record.getMessage(), record.exc_info) for record in errors] == [
        ("ERROR", "unhandled error", None)]
    assert errors[0].__dict__["rpc"].endswith("/Crash")
    assert errors[0].__dict__["error"] == "RuntimeError"
    assert any(record.exc_info for record in caplog.records if record.levelno == logging.DEBUG)


async def test_the_health_service_needs_no_credentials(channel: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
