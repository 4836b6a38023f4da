"""The telephony service as a real process with XUC_PBX=ami://... against the scripted AMI server
(tests/support/ami_server.py), which runs in the tests' event loop: health and GetPbxState follow
the AMI connection, commands become AMI actions, AMI events become phone events on NATS, phone
statuses and call history, an outage is reported and recovered from, a bad secret is reported.

The module's tests share one event loop (the AMI server must outlive a test to serve a
module-wide telephony process). The happy-path tests share one telephony process and AMI server
(unique users and line numbers per test); the outage and the bad secret get their own of each.
Processes are started in a worker thread so that the AMI server keeps answering meanwhile.

The AMI back-off cannot be shortened from the environment (the composition root builds
`AmiPbx(settings.pbx)` with its defaults: 0.5 s doubling to 30 s), so the outage test keeps the
PBX away for ~1.5 s (one refused attempt) and allows for the default back-off when waiting for the
reconnection.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import nats
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.support.ami_server import (
    Chan,
    ScriptedAmiServer,
    bridge_enter,
    dial_begin,
    dial_end,
    hangup,
    newchannel,
    newstate,
)
from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import reason_of, refusal, rpc_error, unique_login
from xuc import subjects
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

T = TypeVar("T")

PBX_HEALTH = "xuc.telephony.v1.Pbx"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
AMI_USER = "xuc"
PASSWORD = "telephony-ami-pw"
# The AMI client's defaults, which the environment cannot change (see the module docstring).
BACKOFF_INITIAL_SECONDS = 0.5
RESYNC_ACTIONS = ("ExtensionStateList", "QueueStatus", "Status")
_ids = itertools.count(1)


def new_ami_server() -> ScriptedAmiServer:
    """A server with a secret of its own (distinctive: the tests check it never reaches a log)."""
    return ScriptedAmiServer(username=AMI_USER, secret=f"ami-{secrets.token_hex(8)}")


def launch(launcher: ServiceLauncher, auth: ServiceProcess, database_url: str, ami_url: str) -> ServiceProcess:
    return launcher.start("services.telephony", "telephony", database_url=database_url,
                          service_token=auth.service_token,
                          extra_env={"XUC_AUTH_ADDRESS": auth.grpc_address, "XUC_PBX": ami_url})


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float,
                     what: str) -> T:
    """The first result of `probe` that `accept`s, polled for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {within} s (last: {result!r})")
        await asyncio.sleep(0.02)


@dataclass
class User:
    login: str
    line: str
    user_id: str


@dataclass
class Telephony:
    """A client of one telephony process (service token), and of the auth service it trusts."""

    process: ServiceProcess
    stub: telephony_pb2_grpc.TelephonyStub
    simulator: telephony_pb2_grpc.SimulatorStub
    health_stub: health_pb2_grpc.HealthStub
    auth: auth_pb2_grpc.AuthStub
    service: tuple[tuple[str, str], ...]

    async def new_user(self) -> User:
        login, number = unique_login("ami"), f"6{secrets.randbelow(10**7):07d}"
        created = await self.auth.CreateUser(auth_pb2.CreateUserRequest(
            login=login, password=PASSWORD, firstname="Test", lastname=login, line=number), metadata=self.service)
        # telephony learns users from auth's events (and tells the AMI translator the new line at once)
        await eventually(lambda: self.statuses(number), lambda statuses: statuses[number] != -2, 5.0,
                         f"telephony learning the line of {login}")
        return User(login, number, created.id)

    async def statuses(self, *numbers: str) -> dict[str, int]:
        reply = await self.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=numbers), metadata=self.service)
        return dict(reply.statuses)

    async def pbx_state(self) -> pb.PbxState:
        state: pb.PbxState = await self.stub.GetPbxState(pb.GetPbxStateRequest(), metadata=self.service)
        return state

    async def health(self, service: str = PBX_HEALTH) -> int:
        reply = await self.health_stub.Check(health_pb2.HealthCheckRequest(service=service))
        return int(reply.status)

    async def wait_for_health(self, status: int, within: float = 30.0) -> None:
        await eventually(self.health, lambda current: current == status, within,
                         f"PBX health {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")

    async def dial(self, user: User, number: str, **variables: str) -> pb.DialReply:
        reply: pb.DialReply = await self.stub.Dial(
            pb.DialRequest(username=user.login, number=number, variables=variables), metadata=self.service)
        return reply

    async def set_dnd(self, user: User, enabled: bool) -> None:
        await self.stub.SetDnd(pb.SetDndRequest(username=user.login, state=enabled), metadata=self.service)

    async def history(self, user: User, count: int) -> list[tuple[str, str, str]]:
        """The user's last calls, once there are `count` (a call is recorded when its last channel
        is released, just after that release's phone events are published)."""

        async def calls() -> pb.CallHistory:
            reply: pb.CallHistory = await self.stub.GetHistory(
                pb.GetHistoryRequest(username=user.login, size=10), metadata=self.service)
            return reply

        reply = await eventually(calls, lambda history: len(history.calls) >= count, 3.0,
                                 f"{count} call(s) in the history of {user.login}")
        return [(call.src_username, call.dst_username, call.status) for call in reply.calls]


@asynccontextmanager
async def client_of(process: ServiceProcess, auth: ServiceProcess) -> AsyncIterator[Telephony]:
    async with grpc.aio.insecure_channel(process.grpc_address) as channel, \
            grpc.aio.insecure_channel(auth.grpc_address) as auth_channel:
        yield Telephony(process, telephony_pb2_grpc.TelephonyStub(channel),
                        telephony_pb2_grpc.SimulatorStub(channel), health_pb2_grpc.HealthStub(channel),
                        auth_pb2_grpc.AuthStub(auth_channel), (("x-xuc-service-token", process.service_token),))


class Inbox:
    """Phone events published for one user from now on, decoded, in order."""

    def __init__(self) -> None:
        self.received: list[events.PhoneEvent] = []

    async def deliver(self, message: Msg) -> None:
        self.received.append(events.PhoneEvent.FromString(message.data))

    async def wait(self, count: int, within: float = 30.0) -> list[events.PhoneEvent]:
        async def received() -> int:
            return len(self.received)

        await eventually(received, lambda seen: seen >= count, within, f"{count} phone event(s)")
        return list(self.received)


async def phone_events_of(client: NatsClient, user: User) -> Inbox:
    inbox = Inbox()
    await client.subscribe(subjects.PHONE_EVENT.for_key(user.login), cb=inbox.deliver)
    await client.flush()
    return inbox


def summary(decoded: list[events.PhoneEvent]) -> list[tuple[str, str, str, str]]:
    return [(event.event_type, event.username, event.dn, event.other_dn) for event in decoded]


def call_ids() -> str:
    """An Asterisk-like Uniqueid no other test uses (history is keyed by the linked id)."""
    return f"{int(time.time())}.{secrets.randbelow(10**6)}{next(_ids)}"


def channel_of(user: User, unique_id: str, linked_id: str, *, exten: str = "s", state: int = 0,
               connected_num: str = "<unknown>", connected_name: str = "<unknown>") -> Chan:
    """A channel of the user's phone (named after its line, showing its own caller id)."""
    return Chan(f"PJSIP/{user.line}-{secrets.token_hex(4)}", unique_id, linked_id, user.line, f"Test {user.login}",
                connected_num, connected_name, exten=exten, state=state)


# --- fixtures ------------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_ami() -> AsyncIterator[ScriptedAmiServer]:
    server = new_ami_server()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_process(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory, shared_ami: ScriptedAmiServer,
) -> AsyncIterator[ServiceProcess]:
    launcher = ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony-ami"))
    try:
        yield await asyncio.to_thread(launch, launcher, auth_service, database_factory.create().url,
                                      shared_ami.url())
    finally:
        await asyncio.to_thread(launcher.stop_all)  # SIGTERM, exit code 0 asserted


@pytest_asyncio.fixture(loop_scope="module")
async def telephony(shared_process: ServiceProcess, auth_service: ServiceProcess) -> AsyncIterator[Telephony]:
    async with client_of(shared_process, auth_service) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def connected(telephony: Telephony, shared_ami: ScriptedAmiServer) -> Telephony:
    """The shared process, logged in to the AMI server and done resynchronising."""
    await telephony.wait_for_health(SERVING, within=5.0)
    await shared_ami.wait_for_action("Status", within=3.0)
    return telephony


@pytest_asyncio.fixture(loop_scope="module")
async def nats_events(nats_server: str) -> AsyncIterator[NatsClient]:
    """A NATS connection in the module's event loop (the shared `nats_client` is per test loop)."""
    client = await nats.connect(nats_server, name="xuc-tests-ami", max_reconnect_attempts=0)
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def own_ami() -> AsyncIterator[ScriptedAmiServer]:
    server = new_ami_server()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


StartTelephony = Callable[[str], Awaitable[Telephony]]


@pytest_asyncio.fixture(loop_scope="module")
async def start_telephony(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory, tmp_path: Path,
) -> AsyncIterator[StartTelephony]:
    """Start a telephony process of the test's own on an AMI URL; stopped (exit 0 checked) after it."""
    async with AsyncExitStack() as stack:
        launcher = ServiceLauncher(nats_server, tmp_path)
        stack.push_async_callback(asyncio.to_thread, launcher.stop_all)

        async def start(ami_url: str) -> Telephony:
            process = await asyncio.to_thread(launch, launcher, auth_service, database_factory.create().url, ami_url)
            return await stack.enter_async_context(client_of(process, auth_service))

        yield start


# --- connection state ----------------------------------------------------------------------------
async def test_health_and_pbx_state_report_the_ami_connection(
    telephony: Telephony, shared_ami: ScriptedAmiServer,
) -> None:
    await telephony.wait_for_health(SERVING, within=5.0)
    state = await telephony.pbx_state()
    assert (state.kind, state.connected, state.detail) == ("ami", True, f"connected to 127.0.0.1:{shared_ami.port}")
    assert await telephony.health("xuc.telephony.v1.Telephony") == SERVING
    login = await shared_ami.wait_for_action("Login")
    assert (login["Username"], login["Secret"], login["Events"]) == (AMI_USER, shared_ami.secret, "on")
    for action in RESYNC_ACTIONS:
        await shared_ami.wait_for_action(action)
    # the simulator API exists only with the simulator
    simulator_call = telephony.simulator.Answer(pb.CallAction(number="1000"), metadata=telephony.service)
    assert (await refusal(simulator_call))[0] == grpc.StatusCode.UNIMPLEMENTED
    assert shared_ami.secret not in telephony.process.log()


# --- commands -> AMI actions ---------------------------------------------------------------------
async def test_dial_sends_an_originate_and_dnd_a_dbput(connected: Telephony, shared_ami: ScriptedAmiServer) -> None:
    alice = await connected.new_user()
    originates = len(shared_ami.actions_named("Originate"))

    reply = await connected.dial(alice, "+33 (0)1 23 45 67 89", CRM_ID="42")

    action = await shared_ami.wait_for_action("Originate", count=originates + 1)
    assert (action["Channel"], action["Exten"], action["Context"], action["Priority"], action["Async"]) == (
        f"PJSIP/{alice.line}", "0033123456789", "default", "1", "true")
    assert action["CallerID"] == f'"Test {alice.login}" <{alice.line}>'
    assert sorted(action.all("Variable")) == sorted(["CRM_ID=42", f"XIVO_USERID={alice.user_id}"])
    assert (reply.number, reply.unique_id, reply.linked_id) == (
        "0033123456789", action["ChannelId"], action["ChannelId"])

    await connected.set_dnd(alice, True)
    await connected.set_dnd(alice, False)
    puts = [(put["Key"], put["Val"]) for put in shared_ami.actions_named("DBPut")
            if put["Family"] == f"xuc/{alice.line}"]
    assert puts == [("dnd", "1"), ("dnd", "0")]


async def test_a_pbx_refusal_is_an_invalid_request(connected: Telephony, shared_ami: ScriptedAmiServer) -> None:
    alice = await connected.new_user()
    shared_ami.errors["Originate"] = "Extension does not exist."
    try:
        assert await refusal(connected.dial(alice, "1234")) == (grpc.StatusCode.INVALID_ARGUMENT, "PbxRefused")
    finally:
        del shared_ami.errors["Originate"]


# --- AMI events -> phone events, statuses, history -----------------------------------------------
async def test_ami_events_of_a_call_become_phone_events_statuses_and_history(
    connected: Telephony, shared_ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await connected.new_user(), await connected.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    call, bob_id = call_ids(), call_ids()
    caller = channel_of(alice, call, call, exten=bob.line, state=4)
    callee = channel_of(bob, bob_id, call, connected_num=alice.line, connected_name=f"Test {alice.login}")

    await shared_ami.push_events([newchannel(caller), newchannel(callee),
                                  dial_begin(caller, callee, f"PJSIP/{bob.line}"), newstate(callee.with_state(5))])
    [dialing] = await alice_events.wait(1)
    [ringing] = await bob_events.wait(1)
    assert summary([dialing, ringing]) == [("EventDialing", alice.login, alice.line, bob.line),
                                           ("EventRinging", bob.login, bob.line, alice.line)]
    assert (dialing.unique_id, ringing.unique_id, dialing.linked_id, ringing.linked_id) == (call, bob_id, call, call)
    assert await connected.statuses(alice.line, bob.line) == {alice.line: 1, bob.line: 8}

    await shared_ami.push_events([dial_end(caller, callee.with_state(6)), bridge_enter(caller, "b-1", 1),
                                  bridge_enter(callee.with_state(6), "b-1", 2)])
    await alice_events.wait(2)
    await bob_events.wait(2)
    assert await connected.statuses(alice.line, bob.line) == {alice.line: 2, bob.line: 2}

    await shared_ami.push_events([hangup(callee.with_state(6)), hangup(caller.with_state(6))])
    assert summary(await alice_events.wait(3)) == [
        ("EventDialing", alice.login, alice.line, bob.line), ("EventEstablished", alice.login, alice.line, bob.line),
        ("EventReleased", alice.login, alice.line, bob.line)]
    assert summary(await bob_events.wait(3)) == [
        ("EventRinging", bob.login, bob.line, alice.line), ("EventEstablished", bob.login, bob.line, alice.line),
        ("EventReleased", bob.login, bob.line, alice.line)]
    assert await connected.statuses(alice.line, bob.line) == {alice.line: 0, bob.line: 0}
    assert await connected.history(alice, count=1) == [(alice.login, bob.login, "emitted")]
    assert await connected.history(bob, count=1) == [(alice.login, bob.login, "answered")]
    # Nothing more: one more call rings each line, and is waited for. A user's events come in order,
    # so anything more from the first call would have come before this one's ringing.
    markers = [channel_of(user, unique_id, unique_id, connected_num="0611223344")
               for user, unique_id in ((alice, call_ids()), (bob, call_ids()))]
    await shared_ami.push_events([event for marker in markers
                                  for event in (newchannel(marker), newstate(marker.with_state(5)))])
    received = [await alice_events.wait(4, within=30.0), await bob_events.wait(4, within=30.0)]
    assert [[event.unique_id for event in seen[3:]] for seen in received] == [[marker.unique_id] for marker in markers]
    await shared_ami.push_events([hangup(marker.with_state(5)) for marker in markers])


async def test_the_events_of_a_click_to_call_are_the_dialling_users(
    connected: Telephony, shared_ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    """Asterisk gives the originated channel the ChannelId we chose, which tells whose line it is
    (whatever the endpoint is called): the caller's phone rings first, then dials the callee; an
    unanswered call is missed by the callee."""
    alice, bob = await connected.new_user(), await connected.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    originates = len(shared_ami.actions_named("Originate"))
    reply = await connected.dial(alice, bob.line)
    call = (await shared_ami.wait_for_action("Originate", count=originates + 1))["ChannelId"]
    bob_id = call_ids()
    # an endpoint not named after the line; the caller id is the Originate's
    caller = Chan(f"PJSIP/dev-{secrets.token_hex(4)}-00000001", call, call, alice.line, f"Test {alice.login}",
                  exten=bob.line)
    callee = channel_of(bob, bob_id, call)

    await shared_ami.push_events([newchannel(caller), newstate(caller.with_state(5)), newstate(caller.with_state(6)),
                                  newchannel(callee), dial_begin(caller.with_state(6), callee, f"PJSIP/{bob.line}"),
                                  newstate(callee.with_state(5))])
    assert summary(await alice_events.wait(2)) == [("EventRinging", alice.login, alice.line, bob.line),
                                                   ("EventDialing", alice.login, alice.line, bob.line)]
    [ringing] = await bob_events.wait(1)
    assert (ringing.event_type, ringing.other_dn, ringing.linked_id) == ("EventRinging", alice.line, reply.linked_id)

    await shared_ami.push_events([dial_end(caller.with_state(6), callee, "NOANSWER"), hangup(callee),
                                  hangup(caller.with_state(6))])
    assert [event.event_type for event in await bob_events.wait(2)] == ["EventRinging", "EventReleased"]
    assert [event.event_type for event in await alice_events.wait(3)] == [
        "EventRinging", "EventDialing", "EventReleased"]
    assert await connected.history(bob, count=1) == [(alice.login, bob.login, "missed")]
    assert await connected.history(alice, count=1) == [(alice.login, bob.login, "emitted")]


async def test_the_phone_events_of_a_click_to_call_carry_the_dial_variables(
    connected: Telephony, shared_ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await connected.new_user(), await connected.new_user()
    alice_events = await phone_events_of(nats_events, alice)
    originates = len(shared_ami.actions_named("Originate"))
    await connected.dial(alice, bob.line, CRM_ID="42")
    call = (await shared_ami.wait_for_action("Originate", count=originates + 1))["ChannelId"]
    caller = Chan(f"PJSIP/dev-{secrets.token_hex(4)}-00000001", call, call, alice.line, f"Test {alice.login}",
                  exten=bob.line)
    callee = channel_of(bob, call_ids(), call)
    await shared_ami.push_events([newchannel(caller), newchannel(callee),
                                  dial_begin(caller.with_state(6), callee, f"PJSIP/{bob.line}")])
    [dialing] = await alice_events.wait(1)
    assert dict(dialing.user_data) == {"CRM_ID": "42", "XIVO_USERID": alice.user_id}  # as with the simulator


# --- outage ----------------------------------------------------------------------------------------
async def test_an_outage_is_reported_commands_fail_fast_and_the_service_reconnects(
    own_ami: ScriptedAmiServer, start_telephony: StartTelephony,
) -> None:
    telephony = await start_telephony(own_ami.url())
    await telephony.wait_for_health(SERVING, within=5.0)
    await own_ami.wait_for_action("Status", within=3.0)
    alice, bob = await telephony.new_user(), await telephony.new_user()
    await telephony.set_dnd(alice, True)
    call = call_ids()
    callee = channel_of(bob, call, call, connected_num="0611223344")
    await own_ami.push_events([newchannel(callee), newstate(callee.with_state(5))])  # an incoming call rings bob
    await eventually(lambda: telephony.statuses(bob.line), lambda statuses: statuses[bob.line] == 8, 2.0,
                     "bob ringing")

    await own_ami.stop_listening()
    await own_ami.drop()
    await telephony.wait_for_health(NOT_SERVING, within=2.0)
    state = await eventually(telephony.pbx_state, lambda current: current.detail.startswith("reconnecting in "),
                             2.0, "the outage in GetPbxState")
    assert (state.kind, state.connected) == ("ami", False)
    assert "connection closed by the PBX" in state.detail or "connection refused" in state.detail
    refused = await rpc_error(telephony.dial(alice, bob.line))
    assert (refused.code(), reason_of(refused)) == (grpc.StatusCode.UNAVAILABLE, "PbxUnreachable")
    # refused at once, not after an action timeout (whose message says "did not answer")
    assert "the PBX is not connected" in (refused.details() or ""), refused.details()
    assert await telephony.statuses(bob.line) == {bob.line: 0}  # the PBX's calls are unknown now
    # the first attempt (0.5 s after the drop, default back-off) is refused; the next comes 1 s later
    state = await eventually(telephony.pbx_state, lambda current: "connection refused" in current.detail,
                             BACKOFF_INITIAL_SECONDS * 4, "a refused reconnection in GetPbxState")
    assert not state.connected
    assert await telephony.health() == NOT_SERVING

    await own_ami.resume_listening()
    await telephony.wait_for_health(SERVING, within=BACKOFF_INITIAL_SECONDS * 8)
    assert own_ami.logins == 2
    for action in RESYNC_ACTIONS:
        await own_ami.wait_for_action(action, count=2)
    # the stored user services are given to the PBX again (it may have lost them)
    await own_ami.wait_until(lambda: [(put["Key"], put["Val"]) for put in own_ami.actions_named("DBPut")
                                      if put["Family"] == f"xuc/{alice.line}"].count(("dnd", "1")) == 2,
                             2.0, "the stored DND put again")
    state = await telephony.pbx_state()
    assert (state.connected, state.detail) == (True, f"connected to 127.0.0.1:{own_ami.port}")
    reply = await telephony.dial(alice, bob.line)
    assert reply.unique_id == (await own_ami.wait_for_action("Originate"))["ChannelId"]


async def test_a_refused_login_is_reported_and_the_service_runs_anyway(
    own_ami: ScriptedAmiServer, start_telephony: StartTelephony,
) -> None:
    bad_secret = f"bad-{secrets.token_hex(8)}"
    telephony = await start_telephony(own_ami.url(secret=bad_secret))
    await own_ami.wait_for_action("Login", within=3.0)
    state = await eventually(telephony.pbx_state, lambda current: "login refused" in current.detail, 3.0,
                             "the refused login in GetPbxState")
    assert (state.kind, state.connected) == ("ami", False)
    assert "Authentication failed" in state.detail
    assert await telephony.health() == NOT_SERVING
    assert await telephony.health("xuc.telephony.v1.Telephony") == SERVING
    assert own_ami.logins == 0
    alice = await telephony.new_user()
    assert await refusal(telephony.dial(alice, "1234")) == (grpc.StatusCode.UNAVAILABLE, "PbxUnreachable")
    assert bad_secret not in telephony.process.log()
