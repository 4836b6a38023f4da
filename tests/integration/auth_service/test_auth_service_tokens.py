"""The auth service's tokens: login issues a token verifiable with the published keys, a wrong
password is refused like an unknown user, check refreshes, deleted users' tokens are refused, tokens expire."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc

from tests.support.auth_client import UNAUTHENTICATED, AuthClient, client_for
from tests.support.processes import ServiceLauncher
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc.runtime.grpc_errors import reason_of
from xuc.security.tokens import TokenVerifier
from xucproto.auth.v1 import auth_pb2


async def _check_error(auth: AuthClient, token: str) -> grpc.aio.AioRpcError | None:
    """The error Check answers with `token`, or None if it accepts it."""
    try:
        await auth.check(token)
    except grpc.aio.AioRpcError as error:
        return error
    return None


# --- login and tokens ------------------------------------------------------------------------------
async def test_login_issues_a_token_verifiable_with_the_published_keys(auth: AuthClient) -> None:
    login = unique_login("dave")
    user = await auth.create_user(login, "dave-pw")

    reply = await auth.login(login, "dave-pw")
    assert (reply.login, reply.ttl) == (login, 3600)

    keys = await auth.public_keys()
    assert keys.issuer == "xuc"
    assert TokenVerifier.kid_of(reply.token) == keys.keys[0].kid
    claims = (await auth.verifier()).verify(reply.token)
    assert (claims.login, claims.user_id) == (login, user.id)
    assert claims.expires == reply.expires == claims.issued_at + 3600
    assert abs(claims.issued_at - time.time()) < 60


async def test_wrong_password_and_unknown_user_are_refused_alike(auth: AuthClient) -> None:
    login = unique_login("erin")
    await auth.create_user(login, "erin-pw")

    wrong_password = await rpc_error(auth.login(login, "not-erin-pw"))
    unknown_user = await rpc_error(auth.login(unique_login("nobody"), "erin-pw"))
    impossible_login = await rpc_error(auth.login("no such login!", "erin-pw"))

    for error in (wrong_password, unknown_user, impossible_login):
        assert (error.code(), reason_of(error)) == (UNAUTHENTICATED, "InvalidCredentials")
    assert wrong_password.details() == unknown_user.details() == impossible_login.details()
    assert await refusal(auth.login(login, "")) == (UNAUTHENTICATED, "InvalidCredentials")


async def test_check_refreshes_a_token_and_the_old_one_stays_valid(auth: AuthClient) -> None:
    login = unique_login("hank")
    user = await auth.create_user(login, "hank-pw")
    first = await auth.login(login, "hank-pw")

    refreshed = await auth.check(first.token)
    assert (refreshed.login, refreshed.ttl) == (login, 3600)
    assert refreshed.token != first.token
    verifier = await auth.verifier()
    assert verifier.verify(refreshed.token).user_id == user.id
    assert verifier.verify(refreshed.token).token_id != verifier.verify(first.token).token_id

    assert (await auth.check(first.token)).login == login  # valid until its own expiry
    assert (await auth.check(refreshed.token)).login == login


async def test_tokens_of_a_deleted_user_are_refused(auth: AuthClient) -> None:
    login = unique_login("ivy")
    await auth.create_user(login, "ivy-pw")
    token = (await auth.login(login, "ivy-pw")).token
    assert (await auth.check(token)).login == login

    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=auth.service)
    assert await refusal(auth.check(token)) == (UNAUTHENTICATED, "InvalidToken")

    # A new user with the same login is someone else: the old token is still refused.
    await auth.create_user(login, "ivy-pw")
    assert await refusal(auth.check(token)) == (UNAUTHENTICATED, "InvalidToken")


async def test_tokens_expire_after_their_ttl(service_launcher: ServiceLauncher, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'auth.db'}"  # this one runs on SQLite only
    service = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database_url,
                                      extra_env={"XUC_TOKEN_TTL": "1"})
    async with grpc.aio.insecure_channel(service.grpc_address) as channel:
        auth = client_for(channel, service)
        login = unique_login("mo")
        await auth.create_user(login, "mo-pw")
        reply = await auth.login(login, "mo-pw")
        assert reply.ttl == 1

        # Accepted until it expires (at most a second from now), refused from then on.
        deadline = reply.expires + 30.0  # a generous wait for the refusal, not a bound on how soon it comes
        while (error := await _check_error(auth, reply.token)) is None:
            assert time.time() < deadline, "the token is still accepted well after its expiry"
            await asyncio.sleep(0.1)
        assert time.time() >= reply.expires
        assert (error.code(), reason_of(error)) == (UNAUTHENTICATED, "TokenExpired")
        assert await refusal(auth.check(reply.token)) == (UNAUTHENTICATED, "TokenExpired")
