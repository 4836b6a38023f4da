"""The only place auth events leave the service: protobuf messages on NATS JetStream."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.auth.domain.model import Event, LoginAttempted
from xuc import subjects
from xucproto.events.v1 import auth_events_pb2

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 2.0


def _timestamp(event: Event) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(event.occurred_at)
    return stamp


def to_message(event: Event) -> tuple[str, Message]:
    if isinstance(event, LoginAttempted):
        return subjects.LOGIN_ATTEMPTED.for_key(event.login), auth_events_pb2.LoginAttempted(
            login=event.login,
            success=event.success,
            reason=event.reason,
            method=event.method,
            client_address=event.client.address,
            software_type=event.client.software_type,
            application_type=event.client.application_type,
            user_id=event.user_id,
            occurred_at=_timestamp(event),
        )
    return subjects.USER_CHANGED.for_key(event.login), auth_events_pb2.UserChanged(
        login=event.login, user_id=event.user_id, change=event.change, occurred_at=_timestamp(event)
    )


class NatsPublisher:
    def __init__(self, connection: Client) -> None:
        self._connection = connection
        self._js: JetStreamContext = connection.jetstream()

    async def publish(self, events: Sequence[Event]) -> None:
        if not self._connection.is_connected:
            # Fail fast rather than make every caller wait out a publish timeout during an outage.
            log.error("events not published: NATS is not connected", extra={"count": len(events)})
            return
        for event in events:
            subject, message = to_message(event)
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

