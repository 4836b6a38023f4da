"""The personal contacts use cases (reading, changing one contact, and, through their own modules,
the import pipeline in contacts_import.py and the upkeep in contacts_maintenance.py). Events are
published after the change is committed.

- Favorites: a contact's `favorite` field is its favorite in the directory too (service_layer/directory.py);
  each change of it, by any path (create, update, `set_favorite`, delete), publishes FavoriteChanged
  after ContactChanged.
- Every use case acts for an `Owner` (the caller's user id and login): another user's contact id
  answers ContactNotFound, exactly like an id that does not exist.
- A list asks telephony for the status of its contacts' numbers in ONE call; a contact without
  a number, or a number telephony does not know, is NOT_A_LINE (-2).
- Idempotent creation: with a key, the creation and the key's record are one transaction; a later
  request of the owner with the key (within 24 h) answers the recorded contact without creating
  anything or publishing an event, or IdempotencyKeyReused when its fields differ. Two requests
  with one key at once: the database lets one record the key, the other then reads its record.
- Import guarantee: a file's contacts appear all at once or not at all. Valid lines are stored in
  batches (one transaction each) as rows pending under the import's id, which no read sees; one
  UPDATE publishes them at the end. On any failure (bad bytes, a cancelled or timed-out call, an
  error) the pending rows are deleted. Several processes may serve one database, so an import is
  registered with a lease naming this process (`instance_id`): each batch renews it, and so does
  `maintain` (every lease/4 s) while the import runs, however slowly its file arrives. Any process
  deletes the pending rows of an import whose lease expired (a crashed process's), at start
  (`discard_unfinished_imports`) and in `maintain`; the lease and the rows go in one transaction,
  and each batch and the final publication first renew the lease in their own transaction, so an
  import that lost its lease can never publish part of its file (it answers ImportInterrupted).
  Duplicates of existing contacts or of earlier lines of the file are reported per line
  ("duplicate contact"); a file without a valid line creates nothing.
  Memory holds two batches at most, never the file nor its report: the report lists the first
  1,000 failed lines and counts them all; the created contacts go to a spool (a temporary file)
  and are answered in parts once published (see contacts_import.py). One ContactsImported event,
  no per-contact events.
- Export reads the contacts in pages (keyset on the list order) and streams ~64 KiB chunks.
- Reading one contact or a list is served from a per-owner read cache (`ContactsCache`: one read
  loads an owner's contacts; every write evicts them after its commit); `cache_owners=0` disables
  it. With several contacts processes per database, the other processes' writes evict it through
  a `CacheFeed` (`use_cache_feed`, `forget_cached`; see contacts_cache.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from services.contacts.domain.contacts import (
    Contact,
    ContactFields,
    ContactPage,
    ListedContact,
    Owner,
    canonical_contact_id,
    contact_query,
    new_contact_id,
)
from services.contacts.domain.csv_format import CsvExport
from services.contacts.domain.directory import ADDED, PERSONAL, REMOVED
from services.contacts.domain.errors import ContactNotFound, IdempotencyKeyReused
from services.contacts.domain.events import ContactChanged, ContactsCleared, Event, FavoriteChanged
from services.contacts.domain.idempotency import (
    IDEMPOTENCY_WINDOW_SECONDS,
    IdempotentCreation,
    checked_idempotency_key,
    creation_fingerprint,
)
from services.contacts.domain.import_report import ImportReport
from services.contacts.domain.ports import ContactsUnitOfWork, EventPublisher, PageCursor, PhoneStatuses
from services.contacts.service_layer.contacts_cache import (
    CACHE_MAX_AGE_SECONDS,
    CACHE_MAX_CONTACTS,
    CACHE_MAX_OWNERS,
    CacheFeed,
    ContactsCache,
)
from services.contacts.service_layer.contacts_import import (
    IMPORT_BATCH_SIZE,
    MAX_IMPORT_BYTES,
    REPORT_PART_CONTACTS,
    ContactsImporter,
    ImportChunks,
)
from services.contacts.service_layer.contacts_maintenance import IMPORT_LEASE_SECONDS, ContactsMaintenance
from xuc.errors import Unreachable

log = logging.getLogger(__name__)

NOT_A_LINE = -2  # xuc.telephony.v1.PhoneStatus.NOT_A_LINE
EXPORT_PAGE_SIZE = 5000
CLAIM_ATTEMPTS = 3  # an idempotency key found taken is read again (the other request committed)


class PersonalContactsService:
    def __init__(
        self,
        unit_of_work: Callable[[], ContactsUnitOfWork],
        publisher: EventPublisher,
        phone_statuses: PhoneStatuses,
        *,
        import_batch_size: int = IMPORT_BATCH_SIZE,
        export_page_size: int = EXPORT_PAGE_SIZE,
        max_import_bytes: int = MAX_IMPORT_BYTES,
        clock: Callable[[], float] = time.time,
        cache_owners: int = CACHE_MAX_OWNERS,
        cache_max_contacts: int = CACHE_MAX_CONTACTS,
        cache_max_age: float = CACHE_MAX_AGE_SECONDS,
        instance_id: str | None = None,
        import_lease_seconds: float = IMPORT_LEASE_SECONDS,
        report_part_contacts: int = REPORT_PART_CONTACTS,
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._phones = phone_statuses
        self._page_size = export_page_size
        self._clock = clock  # wall-clock seconds: also the time of leases and idempotency records
        self._cache = ContactsCache(cache_owners, cache_max_contacts, max_age=cache_max_age)
        self.instance_id = instance_id or uuid.uuid4().hex  # this process, as the owner of its imports
        self._importer = ContactsImporter(unit_of_work, self._publish, self._cache, clock, self.instance_id,
                                          batch_size=import_batch_size, max_import_bytes=max_import_bytes,
                                          report_part_contacts=report_part_contacts)
        self._maintenance = ContactsMaintenance(unit_of_work, self._cache, clock, self.instance_id,
                                                lambda: self._importer.running, import_lease_seconds)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- the cache, with several processes ------------------------------------------------------
    def use_cache_feed(self, feed: CacheFeed) -> None:
        """Other processes write to the database too: `feed` reports their writes (`forget_cached`)."""
        self._cache.use_feed(feed)

    def forget_cached(self, owner_id: str) -> None:
        """A process (this one or another) changed the owner's contacts: drop them from the cache."""
        self._cache.evict(owner_id)

    def forget_all_cached(self) -> None:
        """Some owner's contacts changed, which one is unknown: drop every owner's."""
        self._cache.clear()

    # --- reading -------------------------------------------------------------------------------
    async def list_contacts(self, owner: Owner, search: str = "", limit: int = 0, offset: int = 0) -> ContactPage:
        contacts, total = await self.find_contacts(owner, search, limit, offset)
        numbers = sorted({contact.fields.number for contact in contacts if contact.fields.number})
        statuses = await self._phones.statuses(numbers) if numbers else {}
        entries = [
            ListedContact(contact, statuses.get(contact.fields.number, NOT_A_LINE) if contact.fields.number
                          else NOT_A_LINE)
            for contact in contacts
        ]
        return ContactPage(entries, total)

    async def find_contacts(self, owner: Owner, search: str = "", limit: int = 0,
                            offset: int = 0) -> tuple[list[Contact], int]:
        """One page of the owner's contacts matching `search`, in list order, and how many match."""
        query = contact_query(search, limit, offset)
        cached = await self._cache.contacts(owner.user_id, self._loader(owner.user_id))
        if cached is None:
            async with self._uow() as uow:
                return await uow.contacts.search(owner.user_id, query)
        matching = cached.matching(query.terms)
        end = query.offset + query.limit if query.limit else None
        return matching[query.offset:end], len(matching)

    async def favorite_contacts(self, owner: Owner, limit: int) -> list[Contact]:
        """Up to `limit` of the owner's contacts marked favorite, in list order."""
        cached = await self._cache.contacts(owner.user_id, self._loader(owner.user_id))
        if cached is None:
            async with self._uow() as uow:
                return await uow.contacts.favorites(owner.user_id, limit)
        return [contact for contact in cached.contacts if contact.fields.favorite][:limit]

    async def get_contact(self, owner: Owner, contact_id: str) -> Contact:
        contact_id = canonical_contact_id(contact_id)
        cached = await self._cache.contacts(owner.user_id, self._loader(owner.user_id))
        if cached is None:
            async with self._uow() as uow:
                contact = await uow.contacts.get(owner.user_id, contact_id)
        else:
            contact = cached.by_id.get(contact_id)
        if contact is None:
            raise _not_found(contact_id)
        return contact

    def _loader(self, owner_id: str) -> Callable[[int], Awaitable[list[Contact]]]:
        async def load(limit: int) -> list[Contact]:
            async with self._uow() as uow:
                return await uow.contacts.all_visible(owner_id, limit)
        return load

    async def export_contacts(self, owner: Owner) -> AsyncIterator[bytes]:
        """The owner's contacts as CSV chunks; no transaction stays open while a chunk is sent."""
        export = CsvExport()
        cursor: PageCursor | None = None
        while True:
            async with self._uow() as uow:
                page, cursor = await uow.contacts.page_after(owner.user_id, cursor, self._page_size)
            for contact in page:
                chunk = export.add(contact.fields)
                if chunk:
                    yield chunk
            if len(page) < self._page_size:
                break
        yield export.finish()

    # --- changing one contact ----------------------------------------------------------------
    async def create_contact(self, owner: Owner, fields: ContactFields, idempotency_key: str | None = None) -> Contact:
        """Create a contact; with a key, at most once per owner and key (see the module's notes)."""
        if idempotency_key is not None:
            return await self._create_idempotently(owner, checked_idempotency_key(idempotency_key), fields.validated())
        contact = Contact(new_contact_id(), owner.user_id, fields.validated())
        with self._cache.evicting(owner.user_id):
            async with self._uow() as uow:
                await uow.contacts.add(contact)
                await uow.commit()
        await self._publish_change(owner, contact.id, "created", False, contact.fields.favorite)
        return contact

    async def _create_idempotently(self, owner: Owner, key: str, fields: ContactFields) -> Contact:
        fingerprint = creation_fingerprint(fields)
        for _ in range(CLAIM_ATTEMPTS):
            now = self._clock()
            since = now - IDEMPOTENCY_WINDOW_SECONDS
            contact = Contact(new_contact_id(), owner.user_id, fields)
            async with self._uow() as uow:
                # The key first, in the contact's transaction: a concurrent request with this key
                # waits here for our outcome, then finds the key taken.
                if await uow.idempotency.claim(owner.user_id, key, IdempotentCreation(contact.id, fingerprint, now),
                                               expired_before=since):
                    with self._cache.evicting(owner.user_id):
                        await uow.contacts.add(contact)
                        await uow.commit()
                    break
                earlier = await uow.idempotency.find(owner.user_id, key, since)
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                log.info("idempotent creation repeated", extra={"owner": owner.login, "contact_id": earlier.contact_id})
                # The first answer: same fingerprint, so the same validated fields.
                return Contact(earlier.contact_id, owner.user_id, fields)
            # The key's record went between our claim and our look-up (expired, deleted): again.
        else:
            raise Unreachable("The creation could not be settled, try again")
        await self._publish_change(owner, contact.id, "created", False, contact.fields.favorite)
        return contact

    async def update_contact(
        self, owner: Owner, contact_id: str, fields: ContactFields, favorite: bool | None = None
    ) -> Contact:
        """Replace every text field; `favorite` is kept when None."""
        contact_id = canonical_contact_id(contact_id)
        validated = fields.validated()
        with self._cache.evicting(owner.user_id):
            async with self._uow() as uow:
                existing = await uow.contacts.get(owner.user_id, contact_id)
                if existing is None:
                    raise _not_found(contact_id)
                kept = existing.fields.favorite if favorite is None else favorite
                contact = replace(existing, fields=replace(validated, favorite=kept))
                await uow.contacts.update(contact)
                await uow.commit()
        await self._publish_change(owner, contact.id, "updated", existing.fields.favorite, kept)
        return contact

    async def set_favorite(self, owner: Owner, contact_id: str, favorite: bool) -> bool:
        """Mark the owner's contact a favorite or not; False when it already was so (nothing written,
        no event). Another owner's contact, or none: ContactNotFound."""
        contact_id = canonical_contact_id(contact_id)
        with self._cache.evicting(owner.user_id):
            async with self._uow() as uow:
                if not await uow.contacts.set_favorite(owner.user_id, contact_id, favorite):
                    if await uow.contacts.get(owner.user_id, contact_id) is None:
                        raise _not_found(contact_id)
                    return False
                await uow.commit()
        await self._publish_change(owner, contact_id, "updated", not favorite, favorite)
        return True

    async def delete_contact(self, owner: Owner, contact_id: str) -> int:
        contact_id = canonical_contact_id(contact_id)
        with self._cache.evicting(owner.user_id):
            async with self._uow() as uow:
                existing = await uow.contacts.get(owner.user_id, contact_id)
                if existing is None or not await uow.contacts.delete(owner.user_id, contact_id):
                    raise _not_found(contact_id)
                await uow.commit()
        await self._publish_change(owner, contact_id, "deleted", existing.fields.favorite, False)
        return 1

    async def delete_all_contacts(self, owner: Owner) -> int:
        with self._cache.evicting(owner.user_id):
            async with self._uow() as uow:
                deleted = await uow.contacts.delete_all(owner.user_id)
                await uow.commit()
        await self._publish(ContactsCleared(owner, deleted, self._now()))
        return deleted

    # --- import and upkeep (contacts_import.py, contacts_maintenance.py) ----------------------
    def import_contacts(self, owner: Owner, chunks: ImportChunks) -> AsyncGenerator[ImportReport, None]:
        """Import a file; once its contacts are published, its report, in parts (ImportReport).

        Nothing happens before the first part is asked for; an error (the file refused, the import
        interrupted) is raised then, and nothing is imported. Close the iterator (`aclosing`)."""
        return self._importer.import_contacts(owner, chunks)

    async def discard_unfinished_imports(self) -> int:
        """Delete the pending rows of imports no live process runs; call at start."""
        return await self._maintenance.discard_unfinished_imports()

    async def maintain(self) -> None:
        """One round of upkeep: see contacts_maintenance.py."""
        await self._maintenance.maintain()

    @property
    def maintenance_interval(self) -> float:
        return self._maintenance.maintenance_interval

    async def run_maintenance(self) -> None:
        """`maintain` every `maintenance_interval` s, until cancelled."""
        await self._maintenance.run_maintenance()

    async def _publish(self, event: Event) -> None:
        await self._publisher.publish([event])

    async def _publish_change(self, owner: Owner, contact_id: str, change: str, was_favorite: bool,
                              is_favorite: bool) -> None:
        """ContactChanged, then FavoriteChanged when the contact's `favorite` changed (a favorite
        deleted is a favorite removed): whoever shows the owner's favorites follows one subject."""
        now = self._now()
        events: list[Event] = [ContactChanged(owner, contact_id, change, now)]
        if was_favorite != is_favorite:
            events.append(FavoriteChanged(owner, ADDED if is_favorite else REMOVED, contact_id, PERSONAL, now))
        await self._publisher.publish(events)


def _not_found(contact_id: str) -> ContactNotFound:
    return ContactNotFound(f"No contact with id {contact_id}")

