"""Fixtures of the webhook delivery's tests: a real nats-server (the run's), the XUC_TELEPHONY
stream, the services' publisher, a real HTTP receiver, a durable consumer of each test's own
(deleted at teardown), forwarders on it with small back-off values, and a real /metrics page."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.webhooks.entrypoints.event_forwarder import EventForwarder
from tests.support.webhook_events import Counts, TelephonyEvent, to_message
from tests.support.webhook_receiver import WebhookReceiver
from xuc import subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.metrics import MetricsServer
from xuc.runtime.nats import ensure_stream

MakeForwarder = Callable[..., Awaitable[EventForwarder]]
Publish = Callable[[list[TelephonyEvent]], Awaitable[None]]
FAST = {  # seconds: a test's whole retry story fits in about a second
    "timeout_seconds": 1.0,
    "initial_backoff_seconds": 0.05,
    "max_backoff_seconds": 0.2,
    "max_attempts": 5,
}


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


