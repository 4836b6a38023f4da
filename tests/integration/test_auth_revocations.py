"""Revocation over the wire: auth's ListRevocations and UserChanged events as real processes answer
and publish them, and the follower every verifying process runs, against a real nats-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.support.auth_client import UNAUTHENTICATED, AuthClient, bearer, client_for, two_replicas
from tests.support.databases import DatabaseFactory
from tests.support.events import stored_messages
from tests.support.processes import NatsServer, ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, unique_login
from xuc import subjects
from xuc.errors import Unreachable
from xuc.runtime import nats
from xuc.runtime.revocations import RevocationFollower
from xuc.security.revocations import Revocations
from xucproto.auth.v1 import auth_pb2
from xucproto.events.v1 import auth_events_pb2

PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
WAIT_SECONDS = 30.0


@pytest.fixture
async def auth(auth_service: ServiceProcess) -> AsyncIterator[AuthClient]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as channel:
        yield client_for(channel, auth_service)


async def _revoked(auth: AuthClient) -> dict[str, int]:
    return {item.user_id: item.credentials_changed_at.ToMilliseconds()
            async for part in auth.stub.ListRevocations(auth_pb2.ListRevocationsRequest(), metadata=auth.service)
            for item in part.revocations}


async def test_password_changes_disables_and_deletes_are_listed(auth: AuthClient) -> None:
    changed, disabled, deleted, renamed = (unique_login(prefix) for prefix in ("pw", "off", "gone", "name"))
    users = {login: await auth.create_user(login) for login in (changed, disabled, deleted, renamed)}
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=changed, password="other-pw"), metadata=auth.service)
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=disabled, disabled=True), metadata=auth.service)
    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=deleted), metadata=auth.service)
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=renamed, firstname="Ren"), metadata=auth.service)

    revoked = await _revoked(auth)
    assert {users[login].id for login in (changed, disabled, deleted)} <= set(revoked)
    assert users[renamed].id not in revoked
    assert (await auth.get_user(disabled)).disabled is True


async def test_a_user_token_may_not_list_revocations(auth: AuthClient) -> None:
    login = unique_login("nosy")
    await auth.create_user(login)
    token = (await auth.login(login, "s3cret-pw")).token
    call = auth.stub.ListRevocations(auth_pb2.ListRevocationsRequest(), metadata=bearer(token))
    assert (await refusal(call))[0] == PERMISSION_DENIED


async def test_user_changed_events_carry_the_credentials_time(auth: AuthClient, nats_client: NatsClient) -> None:
    js: JetStreamContext = nats_client.jetstream()
    login = unique_login("evt")
    await auth.create_user(login)
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, firstname="Eve"), metadata=auth.service)
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, disabled=True), metadata=auth.service)

    messages = await stored_messages(js, subjects.USER_CHANGED.for_key(login), count=3)
    created, renamed, disabled = (auth_events_pb2.UserChanged.FromString(message.data) for message in messages)
    assert renamed.credentials_changed_at == created.credentials_changed_at  # a profile change moves nothing
    assert disabled.credentials_changed_at.ToMilliseconds() > created.credentials_changed_at.ToMilliseconds()
    assert (created.disabled, disabled.disabled) == (False, True)
    assert (await _revoked(auth))[disabled.user_id] == disabled.credentials_changed_at.ToMilliseconds()


async def test_the_other_auth_replica_refuses_at_once(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory
) -> None:
    async with two_replicas(service_launcher, database_factory) as (first, second):
        login = unique_login("rep")
        await first.create_user(login, "first-pw")
        token = (await second.login(login, "first-pw")).token
        assert (await second.check(token)).login == login  # the other replica now remembers the user

        await first.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, password="second-pw"),
                                    metadata=first.service)
        assert await refusal(second.check(token)) == (UNAUTHENTICATED, "InvalidToken")


# --- the follower ------------------------------------------------------------------------------------
async def _publish_change(js: JetStreamContext, user_id: str, changed_at_ms: int) -> None:
    event = auth_events_pb2.UserChanged(login="someone", user_id=user_id, change="updated")
    event.credentials_changed_at.FromMilliseconds(changed_at_ms)
    await js.publish(subjects.USER_CHANGED.for_key("someone"), event.SerializeToString())


async def _eventually_refused(revocations: Revocations, user_id: str, before_ms: int) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not revocations.refuses(user_id, before_ms - 1):  # noqa: ASYNC110 (a plain set: no event to await)
            await asyncio.sleep(0.01)


async def test_the_follower_learns_the_list_then_each_event(nats_client: NatsClient) -> None:
    js = nats_client.jetstream()
    await nats.ensure_stream(js, subjects.auth_stream())
    revocations = Revocations(3600)
    now_ms = int(time.time() * 1000)

    async def listed() -> list[tuple[str, int]]:
        return [("listed-user", now_ms)]

    follower = RevocationFollower(nats_client, revocations, listed)
    await follower.start(within=WAIT_SECONDS)
    try:
        assert revocations.refuses("listed-user", now_ms - 1)
        await _publish_change(js, "event-user", now_ms + 5)
        await _eventually_refused(revocations, "event-user", now_ms + 5)
        assert not revocations.refuses("event-user", now_ms + 5)
    finally:
        await follower.close()


async def test_the_follower_waits_for_auths_stream(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compose starts everything at once: a verifier may come up before auth has made its stream."""
    server = NatsServer.start(tmp_path_factory.mktemp("nats-empty"))
    connection = await nats.connect(server.url, name="revocation-follower")
    revocations = Revocations(3600)

    async def nothing_listed() -> list[tuple[str, int]]:
        return []

    follower = RevocationFollower(connection, revocations, nothing_listed)
    try:
        starting = asyncio.create_task(follower.start(within=WAIT_SECONDS))
        publisher = await nats.connect(server.url, name="auth")  # meanwhile the follower finds no stream
        js = publisher.jetstream()
        await nats.ensure_stream(js, subjects.auth_stream())
        await starting
        now_ms = int(time.time() * 1000)
        await _publish_change(js, "late-user", now_ms)
        await _eventually_refused(revocations, "late-user", now_ms)
        await publisher.close()
    finally:
        await follower.close()
        await connection.close()
        server.stop()


async def test_the_follower_gives_up_when_auth_never_answers(nats_client: NatsClient) -> None:
    await nats.ensure_stream(nats_client.jetstream(), subjects.auth_stream())

    async def unreachable() -> list[tuple[str, int]]:
        raise Unreachable("auth is down")

    follower = RevocationFollower(nats_client, Revocations(3600), unreachable)
    with pytest.raises(Unreachable):
        await follower.start(within=0.5)
    await follower.close()


async def test_the_follower_reloads_the_list_for_changes_whose_event_was_lost(nats_client: NatsClient) -> None:
    await nats.ensure_stream(nats_client.jetstream(), subjects.auth_stream())
    revocations = Revocations(3600)
    now_ms = int(time.time() * 1000)
    listed: list[tuple[str, int]] = []

    async def current_list() -> list[tuple[str, int]]:
        return list(listed)

    follower = RevocationFollower(nats_client, revocations, current_list, reload_seconds=0.05)
    await follower.start(within=WAIT_SECONDS)
    try:
        listed.append(("event-lost", now_ms))  # auth committed it; its event never came
        await _eventually_refused(revocations, "event-lost", now_ms)
    finally:
        await follower.close()


async def test_an_event_about_another_user_than_its_subject_is_ignored(nats_client: NatsClient) -> None:
    js = nats_client.jetstream()
    await nats.ensure_stream(js, subjects.auth_stream())
    revocations = Revocations(3600)

    async def nothing_listed() -> list[tuple[str, int]]:
        return []

    follower = RevocationFollower(nats_client, revocations, nothing_listed)
    await follower.start(within=WAIT_SECONDS)
    try:
        now_ms = int(time.time() * 1000)
        mismatched = auth_events_pb2.UserChanged(login="mallory", user_id="victim-id", change="deleted")
        mismatched.credentials_changed_at.FromMilliseconds(now_ms)
        await js.publish(subjects.USER_CHANGED.for_key("someone-else"), mismatched.SerializeToString())
        await _publish_change(js, "witness-id", now_ms)  # a sound event after it: once seen, both were read
        await _eventually_refused(revocations, "witness-id", now_ms)
        assert not revocations.refuses("victim-id", 0)
    finally:
        await follower.close()
