"""How telephony events become protobuf messages and subjects (xuc.runtime.events publishes them).
Every subject is keyed by the user's login."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.telephony.domain.model import (
    AgentStateChanged,
    Event,
    PhoneEventOccurred,
    PhoneStatusChanged,
    PushRequested,
    UserServicesChanged,
    UserStatusChanged,
)
from xuc import event_catalogue
from xucproto.events.v1 import telephony_events_pb2 as pb


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def phone_event_message(event: PhoneEventOccurred) -> pb.PhoneEvent:
    """As published, and as GetCurrentCalls answers it."""
    channel = event.channel
    return pb.PhoneEvent(
        username=event.login, event_type=channel.state.value, dn=channel.number, other_dn=channel.other_number,
        linked_id=channel.linked_id, unique_id=channel.unique_id, user_data=dict(channel.user_data),
        occurred_at=_timestamp(event.occurred_at), event_id=event.event_id, other_name=channel.other_name,
        call_direction=event.direction)


def telephony_event_message(event: Event) -> tuple[str, Message]:
    at = _timestamp(event.occurred_at)
    if isinstance(event, PhoneEventOccurred):
        return event_catalogue.PHONE_EVENT.outgoing(event.login, phone_event_message(event))
    if isinstance(event, PhoneStatusChanged):
        return event_catalogue.PHONE_STATUS.outgoing(event.login, pb.PhoneStatusChanged(
            username=event.login, number=event.number, status=event.status, handshake=event.handshake,
            occurred_at=at, event_id=event.event_id))
    if isinstance(event, AgentStateChanged):
        state = event.state
        return event_catalogue.AGENT_STATE.outgoing(state.agent.login, pb.AgentStateChanged(
            username=state.agent.login, agent_number=state.agent.number, state=state.status.value,
            phone_number=state.phone_number, occurred_at=at, event_id=event.event_id))
    if isinstance(event, UserServicesChanged):
        services = event.services
        return event_catalogue.USER_SERVICES.outgoing(services.login, pb.UserServicesChanged(
            username=services.login, dnd=services.dnd,
            unconditional_enabled=services.unconditional.enabled,
            unconditional_destination=services.unconditional.destination,
            no_answer_enabled=services.no_answer.enabled, no_answer_destination=services.no_answer.destination,
            busy_enabled=services.busy.enabled, busy_destination=services.busy.destination,
            occurred_at=at, event_id=event.event_id))
    if isinstance(event, UserStatusChanged):
        status = event.status
        return event_catalogue.USER_STATUS.outgoing(event.login, pb.UserStatusChanged(
            username=event.login, status=status.name, long_name=status.long_name, color=status.color,
            occurred_at=at, event_id=event.event_id))
    assert isinstance(event, PushRequested)
    return event_catalogue.PUSH_REQUESTED.outgoing(event.login, pb.PushRequested(
        username=event.login, platform=event.platform.value, token=event.token, caller_number=event.caller_number,
        caller_name=event.caller_name, unique_id=event.unique_id, linked_id=event.linked_id, occurred_at=at,
        event_id=event.event_id))
