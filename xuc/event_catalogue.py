"""The event catalogue: every event on NATS, with its subject pattern, its protobuf message and its
stream, named once.

Publishers build their messages through an entry (`outgoing`: the subject for a key, checked
against the entry's message class), and consumers read them through one (`parse`, or `resolve`
from a message's subject and `Xuc-Event-Type` header): no one guesses a message type from a
subject, and a new event is one line here (tests/unit/test_event_catalogue.py checks that every
subject a publisher uses resolves to exactly one entry, whose message parses what it sends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from xuc import subjects
from xuc.subjects import Subject
from xucproto.events.v1.auth_events_pb2 import LoginAttempted, UserChanged
from xucproto.events.v1.contacts_events_pb2 import (
    ContactChanged,
    ContactsCleared,
    ContactsImported,
    FavoriteChanged,
    QualificationAnswered,
)
from xucproto.events.v1.telephony_events_pb2 import (
    AgentStateChanged,
    PhoneEvent,
    PhoneStatusChanged,
    PushRequested,
    UndeliveredEvent,
    UserServicesChanged,
    UserStatusChanged,
)

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class EventKind(Generic[M]):
    """One event: published on `subject.for_key(key)` in `stream`, as a `message`."""

    subject: Subject
    message: type[M]
    stream: str
    key: str  # what the subject's last token encodes

    @property
    def type_name(self) -> str:
        """The protobuf full name, as in the `Xuc-Event-Type` header: `xuc.events.v1.PhoneEvent`."""
        return str(self.message.DESCRIPTOR.full_name)

    def outgoing(self, key: str, message: M) -> tuple[str, M]:
        """What a publisher hands to NatsEventPublisher: the subject of `key`, and the message."""
        if type(message) is not self.message:
            raise TypeError(f"{self.subject.prefix} carries {self.type_name}, not {message.DESCRIPTOR.full_name}")
        return self.subject.for_key(key), message

    def parse(self, payload: bytes) -> M:
        """The message of a payload; ValueError for one that is not this message."""
        message = self.message()
        try:
            message.ParseFromString(payload)
        except DecodeError as exc:
            raise ValueError(f"undecodable {self.type_name}: {exc}") from exc
        return message


LOGIN_ATTEMPTED = EventKind(subjects.LOGIN_ATTEMPTED, LoginAttempted, subjects.AUTH_STREAM, "login")
USER_CHANGED = EventKind(subjects.USER_CHANGED, UserChanged, subjects.AUTH_STREAM, "login")
CONTACT_CHANGED = EventKind(subjects.CONTACT_CHANGED, ContactChanged, subjects.CONTACTS_STREAM, "owner login")
CONTACTS_IMPORTED = EventKind(subjects.CONTACTS_IMPORTED, ContactsImported, subjects.CONTACTS_STREAM, "owner login")
CONTACTS_CLEARED = EventKind(subjects.CONTACTS_CLEARED, ContactsCleared, subjects.CONTACTS_STREAM, "owner login")
FAVORITE_CHANGED = EventKind(subjects.FAVORITE_CHANGED, FavoriteChanged, subjects.CONTACTS_STREAM, "owner login")
QUALIFICATION_ANSWERED = EventKind(subjects.QUALIFICATION_ANSWERED, QualificationAnswered, subjects.CONTACTS_STREAM,
                                   "queue id")
PHONE_EVENT = EventKind(subjects.PHONE_EVENT, PhoneEvent, subjects.TELEPHONY_STREAM, "login")
PHONE_STATUS = EventKind(subjects.PHONE_STATUS, PhoneStatusChanged, subjects.TELEPHONY_STREAM, "login")
AGENT_STATE = EventKind(subjects.AGENT_STATE, AgentStateChanged, subjects.TELEPHONY_STREAM, "login")
USER_SERVICES = EventKind(subjects.USER_SERVICES, UserServicesChanged, subjects.TELEPHONY_STREAM, "login")
PUSH_REQUESTED = EventKind(subjects.PUSH_REQUESTED, PushRequested, subjects.TELEPHONY_STREAM, "login")
USER_STATUS = EventKind(subjects.USER_STATUS, UserStatusChanged, subjects.TELEPHONY_STREAM, "login")
WEBHOOK_DEAD = EventKind(subjects.WEBHOOK_DEAD, UndeliveredEvent, subjects.WEBHOOK_DEAD_STREAM, "login")

CATALOGUE: tuple[EventKind[Message], ...] = (
    LOGIN_ATTEMPTED, USER_CHANGED, CONTACT_CHANGED, CONTACTS_IMPORTED, CONTACTS_CLEARED, FAVORITE_CHANGED,
    QUALIFICATION_ANSWERED,
    PHONE_EVENT, PHONE_STATUS, AGENT_STATE, USER_SERVICES, PUSH_REQUESTED, USER_STATUS, WEBHOOK_DEAD,
)  # type: ignore[assignment]  # an EventKind of a subclass is one of Message: it is only read
_BY_PREFIX = {kind.subject.prefix: kind for kind in CATALOGUE}
_BY_TYPE = {kind.type_name: kind for kind in CATALOGUE}


def by_subject(subject: str) -> EventKind[Message] | None:
    """The entry whose pattern `subject` matches (`<prefix>.<one token>`), None for no entry."""
    prefix, separator, token = subject.rpartition(".")
    return _BY_PREFIX.get(prefix) if separator and token else None


def by_type(type_name: str) -> EventKind[Message] | None:
    return _BY_TYPE.get(type_name)


def resolve(subject: str, type_header: str | None) -> EventKind[Message] | None:
    """The entry of a received message: the one its `Xuc-Event-Type` header names (every publisher
    of ours sets it; a type outside the catalogue is None), else the one of its subject (a message
    published by a tool, without the header)."""
    if type_header:
        return by_type(type_header)
    return by_subject(subject)
