"""The auth service as a real process: gRPC on loopback, a real nats-server, SQLite and PostgreSQL.

Most tests share one service process per database backend (the `auth_service` fixture, module
scope) and stay independent by using logins of their own. The restart, short-TTL and huge-login
tests start their own processes. Known bugs of the service are at the end, as strict xfails.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.events import stored_messages
from tests.support.processes import NatsServer, ServiceLauncher, ServiceProcess, wait_for
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc import subjects
from xuc.runtime.grpc_errors import reason_of
from xuc.security.tokens import TokenVerifier, key_id, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.events.v1 import auth_events_pb2

AUTH_SERVICE = "xuc.auth.v1.Auth"
Metadata = tuple[tuple[str, str], ...]
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
CLIENT_ADDRESS = "203.0.113.7"


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def user_spec(login: str, password: str = "s3cret-pw", **profile: str) -> auth_pb2.CreateUserRequest:
    return auth_pb2.CreateUserRequest(login=login, password=password, **profile)


@dataclass
class AuthClient:
    """The generated stub, plus the service token's metadata and the few calls most tests need."""

    stub: auth_pb2_grpc.AuthStub
    service: Metadata  # x-xuc-service-token: <the service token>

    async def create_user(self, login: str, password: str = "s3cret-pw", **profile: str) -> auth_pb2.User:
        user: auth_pb2.User = await self.stub.CreateUser(user_spec(login, password, **profile), metadata=self.service)
        return user

    async def login(self, login: str, password: str) -> auth_pb2.TokenReply:
        request = auth_pb2.LoginRequest(login=login, password=password, client_address=CLIENT_ADDRESS,
                                        software_type="tests", application_type="integration")
        reply: auth_pb2.TokenReply = await self.stub.Login(request, metadata=self.service)
        return reply

    async def check(self, token: str) -> auth_pb2.TokenReply:
        reply: auth_pb2.TokenReply = await self.stub.Check(auth_pb2.CheckRequest(), metadata=bearer(token))
        return reply

    async def get_user(self, login: str) -> auth_pb2.User:
        user: auth_pb2.User = await self.stub.GetUser(auth_pb2.GetUserRequest(login=login), metadata=self.service)
        return user

    async def logins(self) -> list[str]:
        reply = await self.stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=self.service)
        return [user.login for user in reply.users]

    async def public_keys(self) -> auth_pb2.PublicKeySet:
        keys: auth_pb2.PublicKeySet = await self.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(),
                                                                    metadata=self.service)
        return keys

    async def verifier(self) -> TokenVerifier:
        """A verifier holding what GetPublicKeys publishes, as any other component would build it."""
        keys = await self.public_keys()
        return TokenVerifier(keys.issuer, [load_public_key(key.pem) for key in keys.keys])


def client_for(channel: grpc.aio.Channel, service: ServiceProcess) -> AuthClient:
    return AuthClient(auth_pb2_grpc.AuthStub(channel), (("x-xuc-service-token", service.service_token),))


@asynccontextmanager
async def two_replicas(service_launcher: ServiceLauncher,
                       database_factory: DatabaseFactory) -> AsyncIterator[tuple[AuthClient, AuthClient]]:
    """Two auth processes on one new database (as `xuc up --replicas 2` runs them), a client of each."""
    database = database_factory.create()
    one = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url)
    other = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url,
                                    data_dir=one.data_dir, service_token=one.service_token)
    async with grpc.aio.insecure_channel(one.grpc_address) as first_channel, \
            grpc.aio.insecure_channel(other.grpc_address) as second_channel:
        yield client_for(first_channel, one), client_for(second_channel, other)


@pytest.fixture
async def channel(auth_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as opened:
        yield opened


@pytest.fixture
def auth(channel: grpc.aio.Channel, auth_service: ServiceProcess) -> AuthClient:
    return client_for(channel, auth_service)


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --- the process and its standard services ---------------------------------------------------------
async def test_health_and_reflection(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", AUTH_SERVICE):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    unknown = health.Check(health_pb2.HealthCheckRequest(service="xuc.nothing.v1.Nothing"))
    assert (await rpc_error(unknown)).code() == grpc.StatusCode.NOT_FOUND

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    responses = [response async for response in reflection.ServerReflectionInfo(requests)]
    assert len(responses) == 1
    listed = {service.name for service in responses[0].list_services_response.service}
    assert {AUTH_SERVICE, "grpc.health.v1.Health"} <= listed


def test_migrations_create_the_tables_in_the_given_database(
    auth_service: ServiceProcess, module_database: TestDatabase
) -> None:
    # For PostgreSQL this is the test's own schema: the service followed the URL's search_path.
    assert {"auth_users", "auth_alembic_version"} <= module_database.table_names()


async def test_the_signing_key_is_kept_in_the_database_and_published(
    auth: AuthClient, auth_service: ServiceProcess, module_database: TestDatabase
) -> None:
    # Shared by every replica through the database (tests/integration/test_signing_keys.py), no key file.
    assert "auth_signing_keys" in module_database.table_names()
    assert not (auth_service.data_dir / "auth" / "signing-key.pem").exists()
    keys = await auth.public_keys()
    assert [(key.kid, key.algorithm) for key in keys.keys] == [(key_id(load_public_key(keys.keys[0].pem)), "ES256")]


# --- user administration -------------------------------------------------------------------------
async def test_put_users_reports_created_then_unchanged_then_updated(auth: AuthClient) -> None:
    ann, bob = unique_login("ann"), unique_login("bob")
    batch = [user_spec(ann, "ann-pw", firstname="Ann", line="1001"), user_spec(bob, "bob-pw", lastname="Bee")]

    created = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [(result.user.login, result.outcome) for result in created.results] == [(ann, "created"), (bob, "created")]
    ids = [result.user.id for result in created.results]
    assert all(ids)
    assert len(set(ids)) == 2

    again = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [(result.user.id, result.outcome) for result in again.results] == [(ids[0], "unchanged"),
                                                                               (ids[1], "unchanged")]

    changed = [user_spec(ann, "ann-pw", firstname="Anna", line="1001"),  # profile changed
               user_spec(bob, "bob-new-pw", lastname="Bee")]  # password changed
    updated = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=changed), metadata=auth.service)
    assert [(result.user.id, result.outcome) for result in updated.results] == [(ids[0], "updated"),
                                                                                 (ids[1], "updated")]

    stored_ann = await auth.get_user(ann)
    assert (stored_ann.firstname, stored_ann.line) == ("Anna", "1001")
    assert (await auth.login(bob, "bob-new-pw")).login == bob
    assert await refusal(auth.stub.Login(auth_pb2.LoginRequest(login=bob, password="bob-pw"), metadata=auth.service)) \
        == (UNAUTHENTICATED, "InvalidCredentials")


@pytest.mark.parametrize(
    "invalid",
    [{"login": "bad login"}, {"password": ""}, {"line": "not a number"}],
    ids=["login-with-space", "empty-password", "bad-line"],
)
async def test_put_users_refuses_a_batch_with_an_invalid_user_and_creates_none(
    auth: AuthClient, invalid: dict[str, str]
) -> None:
    valid, other = unique_login("valid"), unique_login("other")
    fields = {"login": other, "password": "pw", **invalid}
    batch = [user_spec(valid), auth_pb2.CreateUserRequest(**fields)]
    before = await auth.logins()

    refused = auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert await refusal(refused) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidUser")

    assert await auth.logins() == before
    assert await refusal(auth.stub.GetUser(auth_pb2.GetUserRequest(login=valid), metadata=auth.service)) \
        == (grpc.StatusCode.NOT_FOUND, "UserNotFound")


async def test_user_administration(auth: AuthClient) -> None:
    login = unique_login("carol")
    created = await auth.create_user(login, "carol-pw", firstname="Carol", lastname="Sea", line="1002",
                                     mobile="+33600000000")
    assert created.id
    assert created.login == login

    duplicate = auth.stub.CreateUser(user_spec(login, "other-pw"), metadata=auth.service)
    assert await refusal(duplicate) == (grpc.StatusCode.ALREADY_EXISTS, "UserAlreadyExists")
    assert await auth.get_user(login) == created

    # Only the fields set change; an explicitly empty field is cleared.
    update = auth_pb2.UpdateUserRequest(login=login, firstname="Caroline")
    updated = await auth.stub.UpdateUser(update, metadata=auth.service)
    assert updated == auth_pb2.User(id=created.id, login=login, firstname="Caroline", lastname="Sea", line="1002",
                                    mobile="+33600000000")
    assert await auth.get_user(login) == updated
    assert (await auth.login(login, "carol-pw")).login == login  # the password did not change
    cleared = await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, mobile=""), metadata=auth.service)
    assert (cleared.firstname, cleared.mobile) == ("Caroline", "")

    missing = unique_login("missing")
    for refused in (
        auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=missing, firstname="X"), metadata=auth.service),
        auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=missing), metadata=auth.service),
    ):
        assert await refusal(refused) == (grpc.StatusCode.NOT_FOUND, "UserNotFound")

    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=auth.service)
    assert await refusal(auth.stub.GetUser(auth_pb2.GetUserRequest(login=login), metadata=auth.service)) \
        == (grpc.StatusCode.NOT_FOUND, "UserNotFound")
    assert login not in await auth.logins()


async def test_list_users_is_sorted_by_login(auth: AuthClient) -> None:
    suffix = unique_login("")
    mine = [f"{prefix}{suffix}" for prefix in ("zed", "amy", "mia", "amx")]
    for login in mine:
        await auth.create_user(login)
    logins = await auth.logins()
    assert logins == sorted(logins)
    assert [login for login in logins if login in mine] == sorted(mine)


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


async def test_login_attempts_are_published_without_secrets(auth: AuthClient, js: JetStreamContext) -> None:
    # A login with characters that are not allowed in a subject token: "." and "@" are encoded.
    login = f"frank.{unique_login('')}@example.com"
    password, wrong_password = "frank-correct-horse", "frank-wrong-horse"
    user = await auth.create_user(login, password)
    good = await auth.login(login, password)
    await rpc_error(auth.login(login, wrong_password))

    messages = await stored_messages(js, subjects.LOGIN_ATTEMPTED.for_key(login), count=2)

    expected_subject = "xuc.auth.login." + login.replace(".", "~2E").replace("@", "~40")
    assert [message.subject for message in messages] == [expected_subject] * 2
    assert subjects.LOGIN_ATTEMPTED.key_of(expected_subject) == login
    success, failure = (auth_events_pb2.LoginAttempted.FromString(message.data) for message in messages)
    assert (success.login, success.success, success.user_id, success.reason) == (login, True, user.id, "")
    assert (failure.login, failure.success, failure.user_id, failure.reason) == (login, False, "",
                                                                                 "InvalidCredentials")
    for event in (success, failure):
        assert (event.method, event.client_address, event.software_type, event.application_type) \
            == ("password", CLIENT_ADDRESS, "tests", "integration")
        assert abs(event.occurred_at.ToSeconds() - time.time()) < 60
    secrets_ = [password, wrong_password, good.token, *good.token.split(".")]
    for message in messages:
        assert message.headers is not None
        assert message.headers["Xuc-Event-Type"] == "xuc.events.v1.LoginAttempted"
        raw = message.data + json.dumps(message.headers).encode()
        leaked = [secret for secret in secrets_ if secret.encode() in raw]
        assert not leaked, f"a secret is in the event on {message.subject}"


async def test_user_changes_are_published(auth: AuthClient, js: JetStreamContext) -> None:
    login = unique_login("gina")
    user = await auth.create_user(login, "gina-pw")
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, lastname="Gee"), metadata=auth.service)
    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=auth.service)

    messages = await stored_messages(js, subjects.USER_CHANGED.for_key(login), count=3)

    assert {message.subject for message in messages} == {f"xuc.auth.user.{login}"}
    assert [(message.headers or {}).get("Xuc-Event-Type") for message in messages] \
        == ["xuc.events.v1.UserChanged"] * 3
    events = [auth_events_pb2.UserChanged.FromString(message.data) for message in messages]
    assert [(event.login, event.user_id, event.change) for event in events] == [
        (login, user.id, "created"), (login, user.id, "updated"), (login, user.id, "deleted")
    ]


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


# --- who may call what -----------------------------------------------------------------------------
SERVICE_ONLY_CALLS: Sequence[tuple[str, Any]] = [
    ("Login", auth_pb2.LoginRequest(login="x", password="y")),
    ("GetPublicKeys", auth_pb2.GetPublicKeysRequest()),
    ("ListRevocations", auth_pb2.ListRevocationsRequest()),
    ("CreateUser", user_spec("intruder")),
    ("UpdateUser", auth_pb2.UpdateUserRequest(login="x", firstname="y")),
    ("PutUsers", auth_pb2.PutUsersRequest(users=[user_spec("intruder")])),
    ("DeleteUser", auth_pb2.DeleteUserRequest(login="x")),
    ("GetUser", auth_pb2.GetUserRequest(login="x")),
    ("ListUsers", auth_pb2.ListUsersRequest()),
]


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


# --- lifecycle ---------------------------------------------------------------------------------------
async def test_a_restart_keeps_users_signing_key_and_tokens(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory
) -> None:
    database = database_factory.create()
    first = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url)
    async with grpc.aio.insecure_channel(first.grpc_address) as channel:
        before = client_for(channel, first)
        login = unique_login("leo")
        user = await before.create_user(login, "leo-pw", firstname="Leo")
        token = (await before.login(login, "leo-pw")).token
        kid = (await before.public_keys()).keys[0].kid

    stopped_in = await asyncio.to_thread(first.stop)  # SIGTERM; asserts exit code 0
    assert stopped_in < 5.0

    second = await asyncio.to_thread(
        service_launcher.start, "services.auth", "auth", database_url=database.url,
        data_dir=first.data_dir, service_token=first.service_token,
    )
    assert second.ready["pid"] != first.ready["pid"]
    async with grpc.aio.insecure_channel(second.grpc_address) as channel:
        after = client_for(channel, second)
        assert await after.get_user(login) == user
        assert [key.kid for key in (await after.public_keys()).keys] == [kid]
        assert (await after.check(token)).login == login
        assert (await after.login(login, "leo-pw")).login == login


async def test_a_password_changed_or_a_user_deleted_on_one_replica_is_seen_by_the_other_at_once(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory
) -> None:
    """docs/auth.md, "Repeated logins": a replica remembers the passwords it verified (XUC_LOGIN_CACHE_S,
    on by default), keyed by the stored hash, which every login reads from the database."""
    async with two_replicas(service_launcher, database_factory) as (first, second):
        login = unique_login("rita")
        await first.create_user(login, "first-password")
        for _ in range(3):  # the first verified by Argon2, the others remembered
            assert (await second.login(login, "first-password")).login == login
        assert await refusal(second.login(login, "First-password")) == (UNAUTHENTICATED, "InvalidCredentials")

        await first.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, password="second-password"),
                                    metadata=first.service)
        assert await refusal(second.login(login, "first-password")) == (UNAUTHENTICATED, "InvalidCredentials")
        assert (await second.login(login, "second-password")).login == login

        await first.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=first.service)
        assert await refusal(second.login(login, "second-password")) == (UNAUTHENTICATED, "InvalidCredentials")


async def _check_error(auth: AuthClient, token: str) -> grpc.aio.AioRpcError | None:
    """The error Check answers with `token`, or None if it accepts it."""
    try:
        await auth.check(token)
    except grpc.aio.AioRpcError as error:
        return error
    return None


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


async def test_a_huge_login_does_not_break_event_publishing(
    service_launcher: ServiceLauncher, tmp_path: Path, js: JetStreamContext
) -> None:
    # The login's subject token would exceed NATS's 4 KiB control line: the server would close the
    # connection for good (nats-py does not reconnect after such an error). Own process: if this
    # regresses, the shared service's events are not lost for the other tests.
    service = await asyncio.to_thread(service_launcher.start, "services.auth", "auth",
                                      database_url=f"sqlite:///{tmp_path / 'auth.db'}")
    async with grpc.aio.insecure_channel(service.grpc_address) as channel:
        auth = client_for(channel, service)
        assert await refusal(auth.login("é" * 700, "whatever")) == (UNAUTHENTICATED, "InvalidCredentials")
        login = unique_login("after")
        await auth.create_user(login)
        await stored_messages(js, subjects.USER_CHANGED.for_key(login), count=1, within=3.0)
    await asyncio.to_thread(service.stop)  # and it still exits cleanly


# --- regressions: bugs found by these tests, fixed ----------------------------------------------------
async def _outcome(call: Any) -> Any:
    """What a call answered: its reply, or its AioRpcError."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return error


async def test_a_33_character_phone_number_is_stored_or_refused_but_not_an_internal_error(auth: AuthClient) -> None:
    line = "+" + "1" * 32
    outcome = await _outcome(auth.stub.CreateUser(user_spec(unique_login("long"), line=line), metadata=auth.service))
    if isinstance(outcome, grpc.aio.AioRpcError):
        assert (outcome.code(), reason_of(outcome)) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidUser")
    else:
        assert (await auth.get_user(outcome.login)).line == line


async def test_a_put_users_cut_short_by_its_deadline_leaves_nothing_behind(auth: AuthClient) -> None:
    # Hashing a new user's password takes ~0.1 s: the deadline cancels the batch part-way through.
    batch = [user_spec(unique_login("cut")) for _ in range(12)]
    cut_short = await _outcome(auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service,
                                                  timeout=0.5))
    assert isinstance(cut_short, grpc.aio.AioRpcError), "the batch finished before its deadline: make it longer"
    assert cut_short.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    again = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [result.outcome for result in again.results] == ["created"] * len(batch)


async def test_sigterm_while_nats_is_down_exits_cleanly(tmp_path: Path) -> None:
    nats_server = NatsServer.start(tmp_path / "nats")
    try:
        with ServiceLauncher(nats_server.url, tmp_path) as launcher:
            service = await asyncio.to_thread(launcher.start, "services.auth", "auth",
                                              database_url=f"sqlite:///{tmp_path / 'auth.db'}")
            nats_server.stop()
            await asyncio.to_thread(wait_for, lambda: "NATS disconnected" in service.log(), 10.0,
                                    "the service to notice that NATS is gone")
            await asyncio.to_thread(service.stop)
    finally:
        nats_server.stop()
