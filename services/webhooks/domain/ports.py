"""What the delivery needs from the outside: the messages it is handed, the event URL, the dead
letters' store. The adapters implement them over JetStream and aiohttp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.webhooks.domain.retries import Outcome


class Delivery(Protocol):
    """One delivery of a stream message: answered (ack, nak, progress) on its own reply subject."""

    @property
    def sequence(self) -> int:
        """The stream sequence: the identity of the event across redeliveries."""

    @property
    def subject(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def event_id(self) -> str:
        """The publisher's id (Nats-Msg-Id), "" if none: sent to the receiver to drop duplicates."""

    async def ack(self) -> None: ...

    async def nak(self) -> None: ...

    async def in_progress(self) -> None: ...


class EventPoster(Protocol):
    async def post(self, body: str, event_id: str) -> Outcome:
        """One POST of a body, and what its answer (or its failure) means."""


@dataclass(frozen=True)
class DeadLetter:
    """An event set aside: what was received, what would have been posted, and why it was not."""

    username: str
    sequence: int
    subject: str
    payload: bytes
    event_type: str
    body: str
    attempts: int
    last_error: str


class DeadLetterStore(Protocol):
    async def set_aside(self, letter: DeadLetter) -> None:
        """Store it durably; raises when it could not (the caller retries)."""
