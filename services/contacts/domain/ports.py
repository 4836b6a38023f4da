"""What the personal contacts use cases need from the world; adapters provide it, tests fake it.

Rows of an import in progress are "pending": stored with the import's id, seen by no read until
`publish_import` makes them all visible in one statement (or `discard_import` deletes them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Protocol

from services.contacts.domain.contacts import Contact, ContactQuery, Event, KeyedContact

PageCursor = tuple[str, str]  # (sort key, id) of the last contact of a page: opaque to use cases


class ContactRepository(Protocol):
    async def get(self, owner_id: str, contact_id: str) -> Contact | None: ...

    async def add(self, contact: Contact) -> None:
        """Store a visible contact; DuplicateContact if the owner has the same one (pending included)."""

    async def update(self, contact: Contact) -> bool:
        """Replace a visible contact's fields; False if there is none; DuplicateContact as for add."""

    async def delete(self, owner_id: str, contact_id: str) -> bool: ...

    async def delete_all(self, owner_id: str) -> int:
        """Delete the owner's visible contacts; how many."""

    async def search(self, owner_id: str, query: ContactQuery) -> tuple[list[Contact], int]:
        """One page of the owner's visible contacts in list order, and how many match in all."""

    async def all_visible(self, owner_id: str, limit: int) -> list[Contact]:
        """Up to `limit` of the owner's visible contacts in list order, in one read."""

    async def page_after(
        self, owner_id: str, after: PageCursor | None, size: int
    ) -> tuple[list[Contact], PageCursor | None]:
        """Up to `size` visible contacts after the cursor in list order (keyset paging), and the
        cursor of the last one (None when there is none)."""

    async def add_pending(self, import_id: str, contacts: Sequence[KeyedContact]) -> set[str]:
        """Store contacts as pending rows of the import; the ids stored. A contact equal to one the
        owner already has (visible or pending, this import's included) is skipped, not an error."""

    async def publish_import(self, import_id: str) -> int:
        """Make the import's pending rows visible, all in one statement; how many."""

    async def discard_import(self, import_id: str) -> int: ...

    async def discard_all_pending(self) -> int:
        """Delete every pending row: imports a stopped process could not finish."""


class ContactsUnitOfWork(Protocol):
    @property
    def contacts(self) -> ContactRepository: ...

    async def __aenter__(self) -> ContactsUnitOfWork: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class PhoneStatuses(Protocol):
    async def statuses(self, numbers: Sequence[str]) -> Mapping[str, int]:
        """The phone status code of each number, in one call; NOT_A_LINE (-2) when unknown."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...
