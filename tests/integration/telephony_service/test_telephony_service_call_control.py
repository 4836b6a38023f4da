"""Call control through the Telephony gRPC API, with the PBX simulator in a real telephony process:
the current calls of a line (what a CTI client rebuilds its screen from), and answer, hold, hang up,
DTMF and transfers of the user's current call or of the call named, with their phone events and
their errors. The scenarios with Asterisk: tests/integration/test_telephony_ami_call_control.py.
"""

from __future__ import annotations

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
