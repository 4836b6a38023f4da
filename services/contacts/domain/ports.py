"""What the contacts use cases need from the world (the qualifications' storage ports are in
qualifications.py); adapters provide it, tests fake it.

Rows of an import in progress are "pending": stored with the import's id, seen by no read until
`publish_import` makes them all visible in one statement (or `discard_import` deletes them).
Each import in progress is registered with a lease (`ImportLeases`): the process running it renews
it; another process may delete the pending rows of an import whose lease expired, never others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Protocol

from services.contacts.domain.contacts import Contact, ContactQuery, KeyedContact
from services.contacts.domain.directory import DirectoryUser
from services.contacts.domain.events import Event
from services.contacts.domain.idempotency import IdempotentCreation

PageCursor = tuple[str, str]  # (sort key, id) of the last contact of a page: opaque to use cases


class ContactRepository(Protocol):
    async def get(self, owner_id: str, contact_id: str) -> Contact | None: ...

    async def add(self, contact: Contact) -> None:
        """Store a visible contact; DuplicateContact if the owner has the same one (pending included)."""

    async def update(self, contact: Contact) -> bool:
        """Replace a visible contact's fields; False if there is none; DuplicateContact as for add."""

    async def set_favorite(self, owner_id: str, contact_id: str, favorite: bool) -> bool:
        """Set a visible contact's `favorite` if it is not so already; False when nothing changed
        (no such contact, or already so). Of two such calls at once, one changes it."""

    async def delete(self, owner_id: str, contact_id: str) -> bool: ...

    async def delete_all(self, owner_id: str) -> int:
        """Delete the owner's visible contacts; how many."""

    async def search(self, owner_id: str, query: ContactQuery) -> tuple[list[Contact], int]:
        """One page of the owner's visible contacts in list order, and how many match in all."""

    async def all_visible(self, owner_id: str, limit: int) -> list[Contact]:
        """Up to `limit` of the owner's visible contacts in list order, in one read."""

    async def favorites(self, owner_id: str, limit: int) -> list[Contact]:
        """Up to `limit` of the owner's visible contacts marked favorite, in list order."""

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

    async def discard_unregistered_pending(self) -> int:
        """Delete the pending rows of imports that have no lease (left by a version without leases)."""


class IdempotencyKeys(Protocol):
    """The creations made with an idempotency key, per owner and key."""

    async def find(self, owner_id: str, key: str, since: float) -> IdempotentCreation | None:
        """The creation the owner made with this key at `since` or later (seconds since the epoch)."""

    async def claim(self, owner_id: str, key: str, creation: IdempotentCreation, expired_before: float) -> bool:
        """Record the key for this creation, in the unit of work's transaction (a record of the key
        older than `expired_before` is replaced). False, and nothing recorded, when a live record of
        the key exists: another request's, committed (waited for, if still in flight); `find`, in
        the same unit of work, then reads it."""

    async def delete_expired(self, before: float) -> int:
        """Forget the records older than `before`; how many."""


class ImportLeases(Protocol):
    """The imports in progress: which process (instance) runs each, and until when it is alive."""

    async def register(self, import_id: str, owner_id: str, instance_id: str, now: float) -> None: ...

    async def renew(self, import_id: str, now: float) -> bool:
        """Renew one import's lease; False when it is gone (expired and deleted by another process).
        Also holds the lease for the rest of the transaction: no process can delete it meanwhile."""

    async def renew_all(self, instance_id: str, now: float) -> int:
        """Renew the leases of every import of this instance; how many."""

    async def expired(self, before: float) -> list[str]:
        """The ids of the imports whose lease was last renewed before `before`."""

    async def take_expired(self, import_id: str, before: float) -> bool:
        """Delete the import's lease if it is (still) expired; True if deleted: its rows are then
        this transaction's to delete."""

    async def release(self, import_id: str) -> None:
        """Delete the lease of a finished (published or discarded) import."""


class ContactsUnitOfWork(Protocol):
    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def idempotency(self) -> IdempotencyKeys: ...

    @property
    def imports(self) -> ImportLeases: ...

    async def __aenter__(self) -> ContactsUnitOfWork: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class PhoneStatuses(Protocol):
    async def statuses(self, numbers: Sequence[str]) -> Mapping[str, int]:
        """The phone status code of each number, in one call; NOT_A_LINE (-2) when unknown."""


class CallCentre(Protocol):
    """Queues and agents, as the telephony service knows them (qualification answers are checked
    against them). Each method raises Unreachable when telephony cannot be asked."""

    async def queue_exists(self, queue_id: int) -> bool: ...

    async def agent_numbers(self, login: str) -> list[str]:
        """The numbers of the user's agents (none for a user who is no agent)."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...


class FavoritesStore(Protocol):
    """The favorites kept apart from the entries they name: each (owner, source, contact id) once.
    (A personal contact's favorite is its own `favorite` field, kept with the contact.) Each call
    is one transaction of its own."""

    async def add(self, owner_id: str, source: str, contact_id: str) -> bool:
        """Record the favorite; False when it already was one."""

    async def remove(self, owner_id: str, source: str, contact_id: str) -> bool:
        """Forget the favorite; False when it was none."""

    async def contact_ids(self, owner_id: str, source: str) -> set[str]: ...


# Called with a user's login and what auth now says of them (None: no such user any more).
OnUserChange = Callable[[str, DirectoryUser | None], Awaitable[None]]


class UserSource(Protocol):
    """The users of the system, as the auth service knows them."""

    async def follow(self, on_change: OnUserChange) -> None:
        """From now on, call `on_change` for each user changed (created, updated, deleted)."""

    async def read(self, login: str) -> DirectoryUser | None: ...

    async def read_all(self) -> list[DirectoryUser]: ...
