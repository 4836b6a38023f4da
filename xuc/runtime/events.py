"""Publishing domain events as protobuf messages on NATS JetStream: the one way events leave a
service. Each service says how its events become messages (`to_message`); this does the rest:
headers (the type, the id JetStream deduplicates on, the request id that caused the event),
and the counts of events published and failed (`xuc_nats_published_total`, ..._failures_total)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js import JetStreamContext

from xuc import subjects
from xuc.runtime import request_ids
from xuc.runtime.metrics import NATS_PUBLISHING, PublishMetrics

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 2.0


class DomainEvent(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=DomainEvent, contravariant=True)


class NatsEventPublisher(Generic[E]):
    """Publishes events in the order given. With `confirm` (the default) each publish waits for
    JetStream's ack before the next; without it, messages are written in order at once and their
    acks are checked in the background (a failure or a missing ack is logged), so that a hot
    event path (the telephony service's phone events) does not wait a round trip per event."""

    def __init__(self, connection: Client, to_message: Callable[[E], tuple[str, Message]],
                 confirm: bool = True, metrics: PublishMetrics = NATS_PUBLISHING) -> None:
        self._connection = connection
        self._metrics = metrics
        self._js: JetStreamContext = connection.jetstream()
        self._to_message = to_message
        self._confirm = confirm
        self._watchers: set[asyncio.Task[None]] = set()

    async def publish(self, events: Sequence[E]) -> None:
        if not events:
            return
        if not self._connection.is_connected:
            # Fail fast rather than make every caller wait out a publish timeout during an outage.
            log.error("events not published: NATS is not connected", extra={"count": len(events)})
            for event in events:
                self._metrics.failed(self._to_message(event)[1].DESCRIPTOR.name)
            return
        if self._confirm:
            for event in events:
                await self._publish_confirmed(*self._encode(event))
            return
        pending: list[tuple[str, str, asyncio.Future[Any]]] = []
        for event in events:
            subject, payload, headers, name = self._encode(event)
            try:
                # No stall timeout (it would cost a task per event): a slot is held at most
                # PUBLISH_TIMEOUT_SECONDS, after which _check_acks cancels the late ack.
                ack = await self._js.publish_async(subject, payload, wait_stall=None, headers=headers)
            except Exception as exc:
                log.error("event not published: %s", exc, extra={"subject": subject, "event": name})
                self._metrics.failed(name)
                continue
            pending.append((subject, name, ack))
        if pending:
            watcher = asyncio.create_task(self._check_acks(pending))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def close(self) -> None:
        """Wait for the acks still being checked (before the NATS connection is closed)."""
        if self._watchers:
            await asyncio.wait(set(self._watchers), timeout=PUBLISH_TIMEOUT_SECONDS)

    def _encode(self, event: E) -> tuple[str, bytes, dict[str, str], str]:
        subject, message = self._to_message(event)
        headers = {
            subjects.EVENT_TYPE_HEADER: message.DESCRIPTOR.full_name,
            "Nats-Msg-Id": event.event_id,  # JetStream drops a retried duplicate
        }
        request_id = request_ids.current()
        if request_id is not None:
            headers[request_ids.NATS_HEADER] = request_id
        return subject, message.SerializeToString(), headers, message.DESCRIPTOR.name

    async def _publish_confirmed(self, subject: str, payload: bytes, headers: dict[str, str], name: str) -> None:
        try:
            await self._js.publish(subject, payload, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers)
        except Exception as exc:
            # The change is committed; an event bus outage must not undo it or fail the caller.
            log.error("event not published: %s", exc, extra={"subject": subject, "event": name})
            self._metrics.failed(name)
        else:
            self._metrics.published(name)

    async def _check_acks(self, pending: list[tuple[str, str, asyncio.Future[Any]]]) -> None:
        _, late = await asyncio.wait([ack for _, _, ack in pending], timeout=PUBLISH_TIMEOUT_SECONDS)
        for subject, name, ack in pending:
            if ack in late:
                ack.cancel()  # frees its slot among the connection's pending publishes
                log.error("event not confirmed by JetStream in time", extra={"subject": subject, "event": name})
                self._metrics.failed(name)
            elif ack.exception() is not None:
                log.error("event not published: %s", ack.exception(), extra={"subject": subject, "event": name})
                self._metrics.failed(name)
            else:
                self._metrics.published(name)
