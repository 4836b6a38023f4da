"""The webhook delivery (services/webhooks) against a real nats-server and a real HTTP receiver:
what is posted, in which order, retried, and set aside.

Events are real PhoneEvent / PhoneStatusChanged protobufs, published by the services' publisher
(NatsEventPublisher: type header and Nats-Msg-Id) on the real subjects of the XUC_TELEPHONY stream.
Each test has its own durable consumer and its own logins, since the nats-server is shared by the
whole run (conftest.py). What the delivery did is read from its Prometheus metrics (labelled by
consumer), on a real /metrics endpoint.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
from nats.js import JetStreamContext

from tests.integration.webhooks.conftest import MakeForwarder, Publish
from tests.support.webhook_events import (
    PHONE_EVENT_TYPE,
    PHONE_STATUS_TYPE,
    Counts,
    dead_letters,
    event_n,
    eventually,
    expected_body,
    login,
    number_of,
    phone_event,
    status_change,
)
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import subjects
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent


# --- tests ----------------------------------------------------------------------------------------
async def test_events_are_posted_with_the_originals_json_and_content_type(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, js: JetStreamContext, consumer: str,
    counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    alice = login("alicej")
    dialing = PhoneEvent(username=alice, event_type="EventDialing", dn="1058", other_dn="3000",
                         linked_id="1447670380.34", unique_id="1447670380.34", user_data={"XIVO_USERID": "9"},
                         event_id=uuid.uuid4().hex)

    await publish([dialing, status_change(alice, 0)])

    assert await receiver.wait_for_deliveries(2) == [
        {"username": alice, "message": {"msgType": "PhoneEvent", "ctiMessage": {
            "eventType": "EventDialing", "DN": "1058", "otherDN": "3000", "linkedId": "1447670380.34",
            "uniqueId": "1447670380.34", "userData": {"XIVO_USERID": "9"}}}},
        {"username": alice, "status": 0},
    ]
    first = receiver.deliveries[0]
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-Xuc-Event-Id"] == dialing.event_id
    assert first.path == "/events"
    await eventually(lambda: forwarder.held == 0, what="both events acked")
    info = await js.consumer_info(subjects.TELEPHONY_STREAM, consumer)
    assert (info.num_ack_pending, info.num_pending) == (0, 0)
    assert (counts.attempts, counts.delivered, counts.failures) == (2, 2, 0)


async def test_events_are_posted_in_order_per_user_under_concurrency(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    users = [login(name) for name in ("ann", "ben", "cat")]
    shuffle = random.Random(7)
    receiver.stall(0.02, when=lambda _body: shuffle.random() < 0.2)  # some posts are slower than others

    await publish([event_n(user, n) for n in range(50) for user in users])  # interleaved

    await receiver.wait_for_deliveries(150, within=30)
    for user in users:
        assert [number_of(body) for body in receiver.bodies(user)] == list(range(50)), user
    assert len(receiver.requests) == 150
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert counts.delivered == 150


async def test_a_receiver_down_for_a_while_gets_every_event_in_order_once_back(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    forwarder = await make_forwarder(max_attempts=100)
    users = [login("dan"), login("eve")]
    await receiver.stop()

    await publish([event_n(user, n) for n in range(10) for user in users])
    await eventually(lambda: counts.failures >= 2 * 3, within=30, what="each user's first event retried")
    assert receiver.requests == []
    await receiver.start()

    await receiver.wait_for_deliveries(20, within=30)
    for user in users:
        assert [number_of(body) for body in receiver.bodies(user)] == list(range(10)), user
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert (counts.delivered, counts.dead_lettered()) == (20, 0)


async def test_a_5xx_is_retried_until_the_receiver_accepts(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    fay = login("fay")
    rule = receiver.respond(503, times=2)

    await publish([phone_event(fay, 1)])

    assert await receiver.wait_for_deliveries(1) == [expected_body(phone_event(fay, 1))]
    assert rule.used == 2
    assert [request.status for request in receiver.requests] == [503, 503, 200]
    await eventually(lambda: forwarder.held == 0, what="the event acked")
    assert (counts.attempts, counts.failures, counts.delivered) == (3, 2, 1)
    assert counts._read("xuc_webhook_retries_total") == 2
    assert counts.dead_lettered() == 0


async def test_a_stalled_user_does_not_block_the_others(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    # Every post of slow's times out while the stall rule holds: slow cannot be delivered before
    # the rule is cleared, however long fast's events take.
    forwarder = await make_forwarder(timeout_seconds=0.5, max_attempts=1000)
    slow, fast = login("slow"), login("fast")
    receiver.stall(10.0, when=username_is(slow))

    await publish([event_n(slow, n) for n in range(3)])
    await publish([event_n(fast, n) for n in range(20)])

    await receiver.wait_for_deliveries(20, username=fast, within=30)
    assert receiver.bodies(slow) == []  # still stalled while fast's 20 went through
    receiver.clear_rules()
    await receiver.wait_for_deliveries(3, username=slow, within=30)
    assert [number_of(body) for body in receiver.bodies(slow)] == [0, 1, 2]
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert counts.failures >= 1
    assert counts.dead_lettered() == 0


async def test_a_user_whose_backlog_is_full_cannot_hold_the_shared_consumer(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, counts: Counts,
) -> None:
    # max_ack_pending is shared by every user: without a per-user bound, one user's failing
    # receiver would fill it and JetStream would stop delivering to everyone.
    await make_forwarder(timeout_seconds=0.5, max_attempts=1000, max_ack_pending=5, max_user_backlog=3)
    slow, fast = login("slow"), login("fast")
    receiver.stall(10.0, when=username_is(slow))

    await publish([event_n(slow, n) for n in range(10)])
    await publish([event_n(fast, n) for n in range(3)])  # a backlog of 3 at most: under the bound

    await receiver.wait_for_deliveries(3, username=fast, within=30)
    await eventually(lambda: counts.dead_lettered("backlog") == 7, what="slow's 7 later events set aside")
    assert counts.dead_lettered() == 7  # three held for slow (one posting, two waiting), 7 set aside


async def test_an_unexpected_error_does_not_let_later_events_overtake(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch,
    counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    real_post, failures = forwarder.poster.post, [1, 1]  # the first two posts hit a "bug"

    async def buggy_post(*args: Any, **kwargs: Any) -> Any:
        if failures:
            failures.pop()
            raise RuntimeError("a bug")
        return await real_post(*args, **kwargs)

    monkeypatch.setattr(forwarder.poster, "post", buggy_post)
    hal = login("hal")
    await publish([event_n(hal, n) for n in range(3)])

    bodies = await receiver.wait_for_deliveries(3, username=hal, within=30)
    assert [number_of(body) for body in bodies] == [0, 1, 2]
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert counts.dead_lettered() == 0


async def test_after_max_attempts_the_event_is_dead_lettered_and_the_user_goes_on(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, js: JetStreamContext,
    counts: Counts,
) -> None:
    forwarder = await make_forwarder(max_attempts=3)
    gus = login("gus")
    poison = phone_event(gus, 0)
    receiver.respond(503, when=lambda body: body == expected_body(poison))

    await publish([poison, event_n(gus, 1), event_n(gus, 2)])

    assert [number_of(body) for body in await receiver.wait_for_deliveries(2)] == [1, 2]
    assert [request.status for request in receiver.requests] == [503, 503, 503, 200, 200]
    (record,) = await dead_letters(js, gus, 1)
    assert record.subject == subjects.PHONE_EVENT.for_key(gus)
    assert record.payload == poison.SerializeToString()
    assert record.event_type == PHONE_EVENT_TYPE
    assert json.loads(record.body) == expected_body(poison)
    assert (record.attempts, record.last_error) == (3, "HTTP 503")
    assert record.HasField("failed_at")
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert (counts.dead_lettered("attempts"), counts.delivered, counts.failures) == (1, 2, 3)


async def test_a_4xx_is_final_and_dead_lettered_without_retry(
    make_forwarder: MakeForwarder, publish: Publish, receiver: WebhookReceiver, js: JetStreamContext,
    counts: Counts,
) -> None:
    forwarder = await make_forwarder()
    hal = login("hal")
    refused = status_change(hal, 2)
    receiver.respond(400, times=1)

    await publish([refused, status_change(hal, 0)])

    assert await receiver.wait_for_deliveries(1) == [{"username": hal, "status": 0}]
    assert [request.status for request in receiver.requests] == [400, 200]
    (record,) = await dead_letters(js, hal, 1)
    assert (record.attempts, record.last_error, record.event_type) == (1, "HTTP 400", PHONE_STATUS_TYPE)
    assert json.loads(record.body) == {"username": hal, "status": 2}
    await eventually(lambda: forwarder.held == 0, what="every event acked")
    assert (counts.attempts, counts.dead_lettered("refused"), counts.posts("refused")) == (2, 1, 1)


