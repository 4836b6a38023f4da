"""How auth events become protobuf messages and subjects (xuc.runtime.events publishes them)."""

from __future__ import annotations

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.auth.domain.model import Event, LoginAttempted
from xuc import event_catalogue
from xucproto.events.v1 import auth_events_pb2


def _timestamp(event: Event) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(event.occurred_at)
    return stamp


def to_message(event: Event) -> tuple[str, Message]:
    if isinstance(event, LoginAttempted):
        return event_catalogue.LOGIN_ATTEMPTED.outgoing(event.login, auth_events_pb2.LoginAttempted(
            login=event.login,
            success=event.success,
            reason=event.reason,
            method=event.method,
            client_address=event.client.address,
            software_type=event.client.software_type,
            application_type=event.client.application_type,
            user_id=event.user_id,
            occurred_at=_timestamp(event),
        ))
    message = auth_events_pb2.UserChanged(login=event.login, user_id=event.user_id, change=event.change,
                                          occurred_at=_timestamp(event), disabled=event.disabled)
    message.credentials_changed_at.FromMilliseconds(event.credentials_changed_at)
    return event_catalogue.USER_CHANGED.outgoing(event.login, message)
