"""Call control with Asterisk: the telephony service as a real process with XUC_PBX=ami://...
against the scripted AMI server (tests/support/ami_server.py). The RPCs become AMI actions on the
channels the AMI events named (Hangup, PlayDTMF, Redirect, Atxfer, Setvar; DialFromMobile is an
Originate of a Local channel); the events the scripted
Asterisk then pushes become the phone events and current calls. Answering and holding a SIP
phone's call cannot be done from the AMI: NotSupportedByPbx. The same RPCs with the simulator:
tests/integration/telephony_service/test_telephony_service_call_control.py.

Like test_telephony_ami_calls.py, the module's tests share one event loop, one telephony process
and one AMI server (unique users and line numbers per test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from tests.integration.test_telephony_ami_calls import Inbox, phone_events_of
from tests.support.ami_events import Chan, bridge_enter, dial_begin, dial_end, hangup, newchannel
from tests.support.ami_server import ScriptedAmiServer
from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal
from tests.support.telephony_ami import (
    SERVING,
    Telephony,
    User,
    call_ids,
    channel_of,
    client_of,
    launch,
    running_ami_server,
)
from xucproto.telephony.v1 import telephony_pb2 as pb

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ami() -> AsyncIterator[ScriptedAmiServer]:
    async with running_ami_server() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def process(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory, ami: ScriptedAmiServer,
) -> AsyncIterator[ServiceProcess]:
    launcher = ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony-ami-control"))
    try:
        yield await asyncio.to_thread(launch, launcher, auth_service, database_factory.create().url, ami.url())
    finally:
        await asyncio.to_thread(launcher.stop_all)


@pytest_asyncio.fixture(loop_scope="module")
async def telephony(process: ServiceProcess, auth_service: ServiceProcess,
                    ami: ScriptedAmiServer) -> AsyncIterator[Telephony]:
    async with client_of(process, auth_service) as client:
        await client.wait_for_health(SERVING, within=5.0)
        await ami.wait_for_action("Status", within=3.0)  # resynchronised
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def nats_events(nats_server: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server, name="xuc-tests-ami-control", max_reconnect_attempts=0)
    try:
        yield client
    finally:
        await client.close()


async def control(telephony: Telephony, rpc: str, user: User, unique_id: str = "") -> pb.CallControlReply:
    reply: pb.CallControlReply = await getattr(telephony.stub, rpc)(
        pb.CallControlRequest(username=user.login, unique_id=unique_id), metadata=telephony.service)
    return reply


async def established_call(ami: ScriptedAmiServer, alice: User, bob: User, alice_events: Inbox,
                           bob_events: Inbox) -> tuple[Chan, Chan]:
    """alice calls bob, who answers: both lines' channels, up and bridged."""
    call, bob_id = call_ids(), call_ids()
    caller = channel_of(alice, call, call, exten=bob.line, state=4)
    callee = channel_of(bob, bob_id, call, connected_num=alice.line)
    await ami.push_events([newchannel(caller), newchannel(callee), dial_begin(caller, callee, f"PJSIP/{bob.line}"),
                           dial_end(caller, callee.with_state(6)), bridge_enter(caller.with_state(6), "b-" + call, 1),
                           bridge_enter(callee.with_state(6), "b-" + call, 2)])
    await alice_events.wait(2)
    await bob_events.wait(2)
    return caller.with_state(6), callee.with_state(6)


async def test_hangup_is_an_ami_hangup_of_the_users_channel(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    current = await telephony.stub.GetCurrentCalls(pb.CallCurrentCallsRequest(username=bob.login),
                                                   metadata=telephony.service)
    assert [(event.event_type, event.unique_id) for event in current.events] == [
        ("EventEstablished", callee.unique_id)]
    hangups = len(ami.actions_named("Hangup"))

    reply = await control(telephony, "Hangup", bob)

    assert (reply.unique_id, reply.linked_id) == (callee.unique_id, caller.unique_id)
    action = await ami.wait_for_action("Hangup", count=hangups + 1)
    assert action["Channel"] == callee.name
    await ami.push_events([hangup(callee), hangup(caller)])
    assert [event.event_type for event in await bob_events.wait(3)] == [
        "EventRinging", "EventEstablished", "EventReleased"]
    await alice_events.wait(3)
    current = await telephony.stub.GetCurrentCalls(pb.CallCurrentCallsRequest(username=bob.login),
                                                   metadata=telephony.service)
    assert list(current.events) == []


async def test_answer_and_hold_are_not_supported_by_the_ami_and_a_refused_hangup_says_so(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    call = call_ids()
    caller = channel_of(alice, call, call, exten=bob.line, state=4)
    callee = channel_of(bob, call_ids(), call, connected_num=alice.line)
    await ami.push_events([newchannel(caller), newchannel(callee), dial_begin(caller, callee, f"PJSIP/{bob.line}")])
    await alice_events.wait(1)
    await bob_events.wait(1)
    actions = len(ami.actions)

    assert await refusal(control(telephony, "Answer", bob)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                 "NotSupportedByPbx")
    await ami.push_events([dial_end(caller, callee.with_state(6))])
    await alice_events.wait(2)
    assert await refusal(control(telephony, "Hold", alice)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                 "NotSupportedByPbx")
    assert len(ami.actions) == actions  # nothing was sent for them
    ami.errors["Hangup"] = "No such channel"
    try:
        assert await refusal(control(telephony, "Hangup", alice)) == (grpc.StatusCode.INVALID_ARGUMENT, "PbxRefused")
    finally:
        del ami.errors["Hangup"]
    await ami.push_events([hangup(callee.with_state(6)), hangup(caller.with_state(6))])
    await alice_events.wait(3)


async def test_a_dtmf_key_is_a_play_dtmf_received_on_the_users_channel(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    sent = len(ami.actions_named("PlayDTMF"))

    reply = await telephony.stub.SendDtmf(pb.CallDtmfRequest(username=alice.login, key="#"),
                                          metadata=telephony.service)

    assert reply.unique_id == caller.unique_id
    action = await ami.wait_for_action("PlayDTMF", count=sent + 1)
    assert (action["Channel"], action["Digit"], action["Receive"]) == (caller.name, "#", "true")
    bad = pb.CallDtmfRequest(username=alice.login, key="x")
    assert await refusal(telephony.stub.SendDtmf(bad, metadata=telephony.service)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidRequest")
    await ami.push_events([hangup(callee), hangup(caller)])
    await alice_events.wait(3)


async def test_a_direct_transfer_redirects_the_other_partys_channel(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    redirects = len(ami.actions_named("Redirect"))

    request = pb.CallTransferRequest(username=bob.login, destination="+33 (0)6 11 22 33 44")
    reply = await telephony.stub.DirectTransfer(request, metadata=telephony.service)

    assert reply.unique_id == callee.unique_id
    action = await ami.wait_for_action("Redirect", count=redirects + 1)
    assert (action["Channel"], action["Exten"], action["Context"], action["Priority"]) == (
        caller.name, "0033611223344", "default", "1")
    await ami.push_events([hangup(callee), hangup(caller)])
    await bob_events.wait(3)
    await alice_events.wait(3)


async def test_an_attended_transfer_is_an_atxfer_completed_by_hanging_up_or_cancelled_by_the_abort_code(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob, carol = await telephony.new_user(), await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    atxfers, hangups, dtmfs = (len(ami.actions_named(name)) for name in ("Atxfer", "Hangup", "PlayDTMF"))
    attended = pb.CallTransferRequest(username=bob.login, destination=carol.line)
    pending = pb.CallPendingTransferRequest(username=bob.login)

    await telephony.stub.AttendedTransfer(attended, metadata=telephony.service)
    action = await ami.wait_for_action("Atxfer", count=atxfers + 1)
    assert (action["Channel"], action["Exten"], action["Context"]) == (callee.name, carol.line, "default")
    cancelled = await telephony.stub.CancelTransfer(pending, metadata=telephony.service)
    assert (cancelled.unique_id, cancelled.linked_id) == (callee.unique_id, caller.linked_id)
    await ami.wait_for_action("PlayDTMF", count=dtmfs + 2)
    assert [(frame["Channel"], frame["Digit"], frame["Receive"]) for frame in ami.actions_named("PlayDTMF")[dtmfs:]] \
        == [(callee.name, "*", "true"), (callee.name, "1", "true")]
    assert await refusal(telephony.stub.CancelTransfer(pending, metadata=telephony.service)) == (
        grpc.StatusCode.NOT_FOUND, "TransferNotFound")

    await telephony.stub.AttendedTransfer(attended, metadata=telephony.service)
    await ami.wait_for_action("Atxfer", count=atxfers + 2)
    completed = await telephony.stub.CompleteTransfer(pending, metadata=telephony.service)
    assert completed.unique_id == callee.unique_id
    assert (await ami.wait_for_action("Hangup", count=hangups + 1))["Channel"] == callee.name
    await ami.push_events([hangup(callee), hangup(caller)])
    await bob_events.wait(3)
    await alice_events.wait(3)


async def test_transfer_errors_with_asterisk(telephony: Telephony, ami: ScriptedAmiServer,
                                            nats_events: NatsClient) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    pending = pb.CallPendingTransferRequest(username=bob.login)
    assert await refusal(telephony.stub.CompleteTransfer(pending, metadata=telephony.service)) == (
        grpc.StatusCode.NOT_FOUND, "TransferNotFound")
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    bad = pb.CallTransferRequest(username=bob.login, destination="nowhere")
    assert await refusal(telephony.stub.DirectTransfer(bad, metadata=telephony.service)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidNumber")
    ami.errors["Atxfer"] = "No such channel"
    try:
        request = pb.CallTransferRequest(username=bob.login, destination="1234")
        assert await refusal(telephony.stub.AttendedTransfer(request, metadata=telephony.service)) == (
            grpc.StatusCode.INVALID_ARGUMENT, "PbxRefused")
    finally:
        del ami.errors["Atxfer"]
    assert await refusal(telephony.stub.CompleteTransfer(pending, metadata=telephony.service)) == (
        grpc.StatusCode.NOT_FOUND, "TransferNotFound")  # the refused Atxfer left none
    await ami.push_events([hangup(callee), hangup(caller)])
    await alice_events.wait(3)


async def test_call_data_is_one_setvar_per_variable_and_the_later_events_carry_it(
    telephony: Telephony, ami: ScriptedAmiServer, nats_events: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_events, alice), await phone_events_of(nats_events, bob)
    caller, callee = await established_call(ami, alice, bob, alice_events, bob_events)
    setvars = len(ami.actions_named("Setvar"))

    request = pb.CallDataRequest(username=alice.login, variables={"USR_ticket": "42", "USR_step": "two words"})
    reply = await telephony.stub.SetCallData(request, metadata=telephony.service)

    assert (reply.unique_id, reply.linked_id) == (caller.unique_id, caller.linked_id)
    await ami.wait_for_action("Setvar", count=setvars + 2)
    assert sorted((frame["Channel"], frame["Variable"], frame["Value"])
                  for frame in ami.actions_named("Setvar")[setvars:]) == [
        (caller.name, "USR_step", "two words"), (caller.name, "USR_ticket", "42")]
    await ami.push_events([hangup(callee), hangup(caller)])
    # both parties' later events carry the data (the translator added it to the call's)
    for inbox in (alice_events, bob_events):
        released = (await inbox.wait(3))[-1]
        assert released.event_type == "EventReleased"
        assert dict(released.user_data) == {"USR_ticket": "42", "USR_step": "two words"}
    bad = pb.CallDataRequest(username=alice.login, variables={"USR_x": "a\r\nAction: Hangup"})
    assert await refusal(telephony.stub.SetCallData(bad, metadata=telephony.service)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidCallData")
    assert len(ami.actions_named("Setvar")) == setvars + 2  # nothing sent for it


async def test_dial_from_mobile_originates_a_local_channel_to_the_mobile(
    telephony: Telephony, ami: ScriptedAmiServer,
) -> None:
    alice = await telephony.new_user(mobile="+33611223344")
    originates = len(ami.actions_named("Originate"))

    request = pb.DialFromMobileRequest(username=alice.login, destination="+33 1 23", variables={"USR_crm": "7"})
    reply = await telephony.stub.DialFromMobile(request, metadata=telephony.service)

    assert reply.number == "0033123"
    action = await ami.wait_for_action("Originate", count=originates + 1)
    assert (action["Channel"], action["Exten"], action["Context"], action["Priority"]) == (
        "Local/0033611223344@default", "0033123", "default", "1")
    assert action["CallerID"] == f'"Test {alice.login}" <{alice.line}>'
    assert sorted(action.all("Variable")) == sorted(["USR_crm=7", f"XIVO_USERID={alice.user_id}"])
    assert reply.unique_id

    bob = await telephony.new_user()
    without = pb.DialFromMobileRequest(username=bob.login, destination="1234")
    assert await refusal(telephony.stub.DialFromMobile(without, metadata=telephony.service)) == (
        grpc.StatusCode.NOT_FOUND, "NoMobileNumber")
    assert len(ami.actions_named("Originate")) == originates + 1
