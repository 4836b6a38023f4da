"""The personal contacts' domain events, published after the change is committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from services.contacts.domain.contacts import Owner


def _event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ContactChanged:
    owner: Owner
    contact_id: str
    change: str  # "created", "updated", "deleted"
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


@dataclass(frozen=True)
class ContactsImported:
    owner: Owner
    created: int
    failed: int
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


@dataclass(frozen=True)
class ContactsCleared:
    owner: Owner
    deleted: int
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


@dataclass(frozen=True)
class FavoriteChanged:
    owner: Owner
    action: str  # "Added", "Removed"
    contact_id: str
    source: str  # "internal", "personal"
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


Event = ContactChanged | ContactsImported | ContactsCleared | FavoriteChanged
