"""Publishing domain events as protobuf messages on NATS JetStream: the one way events leave a
service. Each service says how its events become messages (`to_message`); this does the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js import JetStreamContext

from xuc import subjects

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 2.0


class DomainEvent(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=DomainEvent, contravariant=True)


class NatsEventPublisher(Generic[E]):
    def __init__(self, connection: Client, to_message: Callable[[E], tuple[str, Message]]) -> None:
        self._connection = connection
        self._js: JetStreamContext = connection.jetstream()
        self._to_message = to_message

    async def publish(self, events: Sequence[E]) -> None:
        if not self._connection.is_connected:
            # Fail fast rather than make every caller wait out a publish timeout during an outage.
            log.error("events not published: NATS is not connected", extra={"count": len(events)})
            return
        for event in events:
            subject, message = self._to_message(event)
            headers = {
                subjects.EVENT_TYPE_HEADER: message.DESCRIPTOR.full_name,
                "Nats-Msg-Id": event.event_id,  # JetStream drops a retried duplicate
            }
            try:
                await self._js.publish(subject, message.SerializeToString(), timeout=PUBLISH_TIMEOUT_SECONDS,
                                       headers=headers)
            except Exception as exc:
                # The change is committed; an event bus outage must not undo it or fail the caller.
                log.error("event not published: %s", exc, extra={"subject": subject,
                                                                  "event": message.DESCRIPTOR.name})
