"""The webhook delivery's metrics on the webhooks process's own endpoint (/metrics, with
/health/ready), against a real nats-server and a real HTTP receiver: POSTs by outcome (delivered,
failed and retried, refused), dead letters by cause and their publishing on NATS, events held and
lanes, and the consumer's lag as JetStream reports it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from services.webhooks.entrypoints.event_forwarder import EventForwarder
from services.webhooks.entrypoints.http_status import StatusServer
from tests.support.metrics import Samples
from tests.support.processes import NatsServer
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.nats import ensure_stream
from xucproto.events.v1.telephony_events_pb2 import PhoneStatusChanged

FAST = {"timeout_seconds": 1.0, "initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "max_attempts": 3}




def to_message(event: PhoneStatusChanged) -> tuple[str, PhoneStatusChanged]:
    return subjects.PHONE_STATUS.for_key(event.username), event


def status(username: str, value: int) -> PhoneStatusChanged:
    return PhoneStatusChanged(username=username, number="1001", status=value, event_id=uuid.uuid4().hex)


async def eventually(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
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
async def endpoint() -> AsyncIterator[str]:
    """The process's status endpoint, as `python -m services.webhooks` serves it."""
    server = StatusServer("127.0.0.1:0", lambda: True)
    await server.start()
    try:
        yield f"http://{server.address}"
    finally:
        await server.close()


async def scrape(endpoint: str) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(f"{endpoint}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return Samples(await response.text())


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
                await connection.jetstream().delete_consumer(subjects.TELEPHONY_STREAM, forwarder.consumer.name)


@pytest.fixture
async def forwarder(make_forwarder: Callable[..., Awaitable[EventForwarder]]) -> EventForwarder:
    return await make_forwarder()


async def test_posts_and_dead_letters_are_counted_by_outcome_and_cause(
    connection: NatsClient, receiver: WebhookReceiver, forwarder: EventForwarder, endpoint: str,
) -> None:
    consumer = forwarder.consumer.name
    before = await scrape(endpoint)
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    receiver.respond(503, times=1, when=username_is(alice))  # alice's first attempt fails, then succeeds
    receiver.respond(400, when=username_is(bob))  # bob's event is refused: final, set aside

    await NatsEventPublisher(connection, to_message).publish([status(alice, 1), status(bob, 2)])
    await receiver.wait_for_deliveries(1, username=alice)
    await eventually(lambda: forwarder.held == 0, "every event decided")

    after = await scrape(endpoint)

    def grown(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    posts = {outcome: grown("xuc_webhook_deliveries_total", consumer=consumer, outcome=outcome)
             for outcome in ("delivered", "failed", "refused")}
    assert posts == {"delivered": 1, "failed": 1, "refused": 1}
    assert grown("xuc_webhook_retries_total", consumer=consumer) == 1
    assert grown("xuc_webhook_dead_lettered_total", consumer=consumer, cause="refused") == 1
    assert grown("xuc_webhook_dead_lettered_total", consumer=consumer, cause="attempts") == 0
    assert grown("xuc_nats_published_total", event="UndeliveredEvent") == 1
    assert grown("xuc_webhook_delivery_duration_seconds_count", consumer=consumer, outcome="delivered") == 1
    assert after.value("xuc_webhook_events_received_total", consumer=consumer) == 2
    assert after.value("xuc_webhook_events_held", consumer=consumer) == 0
    assert after.value("xuc_webhook_lanes", consumer=consumer) == 0


async def test_held_events_lanes_and_the_consumer_lag_show_while_the_receiver_stalls(
    connection: NatsClient, receiver: WebhookReceiver, make_forwarder: Callable[..., Awaitable[EventForwarder]],
    endpoint: str,
) -> None:
    # One event at a time may be held: the stalled first one; JetStream keeps the 2 others back.
    forwarder = await make_forwarder(max_ack_pending=1, timeout_seconds=5.0)
    consumer = forwarder.consumer.name
    carol = f"carol-{uuid.uuid4().hex[:6]}"
    receiver.stall(3.0, times=1, when=username_is(carol))  # then answered 200: delivered
    await NatsEventPublisher(connection, to_message).publish([status(carol, n) for n in range(3)])

    async def readings() -> tuple[float, ...]:
        page = await scrape(endpoint)
        return tuple(page.value(name, consumer=consumer) for name in (
            "xuc_event_consumer_pending", "xuc_event_consumer_ack_pending", "xuc_webhook_events_held",
            "xuc_webhook_lanes"))

    await eventually_async(readings, (2, 1, 1, 1), "2 events pending, 1 held in carol's lane (not acked)")
    await receiver.wait_for_deliveries(3, username=carol)
    await eventually_async(readings, (0, 0, 0, 0), "the backlog gone once the receiver answers")


async def eventually_async(read: Callable[[], Awaitable[tuple[float, ...]]], expected: tuple[float, ...],
                           what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while (value := await read()) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s: {what} (last read {value})")
        await asyncio.sleep(0.05)


async def test_the_endpoint_says_ready_only_once_the_delivery_takes_events() -> None:
    started = False
    server = StatusServer("127.0.0.1:0", lambda: started)
    await server.start()
    try:
        async with aiohttp.ClientSession(f"http://{server.address}") as session:
            async with session.get("/health/live") as live:
                assert live.status == 200
            async with session.get("/health/ready") as ready:
                assert (ready.status, await ready.json()) == (503, {"status": "starting"})
            started = True
            async with session.get("/health/ready") as ready:
                assert (ready.status, await ready.json()) == (200, {"status": "ready"})
    finally:
        await server.close()
