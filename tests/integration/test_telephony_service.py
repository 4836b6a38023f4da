"""The telephony service as a real process with the PBX simulator: gRPC on loopback, a real auth
process (users and their lines, tokens), a real nats-server (events), SQLite and PostgreSQL.

Tests share one telephony process per database backend and stay independent with users and line
numbers of their own. The ring timeout is short (1 s) so that a missed call is quick to play.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, unique_login
from xuc import subjects
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.events.v1 import auth_events_pb2
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

PASSWORD = "telephony-pw"
NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
RING_TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module")
def telephony_service(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    database: TestDatabase = database_factory.create()
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony")) as launcher:
        yield launcher.start("services.telephony", "telephony", database_url=database.url,
                             service_token=auth_service.service_token,
                             extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address,
                                        "XUC_SIM_RING_TIMEOUT": str(RING_TIMEOUT_SECONDS)})


@dataclass
class User:
    login: str
    line: str
    user_id: str
    metadata: tuple[tuple[str, str], ...]  # the user's own token


@dataclass
class Telephony:
    stub: telephony_pb2_grpc.TelephonyStub
    simulator: telephony_pb2_grpc.SimulatorStub
    service: tuple[tuple[str, str], ...]  # the service token
    auth: auth_pb2_grpc.AuthStub
    channel: grpc.aio.Channel

    async def new_user(self, line: bool = True) -> User:
        login, number = unique_login("tel"), f"7{secrets.randbelow(10**7):07d}" if line else ""
        created = await self.auth.CreateUser(auth_pb2.CreateUserRequest(
            login=login, password=PASSWORD, firstname="Test", lastname=login, line=number), metadata=self.service)
        token = await self.auth.Login(auth_pb2.LoginRequest(login=login, password=PASSWORD), metadata=self.service)
        user = User(login, number, created.id, (("authorization", f"Bearer {token.token}"),))
        if line:  # the telephony service learns users from auth's events: wait until it knows this one
            for _ in range(100):
                if (await self.statuses(number))[number] != -2:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"telephony never learnt the line of {login}")
        return user

    async def statuses(self, *numbers: str) -> dict[str, int]:
        reply = await self.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=numbers), metadata=self.service)
        return dict(reply.statuses)

    async def dial(self, user: User, number: str) -> pb.DialReply:
        reply: pb.DialReply = await self.stub.Dial(pb.DialRequest(username=user.login, number=number),
                                                   metadata=self.service)
        return reply

    async def act(self, action: str, number: str) -> pb.SimulatedCall:
        call: pb.SimulatedCall = await getattr(self.simulator, action)(pb.CallAction(number=number),
                                                                      metadata=self.service)
        return call

    async def history(self, user: User, size: int = 0, days: int = 0, count: int = 0) -> list[tuple[str, str, str]]:
        """The user's history; with `count`, once it holds that many calls (calls are recorded
        when the PBX's release events have been handled, just after the hang-up answers)."""
        deadline = time.monotonic() + 30.0  # a generous wait for the calls, not a bound
        while True:
            reply = await self.stub.GetHistory(pb.GetHistoryRequest(username=user.login, size=size, days=days),
                                               metadata=self.service)
            if len(reply.calls) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return [(call.src_username, call.dst_username, call.status) for call in reply.calls]


@asynccontextmanager
async def telephony_client(telephony: ServiceProcess, auth: ServiceProcess) -> AsyncIterator[Telephony]:
    async with grpc.aio.insecure_channel(telephony.grpc_address) as channel, \
            grpc.aio.insecure_channel(auth.grpc_address) as auth_channel:
        yield Telephony(telephony_pb2_grpc.TelephonyStub(channel), telephony_pb2_grpc.SimulatorStub(channel),
                        (("x-xuc-service-token", telephony.service_token),),
                        auth_pb2_grpc.AuthStub(auth_channel), channel)


@pytest.fixture
async def telephony(telephony_service: ServiceProcess, auth_service: ServiceProcess) -> AsyncIterator[Telephony]:
    async with telephony_client(telephony_service, auth_service) as client:
        yield client


class Events:
    """Everything published on some subjects from now on, decoded."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []

    async def received(self, message: Msg) -> None:
        self.messages.append(message)

    async def wait(self, count: int, kind: type[Message], within: float = 5.0) -> list[Any]:
        for _ in range(int(within / 0.02)):
            if len(self.messages) >= count:
                break
            await asyncio.sleep(0.02)
        return [kind.FromString(message.data) for message in self.messages]


async def listen(nats_client: NatsClient, *subject_list: str) -> Events:
    seen = Events()
    for subject in subject_list:
        await nats_client.subscribe(subject, cb=seen.received)
    await nats_client.flush()
    return seen


def phone_events(decoded: list[events.PhoneEvent]) -> list[tuple[str, str, str]]:
    return [(event.event_type, event.dn, event.other_dn) for event in decoded]


# --- click-to-call -------------------------------------------------------------------------------
async def test_dial_rings_the_callee_and_publishes_phone_events_and_statuses(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events = await listen(nats_client, subjects.PHONE_EVENT.for_key(alice.login))
    bob_events = await listen(nats_client, subjects.PHONE_EVENT.for_key(bob.login))
    statuses = await listen(nats_client, subjects.PHONE_STATUS.for_key(alice.login),
                            subjects.PHONE_STATUS.for_key(bob.login))

    reply = await telephony.dial(alice, bob.line)

    [dialing] = await alice_events.wait(1, events.PhoneEvent)
    [ringing] = await bob_events.wait(1, events.PhoneEvent)
    assert (dialing.event_type, dialing.dn, dialing.other_dn, dialing.username) == (
        "EventDialing", alice.line, bob.line, alice.login)
    assert (ringing.event_type, ringing.dn, ringing.other_dn) == ("EventRinging", bob.line, alice.line)
    assert dialing.linked_id == ringing.linked_id == reply.linked_id
    assert dialing.unique_id == reply.unique_id != ringing.unique_id
    assert dialing.user_data["XIVO_USERID"] == alice.user_id
    assert sorted((s.username, s.status) for s in await statuses.wait(2, events.PhoneStatusChanged)) == sorted(
        [(alice.login, 1), (bob.login, 8)])
    assert await telephony.statuses(alice.line, bob.line, "0612345678") == {
        alice.line: 1, bob.line: 8, "0612345678": -2}

    await telephony.act("Answer", bob.line)
    await telephony.act("Hangup", alice.line)
    assert phone_events(await alice_events.wait(3, events.PhoneEvent)) == [
        ("EventDialing", alice.line, bob.line), ("EventEstablished", alice.line, bob.line),
        ("EventReleased", alice.line, bob.line)]
    assert [e[0] for e in phone_events(await bob_events.wait(3, events.PhoneEvent))] == [
        "EventRinging", "EventEstablished", "EventReleased"]
    assert await telephony.statuses(alice.line, bob.line) == {alice.line: 0, bob.line: 0}
    assert await telephony.history(alice, size=10, count=1) == [(alice.login, bob.login, "emitted")]
    assert await telephony.history(bob, days=1, count=1) == [(alice.login, bob.login, "answered")]


async def test_an_unanswered_call_is_missed_after_the_ring_timeout(telephony: Telephony) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    await telephony.dial(alice, f"{bob.line[:2]} {bob.line[2:]}")  # sanitised to the line
    # recorded once the ring timeout ended the call (history waits for it)
    assert await telephony.history(bob, size=5, count=1) == [(alice.login, bob.login, "missed")]


async def test_dial_by_username_and_to_an_external_number(telephony: Telephony) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    reply = await telephony.stub.DialByUsername(pb.DialByUsernameRequest(username=alice.login,
                                                                         target_username=bob.login),
                                                metadata=telephony.service)
    assert reply.number == bob.line
    await telephony.act("Hangup", bob.line)
    external = await telephony.dial(alice, "+33 (0)1 23 45 67 89")
    assert external.number == "0033123456789"
    await telephony.act("Answer", "0033123456789")
    await telephony.act("Hangup", alice.line)
    assert await telephony.history(alice, size=5, count=2) == [
        (alice.login, "0033123456789", "emitted"), (alice.login, bob.login, "emitted")]


async def test_dial_errors(telephony: Telephony) -> None:
    alice, lineless = await telephony.new_user(), await telephony.new_user(line=False)
    assert await refusal(telephony.dial(User("nobody-here", "", "", ()), "1002")) == (NOT_FOUND, "UserNotFound")
    assert await refusal(telephony.dial(lineless, "1002")) == (NOT_FOUND, "UserNotFound")
    assert await refusal(telephony.dial(alice, "call me")) == (INVALID, "InvalidNumber")
    request = pb.DialByUsernameRequest(username=alice.login, target_username="nobody-here")
    assert await refusal(telephony.stub.DialByUsername(request, metadata=telephony.service)) == (
        NOT_FOUND, "UserNotFound")
    queue_call = pb.DialFromQueueRequest(destination="1002", queue_id=999_999)
    assert await refusal(telephony.stub.DialFromQueue(queue_call, metadata=telephony.service)) == (
        NOT_FOUND, "QueueNotFound")


# --- user services -------------------------------------------------------------------------------
async def test_dnd_and_forwards_are_stored_and_published(telephony: Telephony, nats_client: NatsClient) -> None:
    alice = await telephony.new_user()
    changes = await listen(nats_client, subjects.USER_SERVICES.for_key(alice.login))
    await telephony.stub.SetDnd(pb.SetDndRequest(username=alice.login, state=True), metadata=telephony.service)
    await telephony.stub.SetForward(pb.SetForwardRequest(username=alice.login, kind=pb.FORWARD_NO_ANSWER,
                                                         state=True, destination="1002"), metadata=telephony.service)
    services = await telephony.stub.GetUserServices(pb.GetUserServicesRequest(username=alice.login),
                                                    metadata=telephony.service)
    assert (services.dnd, services.no_answer.enabled, services.no_answer.destination,
            services.unconditional.enabled) == (True, True, "1002", False)
    published = await changes.wait(2, events.UserServicesChanged)
    assert [(e.dnd, e.no_answer_enabled, e.no_answer_destination) for e in published] == [
        (True, False, ""), (True, True, "1002")]
    bad = pb.SetForwardRequest(username=alice.login, kind=pb.FORWARD_BUSY, state=True, destination="")
    assert await refusal(telephony.stub.SetForward(bad, metadata=telephony.service)) == (INVALID, "InvalidRequest")
    no_kind = pb.SetForwardRequest(username=alice.login, state=True, destination="1002")
    assert await refusal(telephony.stub.SetForward(no_kind, metadata=telephony.service)) == (
        INVALID, "InvalidRequest")


async def test_a_line_in_dnd_is_not_rung(telephony: Telephony, nats_client: NatsClient) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    await telephony.stub.SetDnd(pb.SetDndRequest(username=bob.login, state=True), metadata=telephony.service)
    bob_events = await listen(nats_client, subjects.PHONE_EVENT.for_key(bob.login))
    await telephony.dial(alice, bob.line)
    # A later call once DND is off, waited for: bob's events are in order, so one of the first call
    # would have come before this one's.
    await telephony.stub.SetDnd(pb.SetDndRequest(username=bob.login, state=False), metadata=telephony.service)
    marker = await telephony.dial(await telephony.new_user(), bob.line)
    [ringing] = await bob_events.wait(1, events.PhoneEvent, within=30.0)
    assert (ringing.event_type, ringing.linked_id) == ("EventRinging", marker.linked_id)


# --- agents and queues ---------------------------------------------------------------------------
async def test_agents_log_in_pause_and_log_out(telephony: Telephony, nats_client: NatsClient) -> None:
    alice = await telephony.new_user()
    agent, queue_id = f"8{secrets.randbelow(10**6):06d}", secrets.randbelow(10**9) + 1
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        agents=[pb.AgentSpec(number=agent, username=alice.login)],
        queues=[pb.QueueSpec(id=queue_id, name="support", number="3000", agents=[agent])]),
        metadata=telephony.service)
    states = await listen(nats_client, subjects.AGENT_STATE.for_key(alice.login))

    login = await telephony.stub.AgentLogin(pb.AgentLoginRequest(agent_number=agent, phone_number=alice.line),
                                            metadata=telephony.service)
    assert (login.status, login.phone_number, list(login.queue_ids)) == (pb.READY, alice.line, [queue_id])
    paused = await telephony.stub.TogglePause(pb.TogglePauseRequest(phone_number=alice.line),
                                              metadata=telephony.service)
    ready = await telephony.stub.TogglePause(pb.TogglePauseRequest(phone_number=alice.line),
                                             metadata=telephony.service)
    out = await telephony.stub.AgentLogout(pb.AgentLogoutRequest(phone_number=alice.line),
                                           metadata=telephony.service)
    assert (paused.status, ready.status, out.status) == (pb.PAUSED, pb.READY, pb.LOGGED_OUT)
    published = await states.wait(4, events.AgentStateChanged)
    assert [(e.state, e.agent_number) for e in published] == [
        ("Ready", agent), ("Paused", agent), ("Ready", agent), ("LoggedOut", agent)]

    unknown = pb.AgentLoginRequest(agent_number="no-such-agent", phone_number=alice.line)
    assert await refusal(telephony.stub.AgentLogin(unknown, metadata=telephony.service)) == (
        NOT_FOUND, "AgentNotFound")
    nobody = pb.TogglePauseRequest(phone_number=alice.line)
    assert await refusal(telephony.stub.TogglePause(nobody, metadata=telephony.service)) == (
        NOT_FOUND, "AgentNotFound")
    inconsistent = pb.PutAgentsAndQueuesRequest(queues=[pb.QueueSpec(id=1, name="q", number="3000",
                                                                     agents=["ghost"])])
    assert await refusal(telephony.stub.PutAgentsAndQueues(inconsistent, metadata=telephony.service)) == (
        INVALID, "InvalidQueues")


async def test_queues_and_a_users_agents_are_listed_to_services_and_to_the_user(telephony: Telephony) -> None:
    alice, bob = await telephony.new_user(line=False), await telephony.new_user(line=False)
    first, second, bobs = (f"8{secrets.randbelow(10**6):06d}" for _ in range(3))
    queue_a, queue_b = sorted(secrets.randbelow(10**9) + 1 for _ in range(2))
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        agents=[pb.AgentSpec(number=first, username=alice.login), pb.AgentSpec(number=second, username=alice.login),
                pb.AgentSpec(number=bobs, username=bob.login)],
        queues=[pb.QueueSpec(id=queue_b, name="sales", number="3001", agents=[second, bobs]),
                pb.QueueSpec(id=queue_a, name="support", number="3000", agents=[first])]),
        metadata=telephony.service)

    for metadata in (telephony.service, alice.metadata):
        queues = await telephony.stub.ListQueues(pb.ListQueuesRequest(), metadata=metadata)
        assert [(queue.id, queue.name, queue.number, list(queue.agents)) for queue in queues.queues] == [
            (queue_a, "support", "3000", [first]), (queue_b, "sales", "3001", [second, bobs])]
    by_service = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username=alice.login),
                                                     metadata=telephony.service)
    by_herself = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(), metadata=alice.metadata)
    named = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username=alice.login),
                                                metadata=alice.metadata)
    assert by_service == by_herself == named
    assert sorted((agent.agent_number, agent.username, list(agent.queue_ids)) for agent in by_service.agents) == \
        sorted([(first, alice.login, [queue_a]), (second, alice.login, [queue_b])])
    nobody = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username="no-agent-here"),
                                                 metadata=telephony.service)
    assert list(nobody.agents) == []

    others = pb.ListUserAgentsRequest(username=bob.login)
    assert await refusal(telephony.stub.ListUserAgents(others, metadata=alice.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")
    assert await refusal(telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(), metadata=telephony.service)) == (
        INVALID, "InvalidRequest")


# --- handshake, push, history rules --------------------------------------------------------------
async def test_handshake_republishes_every_status(telephony: Telephony, nats_client: NatsClient) -> None:
    alice = await telephony.new_user()
    statuses = await listen(nats_client, subjects.PHONE_STATUS.for_key(alice.login))
    reply = await telephony.stub.Handshake(pb.HandshakeRequest(), metadata=telephony.service)
    assert reply.published >= 1
    [status] = await statuses.wait(1, events.PhoneStatusChanged)
    assert (status.username, status.number, status.status, status.handshake) == (alice.login, alice.line, 0, True)


async def test_a_ringing_line_requests_a_push_for_each_registration(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    for platform, token in ((pb.ANDROID, "old"), (pb.ANDROID, "android-token"), (pb.IOS, "ios-token")):
        await telephony.stub.RegisterPush(pb.RegisterPushRequest(platform=platform, token=token),
                                          metadata=bob.metadata)
    pushes = await listen(nats_client, subjects.PUSH_REQUESTED.for_key(bob.login))
    await telephony.dial(alice, bob.line)
    requested = await pushes.wait(2, events.PushRequested)
    assert sorted((p.platform, p.token, p.caller_number) for p in requested) == [
        ("android", "android-token", alice.line), ("ios", "ios-token", alice.line)]
    await telephony.act("Hangup", bob.line)

    empty = pb.RegisterPushRequest(platform=pb.IOS, token=" ")
    assert await refusal(telephony.stub.RegisterPush(empty, metadata=bob.metadata)) == (INVALID, "JsonBodyNotFound")
    by_service = pb.RegisterPushRequest(platform=pb.IOS, token="x")
    assert await refusal(telephony.stub.RegisterPush(by_service, metadata=telephony.service)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")


async def test_history_needs_exactly_one_bound(telephony: Telephony) -> None:
    alice = await telephony.new_user()
    for size, days in ((0, 0), (5, 5), (-1, 0), (100_000, 0)):
        assert await refusal(telephony.history(alice, size, days)) == (INVALID, "InvalidRequest"), (size, days)
    assert await refusal(telephony.history(User("nobody-here", "", "", ()), 5)) == (NOT_FOUND, "UserNotFound")


# --- the edge ------------------------------------------------------------------------------------
async def test_callers_need_credentials_of_the_right_kind(telephony: Telephony) -> None:
    alice = await telephony.new_user()
    assert await refusal(telephony.stub.Handshake(pb.HandshakeRequest())) == (
        grpc.StatusCode.UNAUTHENTICATED, "AuthorizationHeaderNotFound")
    assert await refusal(telephony.stub.Handshake(pb.HandshakeRequest(), metadata=alice.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")
    reply = await telephony.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=[alice.line]),
                                                  metadata=alice.metadata)
    assert dict(reply.statuses) == {alice.line: 0}


async def test_pbx_state_and_health(telephony: Telephony) -> None:
    state = await telephony.stub.GetPbxState(pb.GetPbxStateRequest(), metadata=telephony.service)
    assert (state.kind, state.connected) == ("sim", True)
    health = health_pb2_grpc.HealthStub(telephony.channel)
    for service in ("xuc.telephony.v1.Telephony", "xuc.telephony.v1.Simulator", "xuc.telephony.v1.Pbx"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


# --- a restart ------------------------------------------------------------------------------------
async def test_services_push_registrations_and_history_survive_a_restart(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    service_launcher: ServiceLauncher, nats_client: NatsClient,
) -> None:
    database = database_factory.create()

    def start() -> ServiceProcess:
        return service_launcher.start("services.telephony", "telephony", database_url=database.url,
                                      service_token=auth_service.service_token,
                                      extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})

    first = await asyncio.to_thread(start)
    async with telephony_client(first, auth_service) as telephony:
        alice, bob = await telephony.new_user(), await telephony.new_user()
        await telephony.stub.SetForward(pb.SetForwardRequest(username=bob.login, kind=pb.FORWARD_BUSY, state=True,
                                                             destination="1002"), metadata=telephony.service)
        await telephony.stub.RegisterPush(pb.RegisterPushRequest(platform=pb.IOS, token="ios-token"),
                                          metadata=bob.metadata)
        await telephony.dial(alice, "0611223344")
        await telephony.act("Hangup", alice.line)
        assert await telephony.history(alice, size=5, count=1) == [(alice.login, "0611223344", "emitted")]
    await asyncio.to_thread(first.stop)

    second = await asyncio.to_thread(start)
    async with telephony_client(second, auth_service) as telephony:
        services = await telephony.stub.GetUserServices(pb.GetUserServicesRequest(username=bob.login),
                                                        metadata=telephony.service)
        assert (services.busy.enabled, services.busy.destination) == (True, "1002")
        assert await telephony.history(alice, size=5) == [(alice.login, "0611223344", "emitted")]
        pushes = await listen(nats_client, subjects.PUSH_REQUESTED.for_key(bob.login))
        await telephony.dial(alice, bob.line)
        [push] = await pushes.wait(1, events.PushRequested)
        assert (push.platform, push.token) == ("ios", "ios-token")


async def test_a_call_from_a_queue_rings_the_destination_with_the_given_caller_id(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice = await telephony.new_user()
    queue_id = secrets.randbelow(10**9) + 1
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        queues=[pb.QueueSpec(id=queue_id, name="sales", number="3001")]), metadata=telephony.service)
    ringing = await listen(nats_client, subjects.PHONE_EVENT.for_key(alice.login))

    reply = await telephony.stub.DialFromQueue(pb.DialFromQueueRequest(
        destination=alice.line, queue_id=queue_id, caller_id_name="Thomas", caller_id_number="999999",
        variables={"foo": "bar"}), metadata=telephony.service)

    [event] = await ringing.wait(1, events.PhoneEvent)
    assert (event.event_type, event.dn, event.other_dn, dict(event.user_data)) == (
        "EventRinging", alice.line, "999999", {"foo": "bar"})
    assert reply.number == alice.line
    await telephony.act("Hangup", alice.line)


async def test_a_forged_user_deleted_event_removes_nobody(telephony: Telephony, nats_client: NatsClient) -> None:
    """The review's attack: whoever could publish `UserChanged deleted` made telephony answer
    UserNotFound for a live user. The event now only says whom to read again from auth."""
    victim, witness = await telephony.new_user(), await telephony.new_user()
    forged = auth_events_pb2.UserChanged(login=victim.login, user_id=victim.user_id, change="deleted")
    await nats_client.jetstream().publish(subjects.USER_CHANGED.for_key(victim.login), forged.SerializeToString())
    # A real change published after the forgery: once telephony shows it, it has handled both, in order.
    moved = f"8{secrets.randbelow(10**7):07d}"
    await telephony.auth.UpdateUser(auth_pb2.UpdateUserRequest(login=witness.login, line=moved),
                                    metadata=telephony.service)
    for _ in range(200):
        if (await telephony.statuses(moved))[moved] != -2:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("telephony never learnt the witness's new line")
    assert (await telephony.statuses(victim.line))[victim.line] != -2
    assert (await telephony.dial(victim, "0123456789")).number == "0123456789"
