"""Every NATS subject, stream and durable consumer name of the system, defined once.

Subjects are `xuc.<domain>.<event>.<key>`; the key (a login, say) is encoded as one subject
token: characters outside [A-Za-z0-9_-] (dots, wildcards, spaces, non-ASCII) become `~XX` bytes
of their UTF-8 encoding, so any login maps to exactly one token and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js.api import StorageType, StreamConfig

_SAFE = re.compile(rb"[A-Za-z0-9_-]")


def encode_token(value: str) -> str:
    if not value:
        return "~"  # an empty token is not allowed in a subject
    return "".join(
        chr(byte) if _SAFE.fullmatch(bytes([byte])) else f"~{byte:02X}" for byte in value.encode("utf-8")
    )


_ENCODED = re.compile(r"(?:[A-Za-z0-9_-]|~[0-9A-F]{2})+")


def decode_token(token: str) -> str:
    """The key `encode_token` made this token from; ValueError for a token it cannot have made."""
    if token == "~":
        return ""
    if not _ENCODED.fullmatch(token):
        raise ValueError(f"{token!r} is not an encoded subject token")
    out, i = bytearray(), 0
    while i < len(token):
        if token[i] == "~":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(ord(token[i]))
            i += 1
    decoded = out.decode("utf-8")
    if encode_token(decoded) != token:  # e.g. "~41" for "A": one key, one spelling
        raise ValueError(f"{token!r} is not the canonical encoding of {decoded!r}")
    return decoded


@dataclass(frozen=True)
class Subject:
    """A subject template `prefix.<key>`; `all` is the wildcard a subscriber filters on."""

    prefix: str

    def for_key(self, key: str) -> str:
        return f"{self.prefix}.{encode_token(key)}"

    @property
    def all(self) -> str:
        return f"{self.prefix}.*"

    def key_of(self, subject: str) -> str:
        head, _, token = subject.rpartition(".")
        if head != self.prefix:
            raise ValueError(f"{subject!r} is not a {self.prefix} subject")
        return decode_token(token)


# --- auth ---------------------------------------------------------------------------------
AUTH_STREAM = "XUC_AUTH"
LOGIN_ATTEMPTED = Subject("xuc.auth.login")  # xucproto.events.v1.LoginAttempted
USER_CHANGED = Subject("xuc.auth.user")  # xucproto.events.v1.UserChanged

# The header naming the protobuf message type of a payload, e.g. "xuc.events.v1.LoginAttempted".
EVENT_TYPE_HEADER = "Xuc-Event-Type"


def auth_stream() -> StreamConfig:
    return StreamConfig(
        name=AUTH_STREAM,
        subjects=["xuc.auth.>"],
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600,  # seconds: audit events are kept a month
        duplicate_window=120,
    )


# --- contacts -------------------------------------------------------------------------------------
CONTACTS_STREAM = "XUC_CONTACTS"
CONTACT_CHANGED = Subject("xuc.contacts.contact")  # xucproto.events.v1.ContactChanged, key: owner login
CONTACTS_IMPORTED = Subject("xuc.contacts.imported")  # xucproto.events.v1.ContactsImported
CONTACTS_CLEARED = Subject("xuc.contacts.cleared")  # xucproto.events.v1.ContactsCleared
FAVORITE_CHANGED = Subject("xuc.contacts.favorite")  # xucproto.events.v1.FavoriteChanged, key: owner login
# xucproto.events.v1.QualificationAnswered, key: the queue id
QUALIFICATION_ANSWERED = Subject("xuc.contacts.qualification")


def contacts_stream() -> StreamConfig:
    return StreamConfig(
        name=CONTACTS_STREAM,
        subjects=["xuc.contacts.>"],
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600,
        duplicate_window=120,
    )


# --- telephony -------------------------------------------------------------------------------------
TELEPHONY_STREAM = "XUC_TELEPHONY"
PHONE_EVENT = Subject("xuc.telephony.phone")  # xucproto.events.v1.PhoneEvent, key: login
PHONE_STATUS = Subject("xuc.telephony.status")  # xucproto.events.v1.PhoneStatusChanged, key: login
AGENT_STATE = Subject("xuc.telephony.agent")  # xucproto.events.v1.AgentStateChanged, key: login
USER_SERVICES = Subject("xuc.telephony.services")  # xucproto.events.v1.UserServicesChanged, key: login
PUSH_REQUESTED = Subject("xuc.telephony.push")  # xucproto.events.v1.PushRequested, key: login
USER_STATUS = Subject("xuc.telephony.presence")  # xucproto.events.v1.UserStatusChanged, key: login


def telephony_stream() -> StreamConfig:
    return StreamConfig(
        name=TELEPHONY_STREAM,
        subjects=["xuc.telephony.>"],
        storage=StorageType.FILE,
        max_age=7 * 24 * 3600,  # phone events are live data: a week covers any receiver outage
        duplicate_window=120,
    )


# --- the event URL forwarder (in the gateway) ----------------------------------------------------
# One durable consumer shared by every gateway process (a queue group): each event is posted once.
WEBHOOK_CONSUMER = "xuc-webhook"
WEBHOOK_DELIVER_GROUP = "xuc-webhook"


def webhook_deliver_subject(consumer: str = WEBHOOK_CONSUMER) -> str:
    """Where the server pushes the webhook consumer's events (the gateway alone may subscribe)."""
    return f"_xuc.deliver.{consumer}"


WEBHOOK_SUBJECTS = (PHONE_EVENT.all, PHONE_STATUS.all)
WEBHOOK_DEAD_STREAM = "XUC_WEBHOOK_DEAD"
WEBHOOK_DEAD = Subject("xuc.webhook.dead")  # xucproto.events.v1.UndeliveredEvent, key: login


def webhook_dead_stream() -> StreamConfig:
    return StreamConfig(
        name=WEBHOOK_DEAD_STREAM,
        subjects=["xuc.webhook.dead.>"],
        storage=StorageType.FILE,
        max_age=30 * 24 * 3600,  # kept a month for an operator to inspect and replay
    )


ALL_STREAMS = (auth_stream, contacts_stream, telephony_stream, webhook_dead_stream)
