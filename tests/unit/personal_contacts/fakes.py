"""Hand-written fakes of the personal contacts service's ports (a database shared by the repository,
the idempotency keys and the import leases; a unit of work; a recording publisher; phone statuses),
and `System`: the service wired to them, with a clock the tests move.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType

from services.contacts.domain.contacts import (
    Contact,
    ContactQuery,
    KeyedContact,
    Owner,
    contact_keys,
    search_text,
)
from services.contacts.domain.errors import (
    DuplicateContact,
)
from services.contacts.domain.events import Event
from services.contacts.domain.idempotency import IdempotentCreation
from services.contacts.domain.import_report import ImportReport
from services.contacts.domain.ports import PageCursor
from services.contacts.service_layer.personal_contacts import PersonalContactsService

ALICE = Owner(user_id="user-alice", login="alice")
BOB = Owner(user_id="user-bob", login="bob")
NOW = 1_700_000_000.0
LEASE = 60.0


# --- fakes -------------------------------------------------------------------------------------------
@dataclass
class Row:
    contact: Contact
    import_id: str | None = None


@dataclass
class Lease:
    owner_id: str
    instance_id: str
    renewed_at: float


@dataclass
class FakeDatabase:
    """The committed rows. A unit of work works on a copy; commit writes it back."""

    rows: dict[str, Row] = field(default_factory=dict)
    keys: dict[tuple[str, str], IdempotentCreation] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    commits: int = 0
    reads: list[str] = field(default_factory=list)  # the repository reads, by method name
    # Awaited by all_visible after its snapshot is taken: a test holds a load in flight with it.
    during_load: Callable[[], Awaitable[None]] | None = None
    after_commit: Callable[[], Awaitable[None]] | None = None  # awaited by a commit once it is done

    def visible(self, owner: Owner) -> list[Contact]:
        return sorted((row.contact for row in self.rows.values()
                       if row.import_id is None and row.contact.owner_id == owner.user_id),
                      key=lambda contact: (contact_keys(contact.fields).sort_key, contact.id))

    def pending(self) -> int:
        return sum(row.import_id is not None for row in self.rows.values())


class FakeRepository:
    def __init__(self, rows: dict[str, Row], database: FakeDatabase) -> None:
        self.rows = rows
        self._database = database

    def _owned(self, owner_id: str) -> list[Contact]:
        return sorted((row.contact for row in self.rows.values()
                       if row.import_id is None and row.contact.owner_id == owner_id),
                      key=lambda contact: (contact_keys(contact.fields).sort_key, contact.id))

    def _check_unique(self, contact: Contact) -> bool:
        key = contact_keys(contact.fields).identity
        return not any(row.contact.owner_id == contact.owner_id and contact_keys(row.contact.fields).identity == key
                       and row.contact.id != contact.id for row in self.rows.values())

    async def get(self, owner_id: str, contact_id: str) -> Contact | None:
        self._database.reads.append("get")
        return next((contact for contact in self._owned(owner_id) if contact.id == contact_id), None)

    async def add(self, contact: Contact) -> None:
        if not self._check_unique(contact):
            raise DuplicateContact()
        self.rows[contact.id] = Row(contact)

    async def update(self, contact: Contact) -> bool:
        if not any(existing.id == contact.id for existing in self._owned(contact.owner_id)):
            return False
        if not self._check_unique(contact):
            raise DuplicateContact()
        self.rows[contact.id] = Row(contact)
        return True

    async def set_favorite(self, owner_id: str, contact_id: str, favorite: bool) -> bool:
        contact = next((contact for contact in self._owned(owner_id) if contact.id == contact_id), None)
        if contact is None or contact.fields.favorite == favorite:
            return False
        self.rows[contact_id] = Row(replace(contact, fields=replace(contact.fields, favorite=favorite)))
        return True

    async def delete(self, owner_id: str, contact_id: str) -> bool:
        return any(contact.id == contact_id for contact in self._owned(owner_id)) and bool(self.rows.pop(contact_id))

    async def delete_all(self, owner_id: str) -> int:
        owned = self._owned(owner_id)
        for contact in owned:
            del self.rows[contact.id]
        return len(owned)

    async def search(self, owner_id: str, query: ContactQuery) -> tuple[list[Contact], int]:
        self._database.reads.append("search")
        found = [contact for contact in self._owned(owner_id)
                 if not query.terms or any(term in search_text(contact.fields) for term in query.terms)]
        end = query.offset + query.limit if query.limit else None
        return found[query.offset:end], len(found)

    async def all_visible(self, owner_id: str, limit: int) -> list[Contact]:
        self._database.reads.append("all_visible")
        owned = self._owned(owner_id)[:limit]
        if self._database.during_load is not None:
            await self._database.during_load()
        return owned

    async def favorites(self, owner_id: str, limit: int) -> list[Contact]:
        self._database.reads.append("favorites")
        return [contact for contact in self._owned(owner_id) if contact.fields.favorite][:limit]

    async def page_after(
        self, owner_id: str, after: PageCursor | None, size: int
    ) -> tuple[list[Contact], PageCursor | None]:
        owned = [contact for contact in self._owned(owner_id)
                 if after is None or (contact_keys(contact.fields).sort_key, contact.id) > after]
        page = owned[:size]
        return page, (contact_keys(page[-1].fields).sort_key, page[-1].id) if page else None

    async def add_pending(self, import_id: str, contacts: Sequence[KeyedContact]) -> set[str]:
        stored = set()
        for contact, _ in contacts:
            if self._check_unique(contact):
                self.rows[contact.id] = Row(contact, import_id)
                stored.add(contact.id)
        return stored

    async def publish_import(self, import_id: str) -> int:
        pending = [row for row in self.rows.values() if row.import_id == import_id]
        for row in pending:
            row.import_id = None
        return len(pending)

    async def discard_import(self, import_id: str) -> int:
        doomed = [key for key, row in self.rows.items() if row.import_id == import_id]
        for key in doomed:
            del self.rows[key]
        return len(doomed)

    async def discard_unregistered_pending(self) -> int:
        leases = self._database.leases
        doomed = [key for key, row in self.rows.items() if row.import_id is not None and row.import_id not in leases]
        for key in doomed:
            del self.rows[key]
        return len(doomed)


class FakeIdempotencyKeys:
    def __init__(self, keys: dict[tuple[str, str], IdempotentCreation]) -> None:
        self.keys = keys

    async def find(self, owner_id: str, key: str, since: float) -> IdempotentCreation | None:
        found = self.keys.get((owner_id, key))
        return found if found is not None and found.created_at >= since else None

    async def claim(self, owner_id: str, key: str, creation: IdempotentCreation, expired_before: float) -> bool:
        found = self.keys.get((owner_id, key))
        if found is not None and found.created_at >= expired_before:
            return False
        self.keys[(owner_id, key)] = creation
        return True

    async def delete_expired(self, before: float) -> int:
        doomed = [key for key, creation in self.keys.items() if creation.created_at < before]
        for key in doomed:
            del self.keys[key]
        return len(doomed)


class FakeImportLeases:
    def __init__(self, leases: dict[str, Lease]) -> None:
        self.leases = leases

    async def register(self, import_id: str, owner_id: str, instance_id: str, now: float) -> None:
        self.leases[import_id] = Lease(owner_id, instance_id, now)

    async def renew(self, import_id: str, now: float) -> bool:
        if import_id not in self.leases:
            return False
        self.leases[import_id].renewed_at = now
        return True

    async def renew_all(self, instance_id: str, now: float) -> int:
        mine = [lease for lease in self.leases.values() if lease.instance_id == instance_id]
        for lease in mine:
            lease.renewed_at = now
        return len(mine)

    async def expired(self, before: float) -> list[str]:
        return [import_id for import_id, lease in self.leases.items() if lease.renewed_at < before]

    async def take_expired(self, import_id: str, before: float) -> bool:
        lease = self.leases.get(import_id)
        if lease is None or lease.renewed_at >= before:
            return False
        del self.leases[import_id]
        return True

    async def release(self, import_id: str) -> None:
        self.leases.pop(import_id, None)


class FakeUnitOfWork:
    contacts: FakeRepository
    idempotency: FakeIdempotencyKeys
    imports: FakeImportLeases

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def __aenter__(self) -> FakeUnitOfWork:
        self.contacts = FakeRepository(copy.deepcopy(self._database.rows), self._database)
        self.idempotency = FakeIdempotencyKeys(copy.deepcopy(self._database.keys))
        self.imports = FakeImportLeases(copy.deepcopy(self._database.leases))
        return self

    async def commit(self) -> None:
        self._database.rows = copy.deepcopy(self.contacts.rows)
        self._database.keys = copy.deepcopy(self.idempotency.keys)
        self._database.leases = copy.deepcopy(self.imports.leases)
        self._database.commits += 1
        if self._database.after_commit is not None:
            await self._database.after_commit()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass  # an uncommitted copy is dropped, as a rolled-back transaction


@dataclass
class RecordingPublisher:
    database: FakeDatabase
    published: list[tuple[Event, int]] = field(default_factory=list)  # (event, commits before it)

    async def publish(self, events: Sequence[Event]) -> None:
        self.published += [(event, self.database.commits) for event in events]

    @property
    def events(self) -> list[Event]:
        return [event for event, _ in self.published]


@dataclass
class FakePhoneStatuses:
    known: dict[str, int] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)

    async def statuses(self, numbers: Sequence[str]) -> Mapping[str, int]:
        self.calls.append(list(numbers))
        return {number: self.known[number] for number in numbers if number in self.known}


class System:
    default_cache_owners = 1000  # the fixture below runs every test with and without the cache

    def __init__(self, batch_size: int = 1000, page_size: int = 1000, max_import_bytes: int = 1 << 20,
                 cache_owners: int | None = None, cache_max_contacts: int = 5000,
                 database: FakeDatabase | None = None, instance_id: str = "instance-1",
                 report_part: int = 4000) -> None:
        cache_owners = self.default_cache_owners if cache_owners is None else cache_owners
        self.database = FakeDatabase() if database is None else database
        self.publisher = RecordingPublisher(self.database)
        self.phones = FakePhoneStatuses()
        self.now = NOW  # the service's clock: tests move it
        self.service = PersonalContactsService(
            lambda: FakeUnitOfWork(self.database), self.publisher, self.phones,
            import_batch_size=batch_size, export_page_size=page_size, max_import_bytes=max_import_bytes,
            clock=lambda: self.now, cache_owners=cache_owners, cache_max_contacts=cache_max_contacts,
            instance_id=instance_id, import_lease_seconds=LEASE, report_part_contacts=report_part,
        )

    async def import_contacts(self, owner: Owner, chunks: AsyncIterator[tuple[str, bytes]]) -> ImportReport:
        """The service's import, its report parts joined into one (asserting their shape)."""
        async with contextlib.aclosing(self.service.import_contacts(owner, chunks)) as parts:
            first = await anext(parts)
            report = ImportReport(list(first.created), first.failed, first.failed_count)
            async for part in parts:
                assert (part.failed, part.failed_count) == ([], 0)  # in the first part only
                report.created += part.created
        return report


async def file_chunks(data: bytes, charset: str = "", size: int = 7) -> AsyncIterator[tuple[str, bytes]]:
    for start in range(0, len(data), size):
        yield (charset if start == 0 else ""), data[start:start + size]


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()
