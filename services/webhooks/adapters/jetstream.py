"""The webhook delivery on JetStream: the durable push consumer of the telephony events, the
deliveries it pushes, and the dead letters' stream.

One durable *push* consumer (`xuc-webhook`) with a deliver group shared by every webhooks process:
the server pushes each event to one member as soon as it is stored (no fetch loop, so no polling
delay on the publish-to-POST path), and `max_ack_pending` bounds what all members hold together.
Events of one user may be reordered when *several* processes deliver (the group spreads a user's
events over the members); order per user is guaranteed within a process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.webhooks.adapters.decoding import FORWARDED_SUBJECTS, decode
from services.webhooks.domain.ports import DeadLetter
from xuc import event_catalogue, subjects
from xuc.runtime import metrics
from xuc.runtime.metrics import WebhookMetrics
from xucproto.events.v1.telephony_events_pb2 import UndeliveredEvent

log = logging.getLogger(__name__)
DEAD_LETTER_PUBLISH_TIMEOUT_SECONDS = 2.0
LAG_TIMEOUT_SECONDS = 2.0
STREAM = event_catalogue.PHONE_EVENT.stream


@dataclass
class NatsDelivery:
    """A delivery of the consumer (domain/ports.py: Delivery)."""

    msg: Msg
    sequence: int

    @property
    def subject(self) -> str:
        return self.msg.subject

    @property
    def payload(self) -> bytes:
        return self.msg.data

    @property
    def event_id(self) -> str:
        return (self.msg.headers or {}).get("Nats-Msg-Id", "")

    async def ack(self) -> None:
        await self.msg.ack()

    async def nak(self) -> None:
        await self.msg.nak()

    async def in_progress(self) -> None:
        await self.msg.in_progress()


class NatsDeadLetters:
    """Dead letters as UndeliveredEvent messages on `xuc.webhook.dead.<login>` (XUC_WEBHOOK_DEAD)."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def set_aside(self, letter: DeadLetter) -> None:
        failed_at = Timestamp()
        failed_at.GetCurrentTime()
        record = UndeliveredEvent(subject=letter.subject, payload=letter.payload, event_type=letter.event_type,
                                  body=letter.body, attempts=letter.attempts, last_error=letter.last_error,
                                  failed_at=failed_at)
        subject, record = event_catalogue.WEBHOOK_DEAD.outgoing(letter.username, record)
        headers = {subjects.EVENT_TYPE_HEADER: event_catalogue.WEBHOOK_DEAD.type_name,
                   # A second dead letter for the same event (a crash before the ack) is dropped.
                   "Nats-Msg-Id": f"{STREAM}:{letter.sequence}"}
        try:
            await self._js.publish(subject, record.SerializeToString(), timeout=DEAD_LETTER_PUBLISH_TIMEOUT_SECONDS,
                                   headers=headers)
        except Exception:
            metrics.NATS_PUBLISHING.failed(UndeliveredEvent.DESCRIPTOR.name)
            raise
        metrics.NATS_PUBLISHING.published(UndeliveredEvent.DESCRIPTOR.name)



@dataclass(frozen=True)
class ConsumerOptions:
    name: str = subjects.WEBHOOK_CONSUMER
    deliver_group: str = subjects.WEBHOOK_DELIVER_GROUP
    ack_wait_seconds: float = 30.0
    max_ack_pending: int = 10_000


async def ensure_consumer(js: JetStreamContext, options: ConsumerOptions, first_events: DeliverPolicy
                          ) -> ConsumerConfig:
    """The shared durable push consumer, created at the first start (from new events on: a newly
    set event URL does not receive a week of history; from the stream's start when the stream is
    younger than this start), kept at later starts (its limits and filters brought up to date)."""
    filters = sorted(FORWARDED_SUBJECTS)
    try:
        info = await js.consumer_info(STREAM, options.name)
    except NotFoundError:
        config = ConsumerConfig(
            name=options.name, durable_name=options.name,
            description="xuc webhooks: events POSTed to the event URL",
            deliver_subject=subjects.webhook_deliver_subject(options.name), deliver_group=options.deliver_group,
            deliver_policy=first_events, ack_policy=AckPolicy.EXPLICIT,
            ack_wait=options.ack_wait_seconds, max_ack_pending=options.max_ack_pending, max_deliver=-1,
            filter_subjects=filters,
        )
        created = await js.add_consumer(STREAM, config)
        log.info("created consumer", extra={"stream": STREAM, "consumer": options.name})
        return created.config
    existing: ConsumerConfig = info.config
    if not existing.deliver_subject or existing.deliver_group != options.deliver_group:
        raise RuntimeError(f"consumer {options.name} of {STREAM} is not a push consumer with deliver group "
                           f"{options.deliver_group}: delete it (nats consumer rm) to let webhooks create it")
    current_filters = sorted(existing.filter_subjects or ([existing.filter_subject] if existing.filter_subject
                                                          else []))
    if (existing.ack_wait, existing.max_ack_pending, current_filters) == (
            options.ack_wait_seconds, options.max_ack_pending, filters):
        return existing
    updated = await js.add_consumer(STREAM, existing.evolve(
        ack_wait=options.ack_wait_seconds, max_ack_pending=options.max_ack_pending, filter_subject=None,
        filter_subjects=filters,
    ))
    log.info("updated consumer", extra={"stream": STREAM, "consumer": options.name})
    return updated.config


def message_handler(consumer: str, deliver: Callable[..., Awaitable[None]]) -> Callable[[Msg], Awaitable[None]]:
    """The subscription's callback (called for each delivery, one at a time: it must not wait on
    HTTP): checks that the message is an event of our consumer, decodes it, hands it over."""

    async def on_message(msg: Msg) -> None:
        try:
            metadata = msg.metadata
            sequence = metadata.sequence.stream
        except Exception:
            log.warning("webhooks: not a JetStream message, ignored", extra={"subject": msg.subject})
            return
        if (metadata.stream, metadata.consumer) != (STREAM, consumer):
            # Pushed to our delivery subject by another consumer (one a NATS user made to deliver
            # there): not an event of ours to post, nor to ack (the ack would go to that consumer).
            log.warning("webhooks: a message from another consumer, ignored",
                        extra={"stream": metadata.stream, "consumer": metadata.consumer})
            return
        decoded = decode(msg.subject, msg.data, (msg.headers or {}).get(subjects.EVENT_TYPE_HEADER))
        await deliver(NatsDelivery(msg, sequence), decoded.event, decoded.event_type, decoded.error)

    return on_message


async def sample_lag(js: JetStreamContext, consumer: str, recorded: WebhookMetrics) -> None:
    """Read the consumer's backlog from JetStream into the lag gauges; a failure (NATS down) is
    logged at debug level and leaves the last values."""
    try:
        info = await js.consumer_info(STREAM, consumer, timeout=LAG_TIMEOUT_SECONDS)
    except Exception as exc:
        log.debug("webhooks: consumer lag not sampled: %s", exc)
        return
    recorded.pending.set(info.num_pending or 0)
    recorded.ack_pending.set(info.num_ack_pending or 0)
