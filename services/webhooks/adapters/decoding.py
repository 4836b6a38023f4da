"""The telephony messages the event URL receives, read through the event catalogue: the message
type comes from the catalogue entry the `Xuc-Event-Type` header (else the subject) names."""

from __future__ import annotations

from typing import NamedTuple

from services.webhooks.domain.bodies import EventBody, PhoneEventHappened, PhoneStatusChanged, event_body
from xuc import event_catalogue, subjects
from xuc.event_catalogue import EventKind
from xucproto.events.v1 import telephony_events_pb2 as pb

# The events the event URL receives, and the subjects its consumer filters on.
FORWARDED: tuple[EventKind[pb.PhoneEvent] | EventKind[pb.PhoneStatusChanged], ...] = (
    event_catalogue.PHONE_EVENT, event_catalogue.PHONE_STATUS)
FORWARDED_SUBJECTS = tuple(kind.subject.all for kind in FORWARDED)


class Decoded(NamedTuple):
    """A received message: its body at the event URL (None: a type the URL does not receive), its
    type name, and why it cannot be posted ("" when it can)."""

    event: EventBody | None
    event_type: str
    error: str = ""


def subject_key(subject: str) -> str:
    """The login a subject ends with; the raw token if it is not one `encode_token` made."""
    token = subject.rpartition(".")[2]
    try:
        return subjects.decode_token(token)
    except ValueError:
        return token


def event_body_of(subject: str, payload: bytes, type_header: str | None) -> EventBody | None:
    """The user and JSON body the event URL receives for a message; None for a type it does not
    receive; ValueError for a payload that is not the message its type says."""
    kind = event_catalogue.resolve(subject, type_header)
    if kind is event_catalogue.PHONE_EVENT:
        event = event_catalogue.PHONE_EVENT.parse(payload)
        return event_body(PhoneEventHappened(
            username=event.username or subject_key(subject), event_type=event.event_type, dn=event.dn,
            other_dn=event.other_dn, linked_id=event.linked_id, unique_id=event.unique_id,
            user_data=dict(event.user_data)))
    if kind is event_catalogue.PHONE_STATUS:
        status = event_catalogue.PHONE_STATUS.parse(payload)
        return event_body(PhoneStatusChanged(status.username or subject_key(subject), status.status))
    return None


def decode(subject: str, payload: bytes, type_header: str | None) -> Decoded:
    kind = event_catalogue.resolve(subject, type_header)
    event_type = type_header or (kind.type_name if kind is not None else "")
    try:
        return Decoded(event_body_of(subject, payload, type_header), event_type)
    except ValueError as exc:
        return Decoded(EventBody(subject_key(subject), ""), event_type, str(exc))
