"""Call control through the Telephony gRPC API, with the PBX simulator in a real telephony process:
the current calls of a line (what a CTI client rebuilds its screen from), and answer, hold, hang up,
DTMF and transfers of the user's current call or of the call named, with their phone events and
their errors. The scenarios with Asterisk: tests/integration/test_telephony_ami_call_control.py.
"""

from __future__ import annotations

from typing import Any

import grpc
from nats.aio.client import Client as NatsClient

from tests.support.rpc import refusal
from tests.support.telephony_service import Events, Telephony, User, listen, phone_events
from xuc import subjects
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb

NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT


async def current_calls(telephony: Telephony, user: User) -> list[events.PhoneEvent]:
    reply = await telephony.stub.GetCurrentCalls(pb.CallCurrentCallsRequest(username=user.login),
                                                 metadata=telephony.service)
    return list(reply.events)


async def phone_events_of(nats_client: NatsClient, user: User) -> Events:
    return await listen(nats_client, subjects.PHONE_EVENT.for_key(user.login))


async def test_the_current_calls_are_the_latest_phone_event_of_each_call_in_progress(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_client, alice), await phone_events_of(nats_client, bob)
    assert await current_calls(telephony, alice) == []

    await telephony.dial(alice, bob.line)
    [dialing] = await alice_events.wait(1, events.PhoneEvent)
    [ringing] = await bob_events.wait(1, events.PhoneEvent)
    assert await current_calls(telephony, alice) == [dialing]  # the very event published (same event id)
    assert await current_calls(telephony, bob) == [ringing]

    await telephony.act("Answer", bob.line)
    established = (await alice_events.wait(2, events.PhoneEvent))[1]
    assert await current_calls(telephony, alice) == [established]
    # a second call on bob's line: both, the older first
    carol = await telephony.new_user()
    await telephony.dial(carol, bob.line)
    seen = await bob_events.wait(3, events.PhoneEvent)
    assert [(event.event_type, event.other_dn) for event in await current_calls(telephony, bob)] == [
        ("EventEstablished", alice.line), ("EventRinging", carol.line)]
    assert (await current_calls(telephony, bob))[1] == seen[2]

    await telephony.act("Hangup", carol.line)
    await telephony.act("Hangup", alice.line)
    assert [event[0] for event in phone_events(await bob_events.wait(5, events.PhoneEvent))][-2:] == [
        "EventReleased", "EventReleased"]
    assert await current_calls(telephony, bob) == []


async def test_the_current_calls_of_an_unknown_user_or_one_without_line(telephony: Telephony) -> None:
    lineless = await telephony.new_user(line=False)
    for user in (lineless, User("nobody-here", "", "", ())):
        assert await refusal(current_calls(telephony, user)) == (NOT_FOUND, "UserNotFound")


async def control(telephony: Telephony, rpc: str, user: User, unique_id: str = "") -> pb.CallControlReply:
    reply: pb.CallControlReply = await getattr(telephony.stub, rpc)(
        pb.CallControlRequest(username=user.login, unique_id=unique_id), metadata=telephony.service)
    return reply


async def test_answer_hold_resume_and_hang_up_the_current_call(telephony: Telephony, nats_client: NatsClient) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events = await phone_events_of(nats_client, alice), await phone_events_of(nats_client, bob)
    dialled = await telephony.dial(alice, bob.line)
    [ringing] = await bob_events.wait(1, events.PhoneEvent)

    answered = await control(telephony, "Answer", bob)
    assert (answered.unique_id, answered.linked_id) == (ringing.unique_id, dialled.linked_id)
    await alice_events.wait(2, events.PhoneEvent)  # established
    held = await control(telephony, "Hold", alice)
    assert (held.unique_id, held.on_hold) == (dialled.unique_id, True)
    await alice_events.wait(3, events.PhoneEvent)
    resumed = await control(telephony, "Hold", alice)
    assert (resumed.unique_id, resumed.on_hold) == (dialled.unique_id, False)
    await alice_events.wait(4, events.PhoneEvent)
    assert (await control(telephony, "Hangup", bob)).unique_id == ringing.unique_id

    assert phone_events(await alice_events.wait(5, events.PhoneEvent)) == [
        ("EventDialing", alice.line, bob.line), ("EventEstablished", alice.line, bob.line),
        ("EventOnHold", alice.line, bob.line), ("EventEstablished", alice.line, bob.line),
        ("EventReleased", alice.line, bob.line)]
    assert [event[0] for event in phone_events(await bob_events.wait(3, events.PhoneEvent))] == [
        "EventRinging", "EventEstablished", "EventReleased"]
    assert await telephony.history(bob, size=5, count=1) == [(alice.login, bob.login, "answered")]


async def test_with_the_simulator_a_command_answers_once_its_phone_events_are_published(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    """So a client's next command finds the call as it left it: two Holds in a row hold, then resume."""
    alice, bob = await telephony.new_user(), await telephony.new_user()
    bob_events = await phone_events_of(nats_client, bob)
    await telephony.dial(alice, bob.line)
    await bob_events.wait(1, events.PhoneEvent)
    await control(telephony, "Answer", bob)
    assert [event.event_type for event in await current_calls(telephony, alice)] == ["EventEstablished"]
    assert (await control(telephony, "Hold", alice)).on_hold
    assert [event.event_type for event in await current_calls(telephony, alice)] == ["EventOnHold"]
    assert not (await control(telephony, "Hold", alice)).on_hold
    await control(telephony, "Hangup", alice)
    assert await current_calls(telephony, alice) == await current_calls(telephony, bob) == []


async def test_hang_up_prefers_the_established_call_and_a_unique_id_names_another(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob, carol = await telephony.new_user(), await telephony.new_user(), await telephony.new_user()
    bob_events = await phone_events_of(nats_client, bob)
    first = await telephony.dial(alice, bob.line)
    await bob_events.wait(1, events.PhoneEvent)
    await control(telephony, "Answer", bob)
    await bob_events.wait(2, events.PhoneEvent)
    second = await telephony.dial(carol, bob.line)
    await bob_events.wait(3, events.PhoneEvent)  # ringing while in the first call

    # by the call's linked id: the ringing one, though the established call is the current one
    assert (await control(telephony, "Hangup", bob, second.linked_id)).linked_id == second.linked_id
    assert (await control(telephony, "Hangup", bob)).linked_id == first.linked_id
    seen = await bob_events.wait(5, events.PhoneEvent)
    assert [(event.event_type, event.other_dn) for event in seen[3:]] == [
        ("EventReleased", carol.line), ("EventReleased", alice.line)]


async def test_call_control_errors(telephony: Telephony, nats_client: NatsClient) -> None:
    alice, bob, lineless = await telephony.new_user(), await telephony.new_user(), await telephony.new_user(False)
    alice_events = await phone_events_of(nats_client, alice)
    for rpc in ("Answer", "Hold", "Hangup"):
        assert await refusal(control(telephony, rpc, alice)) == (NOT_FOUND, "NoCurrentCall")
        assert await refusal(control(telephony, rpc, lineless)) == (NOT_FOUND, "UserNotFound")
        assert await refusal(control(telephony, rpc, User("nobody-here", "", "", ()))) == (NOT_FOUND, "UserNotFound")
    dialled = await telephony.dial(alice, bob.line)
    await alice_events.wait(1, events.PhoneEvent)  # alice dials: nothing to answer, nothing to hold
    assert await refusal(control(telephony, "Answer", alice)) == (NOT_FOUND, "NoCurrentCall")
    assert await refusal(control(telephony, "Hold", alice)) == (NOT_FOUND, "NoCurrentCall")
    assert await refusal(control(telephony, "Answer", alice, dialled.unique_id)) == (
        grpc.StatusCode.ALREADY_EXISTS, "CallStateConflict")
    assert await refusal(control(telephony, "Hangup", alice, "1700000000.999999")) == (NOT_FOUND, "CallNotFound")
    dave = await telephony.new_user()  # another line's call is not this line's
    assert await refusal(control(telephony, "Hangup", dave, dialled.unique_id)) == (NOT_FOUND, "CallNotFound")
    await control(telephony, "Hangup", alice, dialled.unique_id)
    assert [event.event_type for event in await alice_events.wait(2, events.PhoneEvent)] == [
        "EventDialing", "EventReleased"]


async def test_dtmf_keys_are_sent_by_the_established_call(telephony: Telephony, nats_client: NatsClient) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    alice_events = await phone_events_of(nats_client, alice)
    dialled = await telephony.dial(alice, bob.line)
    await alice_events.wait(1, events.PhoneEvent)
    dtmf = pb.CallDtmfRequest(username=alice.login, key="5")
    # still dialing: no established call to send it
    assert await refusal(telephony.stub.SendDtmf(dtmf, metadata=telephony.service)) == (NOT_FOUND, "NoCurrentCall")
    await telephony.act("Answer", bob.line)
    await alice_events.wait(2, events.PhoneEvent)

    for key in ("5", "*", "d"):
        reply = await telephony.stub.SendDtmf(pb.CallDtmfRequest(username=alice.login, key=key),
                                              metadata=telephony.service)
        assert reply.unique_id == dialled.unique_id
    await telephony.stub.SendDtmf(pb.CallDtmfRequest(username=bob.login, key="#", unique_id=dialled.linked_id),
                                  metadata=telephony.service)
    listed = await telephony.simulator.ListCalls(pb.ListCallsRequest(), metadata=telephony.service)
    [call] = [call for call in listed.calls if call.linked_id == dialled.linked_id]
    assert call.dtmf == "5*D#"
    for bad in ("", "E", "12", "é"):
        bad_key = pb.CallDtmfRequest(username=alice.login, key=bad)
        assert await refusal(telephony.stub.SendDtmf(bad_key, metadata=telephony.service)) == (
            INVALID, "InvalidRequest")
    await telephony.act("Hangup", alice.line)


async def transfer(telephony: Telephony, rpc: str, user: User, destination: str = "") -> pb.CallControlReply:
    if rpc in ("CompleteTransfer", "CancelTransfer"):
        request: Any = pb.CallPendingTransferRequest(username=user.login)
    else:
        request = pb.CallTransferRequest(username=user.login, destination=destination)
    reply: pb.CallControlReply = await getattr(telephony.stub, rpc)(request, metadata=telephony.service)
    return reply


async def test_a_direct_transfer_puts_the_caller_through_to_the_destination(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob, carol = await telephony.new_user(), await telephony.new_user(), await telephony.new_user()
    inboxes = [await phone_events_of(nats_client, user) for user in (alice, bob, carol)]
    dialled = await telephony.dial(alice, bob.line)
    await inboxes[1].wait(1, events.PhoneEvent)
    await control(telephony, "Answer", bob)
    await inboxes[0].wait(2, events.PhoneEvent)

    reply = await transfer(telephony, "DirectTransfer", bob, f"{carol.line[:3]} {carol.line[3:]}")  # sanitised

    assert reply.linked_id == dialled.linked_id
    [ringing] = await inboxes[2].wait(1, events.PhoneEvent)
    assert (ringing.event_type, ringing.other_dn, ringing.linked_id) == ("EventRinging", alice.line, dialled.linked_id)
    await control(telephony, "Answer", carol)
    assert phone_events((await inboxes[0].wait(4, events.PhoneEvent))[2:]) == [
        ("EventDialing", alice.line, carol.line), ("EventEstablished", alice.line, carol.line)]
    assert phone_events((await inboxes[1].wait(3, events.PhoneEvent))[2:]) == [
        ("EventReleased", bob.line, alice.line)]
    await control(telephony, "Hangup", carol)
    await inboxes[0].wait(5, events.PhoneEvent)


async def test_an_attended_transfer_completed_and_another_cancelled(
    telephony: Telephony, nats_client: NatsClient,
) -> None:
    alice, bob, carol = await telephony.new_user(), await telephony.new_user(), await telephony.new_user()
    alice_events, bob_events, carol_events = [await phone_events_of(nats_client, user) for user in (alice, bob, carol)]
    dialled = await telephony.dial(alice, bob.line)
    await bob_events.wait(1, events.PhoneEvent)
    answered = await control(telephony, "Answer", bob)
    await bob_events.wait(2, events.PhoneEvent)

    started = await transfer(telephony, "AttendedTransfer", bob, carol.line)
    assert started.unique_id == answered.unique_id
    await carol_events.wait(1, events.PhoneEvent)
    cancelled = await transfer(telephony, "CancelTransfer", bob)
    assert (cancelled.unique_id, cancelled.linked_id) == (answered.unique_id, dialled.linked_id)
    assert phone_events((await bob_events.wait(6, events.PhoneEvent))[2:]) == [
        ("EventOnHold", bob.line, alice.line), ("EventDialing", bob.line, carol.line),
        ("EventReleased", bob.line, carol.line), ("EventEstablished", bob.line, alice.line)]

    await transfer(telephony, "AttendedTransfer", bob, carol.line)
    await carol_events.wait(3, events.PhoneEvent)  # ringing, released, ringing again
    await control(telephony, "Answer", carol)
    await bob_events.wait(9, events.PhoneEvent)  # on hold, dialing, established
    completed = await transfer(telephony, "CompleteTransfer", bob)
    assert completed.unique_id == answered.unique_id
    assert phone_events((await bob_events.wait(11, events.PhoneEvent))[9:]) == [
        ("EventReleased", bob.line, alice.line), ("EventReleased", bob.line, carol.line)]
    assert phone_events((await alice_events.wait(3, events.PhoneEvent))[2:]) == [
        ("EventEstablished", alice.line, carol.line)]
    assert phone_events((await carol_events.wait(5, events.PhoneEvent))[3:]) == [
        ("EventEstablished", carol.line, bob.line), ("EventEstablished", carol.line, alice.line)]
    await control(telephony, "Hangup", alice)
    await carol_events.wait(6, events.PhoneEvent)
    assert await current_calls(telephony, carol) == []


async def test_transfer_errors(telephony: Telephony, nats_client: NatsClient) -> None:
    alice, bob = await telephony.new_user(), await telephony.new_user()
    for rpc in ("DirectTransfer", "AttendedTransfer"):
        assert await refusal(transfer(telephony, rpc, alice, "1002")) == (NOT_FOUND, "NoCurrentCall")
        assert await refusal(transfer(telephony, rpc, alice, "no digits")) == (INVALID, "InvalidNumber")
    for rpc in ("CompleteTransfer", "CancelTransfer"):
        assert await refusal(transfer(telephony, rpc, alice)) == (NOT_FOUND, "TransferNotFound")
        assert await refusal(transfer(telephony, rpc, User("nobody-here", "", "", ()))) == (NOT_FOUND, "UserNotFound")
    bob_events = await phone_events_of(nats_client, bob)
    await telephony.dial(alice, bob.line)
    await bob_events.wait(1, events.PhoneEvent)
    # still ringing: not transferable yet
    assert await refusal(transfer(telephony, "DirectTransfer", bob, "1234")) == (NOT_FOUND, "NoCurrentCall")
    await control(telephony, "Answer", bob)
    await bob_events.wait(2, events.PhoneEvent)
    assert await refusal(transfer(telephony, "DirectTransfer", bob, alice.line)) == (INVALID, "InvalidRequest")
    await transfer(telephony, "AttendedTransfer", bob, "0611223344")  # an external number: rings outside
    assert await refusal(transfer(telephony, "CompleteTransfer", bob)) == (
        grpc.StatusCode.ALREADY_EXISTS, "CallStateConflict")
    await transfer(telephony, "CancelTransfer", bob)
    await control(telephony, "Hangup", bob)
