"""The personal contacts use cases (services/contacts/service_layer/personal_contacts.py) against
hand-written fakes of their ports: ownership, duplicates, events after commit, one status call per
list, and the import guarantee (all of a file's contacts or none) under failures and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contacts.domain.contacts import (
    Contact,
    ContactFields,
    ContactQuery,
    KeyedContact,
    Owner,
    contact_keys,
    search_text,
)
from services.contacts.domain.errors import (
    ContactNotFound,
    DuplicateContact,
    IdempotencyKeyReused,
    ImportInterrupted,
    InvalidContact,
    InvalidIdempotencyKey,
    InvalidImport,
)
from services.contacts.domain.events import ContactChanged, ContactsCleared, ContactsImported, Event
from services.contacts.domain.idempotency import IDEMPOTENCY_WINDOW_SECONDS, IdempotentCreation, creation_fingerprint
from services.contacts.domain.import_report import CreatedContact, FailedLine, ImportReport
from services.contacts.domain.ports import PageCursor
from services.contacts.service_layer.contacts_cache import ContactsCache
from services.contacts.service_layer.contacts_import import SPOOL_MEMORY_BYTES, CreatedSpool
from services.contacts.service_layer.personal_contacts import NOT_A_LINE, PersonalContactsService
from xuc.errors import ErrorKind, Unreachable

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


@pytest.fixture(autouse=True, params=[1000, 0], ids=["cache", "no-cache"])
def _with_and_without_cache(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(System, "default_cache_owners", request.param)


async def file_chunks(data: bytes, charset: str = "", size: int = 7) -> AsyncIterator[tuple[str, bytes]]:
    for start in range(0, len(data), size):
        yield (charset if start == 0 else ""), data[start:start + size]


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# --- one contact ---------------------------------------------------------------------------------------
async def test_create_validates_stores_and_then_publishes() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(firstname=" Ann ", number="1001"))

    assert contact.fields == ContactFields(firstname="Ann", number="1001")
    assert system.database.visible(ALICE) == [contact]
    assert system.publisher.published == [
        (ContactChanged(ALICE, contact.id, "created", datetime.fromtimestamp(NOW, UTC),
                        system.publisher.events[0].event_id), 1)
    ]


async def test_invalid_and_duplicate_contacts_change_nothing() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(firstname="Ann", number="01 23"))
    with pytest.raises(InvalidContact):
        await system.service.create_contact(ALICE, ContactFields(fax="1"))
    with pytest.raises(DuplicateContact):
        await system.service.create_contact(ALICE, ContactFields(firstname="ANN", number="0123", favorite=True))
    assert len(system.database.visible(ALICE)) == 1
    assert len(system.publisher.events) == 1
    # Another owner may have the same contact.
    await system.service.create_contact(BOB, ContactFields(firstname="Ann", number="01 23"))


async def test_another_users_contact_is_not_found() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(BOB, contact.id)
    with pytest.raises(ContactNotFound):
        await system.service.update_contact(BOB, contact.id, ContactFields(lastname="Hacked"))
    with pytest.raises(ContactNotFound):
        await system.service.delete_contact(BOB, contact.id)
    for not_an_id in ("", "42", "x" * 100):
        with pytest.raises(ContactNotFound):
            await system.service.get_contact(ALICE, not_an_id)
    assert system.database.visible(ALICE) == [contact]


async def test_update_replaces_fields_and_keeps_favorite_unless_given() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe", email="d@x", favorite=True))

    kept = await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Doe"))
    assert kept.fields == ContactFields(lastname="Doe", favorite=True)  # email emptied, favorite kept
    unset = await system.service.update_contact(ALICE, contact.id.upper(), ContactFields(lastname="Doe"), False)
    assert unset.fields == ContactFields(lastname="Doe")
    assert [event.change for event in system.publisher.events if isinstance(event, ContactChanged)] \
        == ["created", "updated", "updated"]


async def test_an_update_may_not_make_a_duplicate() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    other = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))
    with pytest.raises(DuplicateContact):
        await system.service.update_contact(ALICE, other.id, ContactFields(lastname="doe"))
    assert (await system.service.get_contact(ALICE, other.id)).fields.lastname == "Lee"


async def test_delete_one_and_all() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))
    await system.service.create_contact(BOB, ContactFields(lastname="Kim"))

    assert await system.service.delete_contact(ALICE, first.id) == 1
    with pytest.raises(ContactNotFound):
        await system.service.delete_contact(ALICE, first.id)
    assert await system.service.delete_all_contacts(ALICE) == 1
    assert await system.service.delete_all_contacts(ALICE) == 0
    assert system.database.visible(ALICE) == []
    assert len(system.database.visible(BOB)) == 1
    cleared = [event for event in system.publisher.events if isinstance(event, ContactsCleared)]
    assert [(event.owner, event.deleted) for event in cleared] == [(ALICE, 1), (ALICE, 0)]


# --- lists and statuses --------------------------------------------------------------------------------
async def test_a_list_asks_statuses_once_for_its_distinct_numbers() -> None:
    system = System()
    system.phones.known = {"1001": 0, "1002": 8}
    for fields in (ContactFields(lastname="A", number="1001"), ContactFields(lastname="B", number="1002"),
                   ContactFields(lastname="C", number="1001", mobile="9"), ContactFields(lastname="D", mobile="1002"),
                   ContactFields(lastname="E", number="5555")):
        await system.service.create_contact(ALICE, fields)

    page = await system.service.list_contacts(ALICE)

    assert [(entry.contact.fields.lastname, entry.status) for entry in page.entries] == [
        ("A", 0), ("B", 8), ("C", 0), ("D", NOT_A_LINE), ("E", NOT_A_LINE)]
    assert system.phones.calls == [["1001", "1002", "5555"]]
    assert page.total == 5


async def test_search_limit_offset_and_no_status_call_for_an_empty_page() -> None:
    system = System()
    for lastname in ("Émile", "emilie", "Bob", "Zoé"):
        await system.service.create_contact(ALICE, ContactFields(lastname=lastname, number="1"))

    page = await system.service.list_contacts(ALICE, "EMI", limit=1, offset=1)
    assert ([entry.contact.fields.lastname for entry in page.entries], page.total) == (["emilie"], 2)
    empty = await system.service.list_contacts(ALICE, "nobody")
    assert (empty.entries, empty.total) == ([], 0)
    assert len(system.phones.calls) == 1
    with pytest.raises(InvalidContact):
        await system.service.list_contacts(ALICE, limit=10_001)


# --- export ---------------------------------------------------------------------------------------------
async def test_export_reads_every_page_in_list_order() -> None:
    system = System(page_size=2)
    for lastname in ("d", "b", "e", "a", "c"):
        await system.service.create_contact(ALICE, ContactFields(lastname=lastname))
    await system.service.create_contact(BOB, ContactFields(lastname="bob's"))

    data = b"".join([chunk async for chunk in system.service.export_contacts(ALICE)])
    assert data.decode().split("\r\n")[1:] == [",,,,a,,", ",,,,b,,", ",,,,c,,", ",,,,d,,", ",,,,e,,", ""]


# --- import ---------------------------------------------------------------------------------------------
async def test_import_reports_created_and_failed_lines_and_publishes_one_event() -> None:
    system = System(batch_size=2)
    await system.service.create_contact(ALICE, ContactFields(lastname="Existing", number="1"))
    data = csv_file("lastname,number", "Doe,1", "Lee,2,3", "existing,1", "Kim,3", "DOE,1", "", "Ray,4", ",")

    report = await system.import_contacts(ALICE, file_chunks(data))

    assert [created.lastname for created in report.created] == ["Doe", "Kim", "Ray"]
    assert report.failed == [FailedLine(3, ("too many fields",)), FailedLine(4, ("duplicate contact",)),
                             FailedLine(6, ("duplicate contact",))]
    assert [contact.fields.lastname for contact in system.database.visible(ALICE)] \
        == ["Doe", "Existing", "Kim", "Ray"]
    assert system.database.pending() == 0
    imported = system.publisher.events[-1]
    assert isinstance(imported, ContactsImported)
    assert (imported.owner, imported.created, imported.failed) == (ALICE, 3, 3)
    assert len(system.publisher.events) == 2  # the create, then the import: no per-contact event


async def test_imported_contacts_stay_invisible_until_the_end() -> None:
    system = System(batch_size=1)
    seen_during: list[int] = []

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        seen_during.append((await system.service.list_contacts(ALICE)).total)
        seen_during.append(system.database.pending())
        yield "", b"Kim\n"

    report = await system.import_contacts(ALICE, chunks())
    invisible, pending = seen_during
    assert invisible == 0
    assert pending >= 1  # stored but not visible (the second batch may still be in flight)
    assert len(report.created) == 3
    assert (await system.service.list_contacts(ALICE)).total == 3


async def test_a_bad_byte_after_stored_batches_leaves_nothing() -> None:
    system = System(batch_size=1)

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        yield "", b"B\xe9ranger\n"

    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, chunks())
    assert refused.value.message == "the file is not valid utf-8 (byte offset 18)"
    assert system.database.rows == {}
    assert system.publisher.events == []


async def test_a_cancelled_import_leaves_nothing() -> None:
    system = System(batch_size=1)
    stored, never = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        stored.set()
        await never.wait()  # the client goes silent, then cancels
        yield "", b"Kim\n"

    task = asyncio.create_task(system.import_contacts(ALICE, chunks()))
    await stored.wait()
    assert system.database.pending() == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert system.database.rows == {}
    assert system.publisher.events == []


async def test_a_file_without_a_valid_line_creates_nothing() -> None:
    system = System(batch_size=1)
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    data = csv_file("lastname,fax", "Doe,", "x,y,z", ",1", "doe,", "a,b,c", "a,b,c", "a,b,c")

    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, file_chunks(data))
    assert refused.value.message == (
        "no valid line (line 2: duplicate contact; line 3: too many fields; line 4: a contact needs a name or a "
        "phone number; line 5: duplicate contact; line 6: too many fields; and 2 more)")
    assert [contact.fields.lastname for contact in system.database.visible(ALICE)] == ["Doe"]
    assert system.database.pending() == 0


async def test_a_report_lists_the_first_1000_failed_lines_by_line_and_counts_them_all() -> None:
    system = System(batch_size=5000)
    await system.service.create_contact(ALICE, ContactFields(lastname="Early"))
    # Line 2 is found a duplicate by storage, at the end of the file: after every bad line.
    data = csv_file("lastname", "Early", *["x,y"] * 2500, "Lee")

    report = await system.import_contacts(ALICE, file_chunks(data, size=4096))

    assert [created.lastname for created in report.created] == ["Lee"]
    assert report.failed_count == 2501
    assert report.failed == [FailedLine(2, ("duplicate contact",))] + [
        FailedLine(line, ("too many fields",)) for line in range(3, 1002)]
    imported = system.publisher.events[-1]
    assert isinstance(imported, ContactsImported)
    assert (imported.created, imported.failed) == (1, 2501)


async def test_the_message_of_a_file_without_a_valid_line_counts_every_failed_line() -> None:
    system = System()
    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, file_chunks(csv_file("lastname", *["x,y"] * 1500), size=4096))
    assert refused.value.message.endswith("line 6: too many fields; and 1495 more)")


async def test_a_large_report_comes_in_parts_with_the_failed_lines_in_the_first() -> None:
    system = System(batch_size=2, report_part=3)
    names = [f"Name{index}" for index in range(7)]
    data = csv_file("lastname", *names[:4], "x,y", *names[4:])

    async with contextlib.aclosing(system.service.import_contacts(ALICE, file_chunks(data))) as answer:
        parts = [part async for part in answer]

    assert [[created.lastname for created in part.created] for part in parts] == [
        ["Name0", "Name1", "Name2"], ["Name3", "Name4", "Name5"], ["Name6"]]
    assert [(part.failed, part.failed_count) for part in parts] == [
        ([FailedLine(6, ("too many fields",))], 1), ([], 0), ([], 0)]
    ids = [created.id for part in parts for created in part.created]
    assert ids == [contact.id for contact in system.database.visible(ALICE)]  # every one, in file order


def test_the_spool_gives_back_every_contact_in_order_past_its_memory() -> None:
    contacts = [CreatedContact(f"{index:036d}", f"Çà {index} \" \u2028") for index in range(40_000)]
    with CreatedSpool(part_contacts=7000) as spool:
        for contact in contacts:
            spool.add(contact.id, contact.lastname)
        parts = list(spool.parts())  # 40,000 x ~60 bytes: past SPOOL_MEMORY_BYTES, on disk
    assert SPOOL_MEMORY_BYTES < 40_000 * 60
    assert [len(part) for part in parts] == [7000] * 5 + [5000]
    assert [contact for part in parts for contact in part] == contacts


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty: its first line must name the columns"),
    (b"lastname\n", "no valid line"),
    (b"name\nDoe\n", "unknown column(s): name (columns are company, email, fax, firstname, lastname, mobile, number)"),
])
async def test_files_refused_as_a_whole(data: bytes, message: str) -> None:
    system = System()
    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, file_chunks(data))
    assert refused.value.message == message


async def test_the_first_chunk_names_the_charset() -> None:
    system = System()
    report = await system.import_contacts(ALICE, file_chunks("lastname\nMüller\n".encode("latin-1"),
                                                                     "iso-8859-1", size=3))
    assert [created.lastname for created in report.created] == ["Müller"]
    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, file_chunks(b"lastname\nX\n", "klingon"))
    assert refused.value.message == "unknown charset 'klingon'"


async def test_a_file_over_the_size_limit_leaves_nothing() -> None:
    system = System(batch_size=1, max_import_bytes=100)
    data = csv_file("lastname", *(f"Name{index}" for index in range(30)))
    with pytest.raises(InvalidImport) as refused:
        await system.import_contacts(ALICE, file_chunks(data, size=10))
    assert refused.value.message == "the file is larger than 100 bytes"
    assert system.database.rows == {}


async def test_pending_rows_without_a_lease_are_discarded_at_start() -> None:
    system = System()
    system.database.rows["left"] = Row(Contact("left", ALICE.user_id, ContactFields(lastname="Doe")), "import-1")
    kept = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))

    assert await system.service.discard_unfinished_imports() == 1
    assert list(system.database.rows) == [kept.id]
    assert await system.service.discard_unfinished_imports() == 0


def pending_import(database: FakeDatabase, import_id: str, instance_id: str, renewed_at: float,
                   count: int = 2) -> None:
    """Rows an import of another process stored, and its lease."""
    database.leases[import_id] = Lease(ALICE.user_id, instance_id, renewed_at)
    for index in range(count):
        contact = Contact(f"{import_id}-{index}", ALICE.user_id, ContactFields(lastname=f"{import_id}{index}"))
        database.rows[contact.id] = Row(contact, import_id)


async def test_only_imports_whose_lease_expired_are_discarded() -> None:
    system = System()
    pending_import(system.database, "crashed", "instance-0", NOW - LEASE - 1)
    pending_import(system.database, "alive", "instance-2", NOW - LEASE + 5)

    assert await system.service.discard_unfinished_imports() == 2
    assert set(system.database.leases) == {"alive"}
    assert system.database.pending() == 2  # the live replica's import is untouched
    system.now += 10  # instance-2 died without renewing: its lease expires
    await system.service.maintain()
    assert system.database.leases == {}
    assert system.database.rows == {}


async def test_a_running_import_renews_its_lease_and_survives_another_process() -> None:
    database = FakeDatabase()
    mine, other = System(batch_size=1, database=database), System(database=database, instance_id="instance-2")
    stored, go_on = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        stored.set()
        await go_on.wait()  # a slow upload: no batch for longer than a lease
        yield "", b"Kim\n"

    task = asyncio.create_task(mine.import_contacts(ALICE, chunks()))
    await stored.wait()
    await asyncio.sleep(0)
    [import_id] = database.leases
    assert database.leases[import_id].instance_id == "instance-1"
    for _ in range(4):  # two minutes: mine renews its leases (maintain), the other one reaps
        mine.now = other.now = mine.now + LEASE / 2
        await mine.service.maintain()
        await other.service.maintain()
    assert await other.service.discard_unfinished_imports() == 0  # a restart of the other process
    assert database.pending() == 2
    go_on.set()
    report = await task
    assert len(report.created) == 3
    assert database.leases == {}  # released with the publication
    assert [contact.fields.lastname for contact in database.visible(ALICE)] == ["Doe", "Kim", "Lee"]


async def test_an_import_that_lost_its_lease_publishes_nothing() -> None:
    database = FakeDatabase()
    mine, other = System(batch_size=1, database=database), System(database=database, instance_id="instance-2")
    stored, go_on = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        stored.set()
        await go_on.wait()
        yield "", b"Kim\n"

    task = asyncio.create_task(mine.import_contacts(ALICE, chunks()))
    await stored.wait()
    await asyncio.sleep(0)
    other.now += LEASE + 1  # mine could not renew (say its database link was down): reaped
    await other.service.maintain()
    assert database.rows == {}
    go_on.set()
    with pytest.raises(ImportInterrupted) as interrupted:
        await task
    # Answered as any unreachable dependency: UNAVAILABLE (503) "Unreachable", worth sending again.
    assert isinstance(interrupted.value, Unreachable)
    assert (interrupted.value.reason, interrupted.value.kind) == ("Unreachable", ErrorKind.UNAVAILABLE)
    assert interrupted.value.message == ImportInterrupted.default_message
    assert database.rows == {}
    assert database.leases == {}
    assert [type(event) for event in mine.publisher.events] == []


# --- idempotent creation -------------------------------------------------------------------------------
async def test_the_same_key_gives_the_same_contact_once() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(firstname=" Ann", number="1"), "key-1")
    again = await system.service.create_contact(ALICE, ContactFields(firstname="Ann ", number="1"), "key-1")

    assert again == first
    assert system.database.visible(ALICE) == [first]
    assert [type(event) for event in system.publisher.events] == [ContactChanged]  # no second event
    assert system.database.keys[(ALICE.user_id, "key-1")].contact_id == first.id


async def test_the_same_key_with_other_fields_is_refused() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    for other in (ContactFields(lastname="Dee"), ContactFields(lastname="Doe", favorite=True)):
        with pytest.raises(IdempotencyKeyReused):
            await system.service.create_contact(ALICE, other, "key-1")
    assert system.database.visible(ALICE) == [first]
    assert len(system.publisher.events) == 1


@pytest.mark.parametrize("key", ["", " ", " lead", "trail ", "x" * 129, "é", "tab\there", "new\nline"])
async def test_invalid_keys_are_refused(key: str) -> None:
    system = System()
    with pytest.raises(InvalidIdempotencyKey):
        await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), key)
    assert system.database.rows == {}


async def test_keys_belong_to_their_owner_and_expire_after_a_day() -> None:
    system = System()
    alice_first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "k" * 128)
    bob_first = await system.service.create_contact(BOB, ContactFields(lastname="Doe"), "k" * 128)
    assert bob_first.id != alice_first.id

    system.now += IDEMPOTENCY_WINDOW_SECONDS - 1
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "k" * 128) == alice_first
    system.now += 2  # a day later, the key is new again
    later = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"), "k" * 128)
    assert later.id != alice_first.id
    assert system.database.keys[(ALICE.user_id, "k" * 128)].contact_id == later.id


async def test_a_retry_answers_the_first_answer_even_after_a_change() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    await system.service.update_contact(ALICE, first.id, ContactFields(lastname="Dee"))
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1") == first
    await system.service.delete_contact(ALICE, first.id)
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1") == first
    assert system.database.visible(ALICE) == []  # not created again


async def test_a_retry_after_the_commit_but_before_the_answer_gets_the_first_contact() -> None:
    system = System()
    committed, answer = asyncio.Event(), asyncio.Event()
    publish = system.publisher.publish

    async def slow_publish(events: Sequence[Event]) -> None:  # the first request, between commit and answer
        committed.set()
        await answer.wait()
        await publish(events)

    system.publisher.publish = slow_publish  # type: ignore[method-assign]
    first = asyncio.create_task(system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1"))
    await committed.wait()
    retried = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    answer.set()
    assert await first == retried
    assert len(system.database.visible(ALICE)) == 1
    assert len(system.publisher.events) == 1


async def test_a_key_taken_but_not_found_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim finds the key taken, the look-up misses its record (it expired or went meanwhile):
    the service tries again, and answers the record it then finds."""
    system = System()
    system.database.keys[(ALICE.user_id, "key-1")] = IdempotentCreation(
        "other-request-contact", creation_fingerprint(ContactFields(lastname="Doe")), NOW)
    find = FakeIdempotencyKeys.find
    calls: list[str] = []

    async def late_find(self: FakeIdempotencyKeys, owner_id: str, key: str, since: float) -> IdempotentCreation | None:
        calls.append(key)
        return None if len(calls) == 1 else await find(self, owner_id, key, since)

    monkeypatch.setattr(FakeIdempotencyKeys, "find", late_find)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    assert contact.id == "other-request-contact"
    assert calls == ["key-1", "key-1"]
    assert system.database.rows == {}  # our contact was not created
    assert system.publisher.events == []


async def test_a_key_does_not_bypass_duplicates() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    for _ in range(2):
        with pytest.raises(DuplicateContact):
            await system.service.create_contact(ALICE, ContactFields(lastname="doe"), "key-1")
    assert system.database.keys == {}  # nothing recorded with the refused creation


async def test_maintenance_forgets_expired_keys() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "old")
    system.now += IDEMPOTENCY_WINDOW_SECONDS / 2
    await system.service.create_contact(ALICE, ContactFields(lastname="Lee"), "new")
    system.now += IDEMPOTENCY_WINDOW_SECONDS / 2 + 1
    await system.service.maintain()
    assert set(system.database.keys) == {(ALICE.user_id, "new")}


# --- the read cache -------------------------------------------------------------------------------------
async def test_reads_are_served_from_the_cache_after_one_load() -> None:
    system = System(cache_owners=10)
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe", number="1"))
    second = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))

    assert await system.service.get_contact(ALICE, first.id) == first
    assert await system.service.get_contact(ALICE, second.id.upper()) == second
    assert [entry.contact for entry in (await system.service.list_contacts(ALICE)).entries] == [first, second]
    assert [entry.contact for entry in (await system.service.list_contacts(ALICE, "le")).entries] == [second]
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(ALICE, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ContactNotFound):  # another owner's contact: that owner's (empty) entry
        await system.service.get_contact(BOB, first.id)
    assert system.database.reads == ["all_visible", "all_visible"]  # one load per owner
    assert system.phones.calls == [["1"]]  # still one status call per list with numbers


async def test_without_the_cache_every_read_goes_to_the_repository() -> None:
    system = System(cache_owners=0)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await system.service.get_contact(ALICE, contact.id)
    await system.service.get_contact(ALICE, contact.id)
    await system.service.list_contacts(ALICE)
    assert system.database.reads == ["get", "get", "search"]


async def test_every_write_evicts_the_owners_contacts_after_its_commit() -> None:
    system = System(cache_owners=10)

    async def lastnames(owner: Owner = ALICE) -> list[str]:
        return [entry.contact.fields.lastname for entry in (await system.service.list_contacts(owner)).entries]

    def loads() -> int:
        return system.database.reads.count("all_visible")

    assert await lastnames() == []
    assert await lastnames(BOB) == []
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    assert await lastnames() == ["Doe"]
    await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Dee"))
    assert await lastnames() == ["Dee"]
    assert (await system.service.get_contact(ALICE, contact.id)).fields.lastname == "Dee"
    await system.service.delete_contact(ALICE, contact.id)
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(ALICE, contact.id)
    await system.import_contacts(ALICE, file_chunks(csv_file("lastname", "Kim", "Ray")))
    assert await lastnames() == ["Kim", "Ray"]
    await system.service.delete_all_contacts(ALICE)
    assert await lastnames() == []
    assert loads() == 7  # the first two lists, then one after each of the five writes
    assert await lastnames(BOB) == []
    assert loads() == 7  # another owner's entry stays

    # A write that fails evicts too (a failed commit may have been applied); so does a failed import.
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await lastnames()
    with pytest.raises(DuplicateContact):
        await system.service.create_contact(ALICE, ContactFields(lastname="doe"))
    await lastnames()
    with pytest.raises(InvalidImport):
        await system.import_contacts(ALICE, file_chunks(csv_file("lastname", "doe")))
    await lastnames()
    assert loads() == 10
    await system.service.discard_unfinished_imports()
    await lastnames(BOB)
    assert loads() == 11


async def test_a_load_that_read_before_a_write_is_not_kept() -> None:
    system = System(cache_owners=10)
    loading, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        loading.set()
        await release.wait()

    system.database.during_load = hold
    stale_read = asyncio.create_task(system.service.list_contacts(ALICE))
    await loading.wait()  # the load has its snapshot: no contact yet
    system.database.during_load = None
    created = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))  # commits, evicts
    release.set()
    assert (await stale_read).total == 0  # a read concurrent with the write: either answer is right

    assert await system.service.get_contact(ALICE, created.id) == created  # the stale load was not kept
    assert system.database.reads == ["all_visible", "all_visible"]
    assert (await system.service.list_contacts(ALICE)).total == 1
    assert system.database.reads == ["all_visible", "all_visible"]  # the fresh load was


async def test_a_load_that_ends_between_a_commit_and_its_eviction_is_evicted() -> None:
    system = System(cache_owners=10)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    loading, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        loading.set()
        await release.wait()

    system.database.during_load = hold
    stale_read = asyncio.create_task(system.service.get_contact(ALICE, contact.id))
    await loading.wait()
    system.database.during_load = None

    async def finish_the_load() -> None:  # after the update's commit, before its eviction
        system.database.after_commit = None
        release.set()
        assert (await stale_read).fields.lastname == "Doe"  # stored: no eviction yet

    system.database.after_commit = finish_the_load
    await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Dee"))
    assert (await system.service.get_contact(ALICE, contact.id)).fields.lastname == "Dee"
    assert system.database.reads == ["all_visible", "get", "all_visible"]  # the update's own read: "get"


async def test_the_cache_keeps_at_most_its_number_of_owners() -> None:
    system = System(cache_owners=2)
    carol = Owner(user_id="user-carol", login="carol")
    for owner in (ALICE, BOB, carol):
        await system.service.list_contacts(owner)
    await system.service.list_contacts(BOB)
    await system.service.list_contacts(carol)
    assert system.database.reads.count("all_visible") == 3
    await system.service.list_contacts(ALICE)  # the least recently used was dropped
    assert system.database.reads.count("all_visible") == 4
    await system.service.list_contacts(carol)  # ALICE took BOB's place, carol stayed
    assert system.database.reads.count("all_visible") == 4


async def test_the_cache_holds_at_most_its_number_of_contacts_in_all() -> None:
    cache = ContactsCache(max_owners=10, max_contacts=5, max_total=5)

    async def three(limit: int) -> list[Contact]:
        return [Contact(f"id-{i}", "owner", ContactFields(lastname=str(i))) for i in range(3)]

    for owner in ("a", "b", "c"):
        assert await cache.contacts(owner, three) is not None
    assert len(cache) == 1  # 3 + 3 > 5: the older owners were dropped, the newest kept


async def test_an_owner_with_too_many_contacts_is_read_from_the_database() -> None:
    system = System(cache_owners=10, cache_max_contacts=2)
    contacts = [await system.service.create_contact(ALICE, ContactFields(lastname=name)) for name in "abc"]

    assert await system.service.get_contact(ALICE, contacts[0].id) == contacts[0]
    page = await system.service.list_contacts(ALICE, limit=2)
    assert ([entry.contact for entry in page.entries], page.total) == (contacts[:2], 3)
    assert system.database.reads == ["all_visible", "get", "search"]  # one load: its marker is kept

    await system.service.delete_contact(ALICE, contacts[2].id)  # now small enough
    assert (await system.service.list_contacts(ALICE)).total == 2
    assert await system.service.get_contact(ALICE, contacts[1].id) == contacts[1]
    assert system.database.reads == ["all_visible", "get", "search", "all_visible"]


_SEARCH_ALPHABET = "aAeÉéèbDd0123 .-+#*()/"
_texts = st.text(alphabet=_SEARCH_ALPHABET, max_size=8)


# The autouse fixture only sets the default this test overrides: running it once per example is fine.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contacts=st.lists(st.builds(ContactFields, firstname=_texts, lastname=_texts, number=_texts, mobile=_texts,
                                email=_texts, company=_texts, favorite=st.booleans()), max_size=25),
    searches=st.lists(st.text(alphabet=_SEARCH_ALPHABET, max_size=5), min_size=1, max_size=4),
    limit=st.integers(0, 8),
    offset=st.integers(0, 30),
)
def test_lists_are_the_same_with_and_without_the_cache(
    contacts: list[ContactFields], searches: list[str], limit: int, offset: int
) -> None:
    systems = [System(cache_owners=1000), System(cache_owners=0)]
    for index, fields in enumerate(contacts):
        contact = Contact(f"{index % 7:02}-{index:04}", ALICE.user_id, fields)  # ids in no sort key's order
        for system in systems:
            system.database.rows[contact.id] = Row(contact)
    for system in systems:
        system.phones.known = {"1": 0, "0123": 8}

    async def pages(system: System) -> list[tuple[list[tuple[Contact, int]], int]]:
        answers = []
        for search in ["", *searches]:
            page = await system.service.list_contacts(ALICE, search, limit, offset)
            answers.append(([(entry.contact, entry.status) for entry in page.entries], page.total))
        return answers

    cached, uncached = (asyncio.run(pages(system)) for system in systems)
    assert cached == uncached
    assert systems[0].database.reads == ["all_visible"]
    assert systems[0].phones.calls == systems[1].phones.calls
