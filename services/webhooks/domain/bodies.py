"""What one event becomes at the event URL: the JSON body of the original xuc, exactly.

The events arrive here decoded (adapters/decoding.py reads the protobuf messages through the
event catalogue): this module knows the bodies only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class PhoneEventHappened:
    """A phone event of a user's line (xuc.events.v1.PhoneEvent)."""

    username: str
    event_type: str
    dn: str
    other_dn: str
    linked_id: str
    unique_id: str
    user_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PhoneStatusChanged:
    """A user's phone status changed (xuc.events.v1.PhoneStatusChanged)."""

    username: str
    status: int


WebhookEvent = PhoneEventHappened | PhoneStatusChanged


class EventBody(NamedTuple):
    """What one event becomes at the event URL: the user it is for (its lane) and the JSON text."""

    username: str
    body: str


def _dumps(document: dict[str, Any]) -> str:
    # Compact, like the original's Play JSON; UTF-8 as is (the body is sent as UTF-8).
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def event_body(event: WebhookEvent) -> EventBody:
    """The user and JSON body the event URL receives for an event."""
    if isinstance(event, PhoneStatusChanged):
        return EventBody(event.username, _dumps({"username": event.username, "status": event.status}))
    return EventBody(event.username, _dumps({
        "username": event.username,
        "message": {
            "msgType": "PhoneEvent",
            "ctiMessage": {
                "eventType": event.event_type,
                "DN": event.dn,
                "otherDN": event.other_dn,
                "linkedId": event.linked_id,
                "uniqueId": event.unique_id,
                "userData": dict(sorted(event.user_data.items())),  # one event, one body
            },
        },
    }))


def loggable_url(url: str) -> str:
    """The URL without what may be a secret (user:password@, the query): webhook URLs often carry
    a token, and logs are read by more people than the configuration."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
