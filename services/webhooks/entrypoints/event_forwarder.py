"""The webhook delivery put together: the JetStream consumer feeding the per-user lanes
(service_layer/forwarding.py), which post over HTTP and set dead letters aside on NATS.

`start()` creates the dead letters' stream and the consumer if needed (idempotent), waiting for
telephony to create its stream first; `stop()` drains (no new message, posts in flight finish,
what is still held is nak'd for another process or the next start).
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from services.webhooks.adapters.http_poster import HttpPoster
from services.webhooks.adapters.jetstream import (
    STREAM,
    ConsumerOptions,
    NatsDeadLetters,
    ensure_consumer,
    message_handler,
    sample_lag,
)
from services.webhooks.domain.bodies import loggable_url
from services.webhooks.domain.retries import RetryPolicy
from services.webhooks.service_layer.forwarding import Forwarder
from xuc import subjects
from xuc.runtime.metrics import WebhookMetrics
from xuc.runtime.nats import ensure_stream, wait_for_stream
from xuc.runtime.settings import WebhooksSettings
from xuc.tasks import cancel_all

log = logging.getLogger(__name__)


class EventForwarder:
    """Posts phone events and phone status changes from JetStream to the event URL. Build it in
    the composition root, `await start()` once NATS is connected, `await stop()` before the NATS
    connection is closed. Its counts are Prometheus metrics (labelled by consumer)."""

    def __init__(
        self,
        connection: Client,
        event_url: str,
        *,
        max_attempts: int = 10,
        timeout_seconds: float = 5.0,
        initial_backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        max_ack_pending: int = 10_000,
        max_user_backlog: int = 1000,
        max_concurrent_posts: int = 64,
        ack_wait_seconds: float = 30.0,
        lag_interval_seconds: float = 5.0,
        consumer: str = subjects.WEBHOOK_CONSUMER,
        deliver_group: str = subjects.WEBHOOK_DELIVER_GROUP,
    ) -> None:
        if min(max_ack_pending, max_user_backlog, max_concurrent_posts) < 1:
            raise ValueError("max_ack_pending, max_user_backlog and max_concurrent_posts must be at least 1")
        if min(timeout_seconds, ack_wait_seconds, lag_interval_seconds) <= 0:
            raise ValueError("timeouts, ack_wait and the lag interval must be positive")
        self._connection = connection
        self._js: JetStreamContext = connection.jetstream()
        self.consumer = ConsumerOptions(consumer, deliver_group, ack_wait_seconds, max_ack_pending)
        self._lag_interval = lag_interval_seconds
        self.metrics = WebhookMetrics(consumer)
        self.poster = HttpPoster(event_url, timeout_seconds, max_concurrent_posts)
        self.policy = RetryPolicy(max_attempts, initial_backoff_seconds, max_backoff_seconds)
        self.lanes = Forwarder(self.poster, NatsDeadLetters(self._js), self.policy, self.metrics,
                               max_user_backlog=max_user_backlog, max_concurrent_posts=max_concurrent_posts,
                               ack_wait_seconds=ack_wait_seconds, timeout_seconds=timeout_seconds)
        self._subscription: JetStreamContext.PushSubscription | None = None
        self._lag_sampler: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False

    @classmethod
    def from_settings(cls, connection: Client, settings: WebhooksSettings) -> EventForwarder:
        return cls(connection, settings.event_url, max_attempts=settings.max_attempts,
                   timeout_seconds=settings.timeout_seconds, max_backoff_seconds=settings.max_backoff_seconds)

    @property
    def held(self) -> int:
        """Events taken and not yet acked: posting, backing off, or waiting behind their user's."""
        return self.lanes.held

    async def start(self) -> None:
        """Create the streams and the consumer if needed (idempotent), then take events."""
        if self._started:
            raise RuntimeError("the forwarder is already started")
        self._started = True
        await ensure_stream(self._js, subjects.webhook_dead_stream())
        # The telephony service creates the stream. When it did after we started, every event in it
        # is newer than this start: a new consumer takes them all, not only those after its creation.
        created_meanwhile = await wait_for_stream(self._js, STREAM)
        config = await ensure_consumer(self._js, self.consumer,
                                       DeliverPolicy.ALL if created_meanwhile else DeliverPolicy.NEW)
        self.poster.open()
        try:
            self._subscription = await self._js.subscribe_bind(
                stream=STREAM, config=config, consumer=self.consumer.name,
                cb=message_handler(self.consumer.name, self.lanes.accept), manual_ack=True,
            )
        except BaseException:
            await self.poster.close()
            raise
        self.lanes.start()
        self._lag_sampler = asyncio.create_task(self._sample_lag_periodically())
        log.info("forwarding events to the event URL", extra={
            "url": loggable_url(self.poster.url), "consumer": self.consumer.name,
            "max_attempts": self.policy.max_attempts})

    async def stop(self) -> None:
        """Drain: take no new message, let posts in flight finish, nak what was not delivered."""
        if self._subscription is None or self._stopped:
            return
        self._stopped = True
        self.lanes.stop_taking()
        try:
            # Messages already received are refused (nak'd below). (nats-py leaves drain unannotated.)
            await self._subscription.drain()  # type: ignore[no-untyped-call]
        except Exception as exc:
            log.warning("webhooks: could not drain the subscription: %s", exc)
        await self.lanes.stop()
        await cancel_all([self._lag_sampler])
        await self._flush()
        await self.poster.close()
        log.info("webhook delivery stopped", extra={"consumer": self.consumer.name})

    async def sample_lag(self) -> None:
        await sample_lag(self._js, self.consumer.name, self.metrics)

    async def _sample_lag_periodically(self) -> None:
        while True:
            await self.sample_lag()
            await asyncio.sleep(self._lag_interval)

    async def _flush(self) -> None:
        """Acks and naks are buffered publishes: make sure they reached the server."""
        if not self._connection.is_connected:
            return
        try:
            await self._connection.flush(timeout=2)
        except Exception as exc:
            log.warning("webhooks: flush failed: %s", exc)
