"""The webhook delivery's consumer (services/webhooks) against a real nats-server: stopping and
starting again, redeliveries, two processes sharing the consumer, messages it does not post.
(Fixtures and conventions: conftest.py.)
"""

from __future__ import annotations

from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from tests.integration.webhooks.conftest import MakeForwarder, Publish
from tests.support.webhook_events import (
    PHONE_EVENT_TYPE,
    Counts,
    dead_letters,
    event_n,
    eventually,
    expected_body,
    login,
    number_of,
    status_change,
)
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import subjects


async def test_a_stopped_forwarder_finishes_in_flight_posts_and_leaves_the_rest_to_the_next_start(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    # ack_wait far beyond the test's deadlines: only the naks at stop let the second forwarder
    # have the events in time.
    first = await make_forwarder(ack_wait_seconds=600.0)
    ivy, jon = login("ivy"), login("jon")
    receiver.stall(0.6, times=1, when=username_is(ivy))  # ivy's first post is in flight at stop
    receiver.respond(503, when=username_is(jon))  # jon's lane is backing off at stop
    await publish([event_n(user, n) for n in range(5) for user in (ivy, jon)])
    await eventually(lambda: {request.body["username"] for request in receiver.requests} == {ivy, jon},
                     what="both users' first posts")

    await first.stop()

    assert receiver.bodies(ivy) == [expected_body(event_n(ivy, 0))]  # finished, acked
    assert receiver.bodies(jon) == []
    assert counts.delivered == 1
    await publish([event_n(user, n) for n in range(5, 10) for user in (ivy, jon)])  # while none runs
    receiver.clear_rules()

    second = await make_forwarder(ack_wait_seconds=600.0)
    await receiver.wait_for_deliveries(20, within=60)  # given back at stop, not after ack_wait
    for user in (ivy, jon):
        assert [number_of(body) for body in receiver.bodies(user)] == list(range(10)), user  # none twice
    await eventually(lambda: second.held == 0, what="every event acked")
    assert counts.delivered == 20


async def test_a_redelivery_while_a_lane_holds_the_event_is_not_posted_twice(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    forwarder = await make_forwarder(ack_wait_seconds=1.0, timeout_seconds=3.0)
    kim = login("kim")
    receiver.stall(1.8, times=1)  # the first post, and the events queued behind it, outlast ack_wait

    await publish([event_n(kim, n) for n in range(4)])

    await receiver.wait_for_deliveries(4, within=30)
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert [number_of(body) for body in receiver.bodies(kim)] == [0, 1, 2, 3]
    assert len(receiver.requests) == 4
    assert counts.redeliveries == 0  # in_progress kept JetStream from redelivering


async def test_two_webhooks_processes_post_each_event_exactly_once(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, nats_server: str, counts: Counts,
) -> None:
    connections = [await nats.connect(nats_server, name=f"webhooks-{i}") for i in range(2)]
    try:
        # ack_wait shorter than some posts: a redelivery would reach the other process.
        forwarders = [await make_forwarder(connection, ack_wait_seconds=1.0, timeout_seconds=3.0)
                      for connection in connections]
        posted_by = [0, 0]
        for index, forwarder in enumerate(forwarders):
            real_post = forwarder.poster.post

            async def counted(body: str, event_id: str, index: int = index, real_post: Any = real_post) -> Any:
                posted_by[index] += 1
                return await real_post(body, event_id)

            forwarder.poster.post = counted  # type: ignore[method-assign]
        users = [login(f"u{i}") for i in range(4)]
        receiver.stall(1.5, times=3)

        await publish([event_n(user, n) for n in range(25) for user in users])

        await receiver.wait_for_deliveries(100, within=30)
        await eventually(lambda: all(forwarder.held == 0 for forwarder in forwarders), what="every event acked")
        for user in users:
            assert sorted(number_of(body) for body in receiver.bodies(user)) == list(range(25)), user
        assert len(receiver.requests) == 100
        assert counts.delivered == 100
        assert all(count > 0 for count in posted_by), posted_by  # both took a share
        for forwarder in forwarders:
            await forwarder.stop()
        # Stopped: a wrong second post of any event would have shown by now.
        assert len(receiver.requests) == 100
    finally:
        for connection in connections:
            await connection.close()


async def test_other_event_types_on_the_subjects_are_acked_and_skipped(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, js: JetStreamContext,
    counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    lea = login("lea")
    await js.publish(subjects.PHONE_EVENT.for_key(lea), b"something else",
                     headers={subjects.EVENT_TYPE_HEADER: "xuc.events.v1.SomethingNew"})

    await publish([status_change(lea, 1)])

    assert await receiver.wait_for_deliveries(1) == [{"username": lea, "status": 1}]
    assert len(receiver.requests) == 1
    await eventually(lambda: forwarder.held == 0, what="the event acked")
    assert counts.skipped == 1


async def test_an_undecodable_payload_is_dead_lettered_without_a_post(
    make_forwarder: MakeForwarder, receiver: WebhookReceiver, js: JetStreamContext, counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    max_ = login("max")

    await js.publish(subjects.PHONE_EVENT.for_key(max_), b"\xff\xff\xff",
                     headers={subjects.EVENT_TYPE_HEADER: PHONE_EVENT_TYPE})

    (record,) = await dead_letters(js, max_, 1)
    assert record.attempts == 0
    assert record.last_error.startswith("undecodable xuc.events.v1.PhoneEvent")
    assert record.payload == b"\xff\xff\xff"
    assert receiver.requests == []
    await eventually(lambda: forwarder.held == 0, what="the event acked")
    assert counts.dead_lettered("invalid") == 1


async def test_start_is_idempotent_and_keeps_the_consumers_position(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, js: JetStreamContext, consumer: str,
    counts: Counts,
) -> None:
    first = await make_forwarder(max_ack_pending=100)
    await first.stop()
    nia = login("nia")
    await publish([status_change(nia, 8)])  # while no forwarder runs: kept for the next one

    second = await make_forwarder(max_ack_pending=50)

    assert await receiver.wait_for_deliveries(1) == [{"username": nia, "status": 8}]
    info = await js.consumer_info(subjects.TELEPHONY_STREAM, consumer)
    assert info.config.max_ack_pending == 50
    assert info.config.deliver_policy == DeliverPolicy.NEW
    assert info.config.deliver_group == consumer
    assert sorted(info.config.filter_subjects or []) == sorted(subjects.WEBHOOK_SUBJECTS)
    await js.stream_info(subjects.WEBHOOK_DEAD_STREAM)  # created at start
    await eventually(lambda: second.held == 0, what="the event acked")
    assert counts.delivered == 1
