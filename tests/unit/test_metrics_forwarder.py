"""The event URL forwarder's metrics, against a real nats-server and a real HTTP receiver: POSTs by
outcome (delivered, failed and retried, refused), dead letters by cause and their publishing on
NATS, and the consumer's lag as JetStream reports it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from gateway.event_forwarder import EventForwarder
from tests.support.processes import NatsServer
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.nats import ensure_stream
from xucproto.events.v1.telephony_events_pb2 import PhoneStatusChanged

FAST = {"timeout_seconds": 1.0, "initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "max_attempts": 3}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def to_message(event: PhoneStatusChanged) -> tuple[str, PhoneStatusChanged]:
    return subjects.PHONE_STATUS.for_key(event.username), event


def status(username: str, value: int) -> PhoneStatusChanged:
    return PhoneStatusChanged(username=username, number="1001", status=value, event_id=uuid.uuid4().hex)


async def eventually(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer.start(Path(tmp_path_factory.mktemp("nats")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def connection(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server.url, max_reconnect_attempts=0)
    await ensure_stream(client.jetstream(), subjects.telephony_stream())
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as webhook:
        yield webhook


@pytest.fixture
async def make_forwarder(connection: NatsClient, receiver: WebhookReceiver
                         ) -> AsyncIterator[Callable[..., Awaitable[EventForwarder]]]:
    """Start a forwarder on a consumer of its own (deleted at the end)."""
    started: list[EventForwarder] = []

    async def make(**options: Any) -> EventForwarder:
        consumer = f"test-metrics-{uuid.uuid4().hex[:8]}"
        forwarder = EventForwarder(connection, receiver.url, consumer=consumer, deliver_group=consumer,
                                   lag_interval_seconds=0.1, **{**FAST, **options})
        await forwarder.start()
        started.append(forwarder)
        return forwarder

    try:
        yield make
    finally:
        for forwarder in started:
            await forwarder.stop()
            with contextlib.suppress(NotFoundError):
                await connection.jetstream().delete_consumer(subjects.TELEPHONY_STREAM, forwarder._consumer)


@pytest.fixture
async def forwarder(make_forwarder: Callable[..., Awaitable[EventForwarder]]) -> EventForwarder:
    return await make_forwarder()


async def test_posts_and_dead_letters_are_counted_by_outcome_and_cause(
    connection: NatsClient, receiver: WebhookReceiver, forwarder: EventForwarder,
) -> None:
    names = ("delivered", "failed", "refused")
    before_posts = {outcome: sample("xuc_webhook_deliveries_total", outcome=outcome) for outcome in names}
    before_dead = {cause: sample("xuc_webhook_dead_lettered_total", cause=cause) for cause in ("refused", "attempts")}
    before_dead_published = sample("xuc_nats_published_total", event="UndeliveredEvent")
    before_timed = sample("xuc_webhook_delivery_duration_seconds_count", outcome="delivered")
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    receiver.respond(503, times=1, when=username_is(alice))  # alice's first attempt fails, then succeeds
    receiver.respond(400, when=username_is(bob))  # bob's event is refused: final, set aside

    await NatsEventPublisher(connection, to_message).publish([status(alice, 1), status(bob, 2)])
    await receiver.wait_for_deliveries(1, username=alice)
    await eventually(lambda: forwarder.stats.dead_lettered == 1, "bob's event set aside")
    await eventually(lambda: forwarder.held == 0, "every event decided")

    posts = {outcome: sample("xuc_webhook_deliveries_total", outcome=outcome) - before_posts[outcome]
             for outcome in names}
    assert posts == {"delivered": 1, "failed": 1, "refused": 1}
    assert sample("xuc_webhook_dead_lettered_total", cause="refused") - before_dead["refused"] == 1
    assert sample("xuc_webhook_dead_lettered_total", cause="attempts") - before_dead["attempts"] == 0
    assert sample("xuc_nats_published_total", event="UndeliveredEvent") - before_dead_published == 1
    assert sample("xuc_webhook_delivery_duration_seconds_count", outcome="delivered") - before_timed == 1
    assert sample("xuc_webhook_events_received_total", consumer=forwarder._consumer) == 2


async def test_the_consumer_lag_is_sampled_from_jetstream(
    connection: NatsClient, receiver: WebhookReceiver, make_forwarder: Callable[..., Awaitable[EventForwarder]],
) -> None:
    # One event at a time may be held: the stalled first one; JetStream keeps the 2 others back.
    forwarder = await make_forwarder(max_ack_pending=1, timeout_seconds=5.0)
    consumer = forwarder._consumer
    carol = f"carol-{uuid.uuid4().hex[:6]}"
    receiver.stall(3.0, times=1, when=username_is(carol))  # then answered 200: delivered
    await NatsEventPublisher(connection, to_message).publish([status(carol, n) for n in range(3)])

    def lag() -> tuple[float, float]:
        return (sample("xuc_event_consumer_pending", consumer=consumer),
                sample("xuc_event_consumer_ack_pending", consumer=consumer))

    await eventually(lambda: lag() == (2, 1), "2 events pending and 1 held (not acked)")
    await receiver.wait_for_deliveries(3, username=carol)
    await eventually(lambda: lag() == (0, 0), "the backlog gone once the receiver answers")
