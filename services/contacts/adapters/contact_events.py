"""How personal contacts events become protobuf messages and subjects (xuc.runtime.events publishes
them). Subjects are keyed by the owner's login."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.contacts.domain.events import ContactChanged, ContactsImported, Event, FavoriteChanged
from xuc import event_catalogue
from xucproto.events.v1 import contacts_events_pb2


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def contact_event_message(event: Event) -> tuple[str, Message]:
    owner = event.owner
    occurred_at = _timestamp(event.occurred_at)
    if isinstance(event, ContactChanged):
        return event_catalogue.CONTACT_CHANGED.outgoing(owner.login, contacts_events_pb2.ContactChanged(
            owner_login=owner.login, owner_user_id=owner.user_id, contact_id=event.contact_id,
            change=event.change, occurred_at=occurred_at,
        ))
    if isinstance(event, ContactsImported):
        return event_catalogue.CONTACTS_IMPORTED.outgoing(owner.login, contacts_events_pb2.ContactsImported(
            owner_login=owner.login, owner_user_id=owner.user_id, created=event.created, failed=event.failed,
            occurred_at=occurred_at,
        ))
    if isinstance(event, FavoriteChanged):
        return event_catalogue.FAVORITE_CHANGED.outgoing(owner.login, contacts_events_pb2.FavoriteChanged(
            owner_login=owner.login, owner_user_id=owner.user_id, action=event.action, contact_id=event.contact_id,
            source=event.source, occurred_at=occurred_at,
        ))
    return event_catalogue.CONTACTS_CLEARED.outgoing(owner.login, contacts_events_pb2.ContactsCleared(
        owner_login=owner.login, owner_user_id=owner.user_id, deleted=event.deleted, occurred_at=occurred_at,
    ))
