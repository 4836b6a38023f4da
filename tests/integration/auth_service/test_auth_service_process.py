"""The auth service as a real process: gRPC health and reflection, migrations, the signing key
kept and published, restarts, replicas sharing a database, and a clean exit while NATS is down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.auth_client import AUTH_SERVICE, UNAUTHENTICATED, AuthClient, client_for, two_replicas
from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import NatsServer, ServiceLauncher, ServiceProcess, wait_for
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc.security.tokens import key_id, load_public_key
from xucproto.auth.v1 import auth_pb2


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

    await asyncio.to_thread(first.stop)  # SIGTERM; asserts a clean exit (code 0)

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
