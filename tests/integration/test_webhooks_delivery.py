"""The webhook delivery (services/webhooks) against a real nats-server and a real HTTP receiver.

Events are real PhoneEvent / PhoneStatusChanged protobufs, published by the services' publisher
(NatsEventPublisher: type header and Nats-Msg-Id) on the real subjects of the XUC_TELEPHONY stream.
Each test has its own durable consumer (deleted at teardown) and its own logins, since the
nats-server is shared by the whole run. Back-off values are small so that each test takes seconds.
What the delivery did is read from its Prometheus metrics (labelled by consumer), on a real
/metrics endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from services.webhooks.adapters.event_forwarder import EventForwarder
from tests.support.events import stored_messages
from tests.support.metrics import scrape_url
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import event_catalogue, subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.metrics import MetricsServer
from xuc.runtime.nats import ensure_stream
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent, PhoneStatusChanged, UndeliveredEvent

TelephonyEvent = PhoneEvent | PhoneStatusChanged
PHONE_EVENT_TYPE = event_catalogue.PHONE_EVENT.type_name
PHONE_STATUS_TYPE = event_catalogue.PHONE_STATUS.type_name
UNDELIVERED_TYPE = event_catalogue.WEBHOOK_DEAD.type_name
MakeForwarder = Callable[..., Awaitable[EventForwarder]]

FAST = {  # seconds: a test's whole retry story fits in about a second
    "timeout_seconds": 1.0,
    "initial_backoff_seconds": 0.05,
    "max_backoff_seconds": 0.2,
    "max_attempts": 5,
}


# --- events ---------------------------------------------------------------------------------------
def login(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def phone_event(username: str, number: int, event_type: str = "EventDialing") -> PhoneEvent:
    """The `number`th event of a user: its order shows in uniqueId (and in userData)."""
    return PhoneEvent(username=username, event_type=event_type, dn="1058", other_dn="3000",
                      linked_id=f"1447670380.{number}", unique_id=str(number),
                      user_data={"XIVO_USERID": "9", "SEQ": str(number)}, event_id=uuid.uuid4().hex)


def status_change(username: str, status: int) -> PhoneStatusChanged:
    return PhoneStatusChanged(username=username, number="1058", status=status, event_id=uuid.uuid4().hex)


def event_n(username: str, number: int) -> TelephonyEvent:
    """Events of a user alternate phone events (uniqueId = n) and status changes (status = n)."""
    return phone_event(username, number) if number % 2 == 0 else status_change(username, number)


def number_of(body: Any) -> int:
    """Which `event_n` a delivered body is."""
    if "status" in body:
        return int(body["status"])
    return int(body["message"]["ctiMessage"]["uniqueId"])


def to_message(event: TelephonyEvent) -> tuple[str, TelephonyEvent]:
    if isinstance(event, PhoneEvent):
        return event_catalogue.PHONE_EVENT.outgoing(event.username, event)
    return event_catalogue.PHONE_STATUS.outgoing(event.username, event)


def expected_body(event: TelephonyEvent) -> dict[str, Any]:
    if isinstance(event, PhoneStatusChanged):
        return {"username": event.username, "status": event.status}
    return {"username": event.username, "message": {"msgType": "PhoneEvent", "ctiMessage": {
        "eventType": event.event_type, "DN": event.dn, "otherDN": event.other_dn, "linkedId": event.linked_id,
        "uniqueId": event.unique_id, "userData": dict(event.user_data)}}}


# --- what the delivery counted: its metrics on a real endpoint -----------------------------------------
class Counts:
    """The delivery's counters for one consumer, read from the /metrics page as Prometheus would."""

    def __init__(self, address: str, consumer: str) -> None:
        self._url, self._consumer = f"http://{address}/metrics", consumer

    def _read(self, name: str, label: str = "", values: tuple[str, ...] = ("",)) -> float:
        page = scrape_url(self._url)
        return sum(page.value(name, consumer=self._consumer, **({label: value} if label else {}))
                   for value in values)

    def posts(self, *outcomes: str) -> float:
        return self._read("xuc_webhook_deliveries_total", "outcome", outcomes or ("delivered", "failed", "refused"))

    @property
    def attempts(self) -> float:
        return self.posts()

    @property
    def delivered(self) -> float:
        return self.posts("delivered")

    @property
    def failures(self) -> float:
        return self.posts("failed", "refused")

    def dead_lettered(self, *causes: str) -> float:
        return self._read("xuc_webhook_dead_lettered_total", "cause",
                          causes or ("attempts", "refused", "backlog", "invalid", "error"))

    @property
    def redeliveries(self) -> float:
        return self._read("xuc_webhook_redeliveries_total")

    @property
    def skipped(self) -> float:
        return self._read("xuc_webhook_events_skipped_total")


@pytest.fixture(scope="module")
def metrics_address() -> Iterator[str]:
    server = MetricsServer("127.0.0.1:0")
    yield server.address
    asyncio.run(server.close())


@pytest.fixture
def counts(metrics_address: str, consumer: str) -> Counts:
    return Counts(metrics_address, consumer)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
async def js(nats_client: NatsClient) -> JetStreamContext:
    jetstream = nats_client.jetstream()
    await ensure_stream(jetstream, subjects.telephony_stream())
    return jetstream


@pytest.fixture
def publish(nats_client: NatsClient, js: JetStreamContext) -> Callable[[list[TelephonyEvent]], Awaitable[None]]:
    publisher: NatsEventPublisher[TelephonyEvent] = NatsEventPublisher(nats_client, to_message)
    return publisher.publish


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as webhook:
        yield webhook


@pytest.fixture
async def consumer(js: JetStreamContext) -> AsyncIterator[str]:
    name = f"test-webhook-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(subjects.TELEPHONY_STREAM, name)


@pytest.fixture
async def make_forwarder(
    nats_client: NatsClient, receiver: WebhookReceiver, consumer: str
) -> AsyncIterator[MakeForwarder]:
    """Start a forwarder on this test's consumer (another connection: another gateway process)."""
    started: list[EventForwarder] = []

    async def make(connection: NatsClient | None = None, **options: Any) -> EventForwarder:
        forwarder = EventForwarder(connection or nats_client, receiver.url, consumer=consumer,
                                   deliver_group=consumer, **{**FAST, **options})
        await forwarder.start()
        started.append(forwarder)
        return forwarder

    yield make
    for forwarder in started:
        await forwarder.stop()


async def eventually(condition: Callable[[], bool], within: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def dead_letters(js: JetStreamContext, username: str, count: int) -> list[UndeliveredEvent]:
    records = []
    for msg in await stored_messages(js, subjects.WEBHOOK_DEAD.for_key(username), count):
        assert (msg.headers or {})[subjects.EVENT_TYPE_HEADER] == UNDELIVERED_TYPE
        record = UndeliveredEvent()
        record.ParseFromString(msg.data)
        records.append(record)
    return records


# --- tests ----------------------------------------------------------------------------------------
Publish = Callable[[list[TelephonyEvent]], Awaitable[None]]


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
