"""The telephony service as a real process with the PBX simulator: gRPC on loopback, a real auth
process (users and their lines, tokens), a real nats-server (events), SQLite and PostgreSQL:
click-to-call, a call from a queue, the user services (DnD, forwards), the push requests of a
ringing line, the rules of the history.

Tests share one telephony process per database backend (conftest.py) and stay independent with
users and line numbers of their own.
"""

from __future__ import annotations

import asyncio
import secrets

import grpc
from nats.aio.client import Client as NatsClient

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal
from tests.support.telephony_service import (
    Telephony,
    User,
    listen,
    phone_events,
    telephony_client,
)
from xuc import subjects
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb

NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT


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


async def test_an_unanswered_call_is_missed_after_the_ring_timeout(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
) -> None:
    # A process of its own with a 1 s ring timeout (the shared one's is long): nobody answers here,
    # so nothing races the timeout; the test waits for its event.
    service = await asyncio.to_thread(
        service_launcher.start, "services.telephony", "telephony", database_url=database_factory.create().url,
        service_token=auth_service.service_token,
        extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address, "XUC_SIM_RING_TIMEOUT": "1"})
    async with telephony_client(service, auth_service) as telephony:
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


# --- push requests, history rules, calls from a queue ---------------------------------------------
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
