"""The personal contacts use cases. Events are published after the change is committed.

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

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from services.contacts.domain.contacts import (
    Contact,
    ContactChanged,
    ContactFields,
    ContactPage,
    ContactsCleared,
    ContactsImported,
    Event,
    FailedLines,
    ImportReport,
    ListedContact,
    Owner,
    canonical_contact_id,
    contact_query,
    new_contact_id,
)
from services.contacts.domain.csv_format import CsvExport, ImportParser
from services.contacts.domain.errors import ContactNotFound, IdempotencyKeyReused, ImportInterrupted, InvalidImport
from services.contacts.domain.idempotency import (
    IDEMPOTENCY_WINDOW_SECONDS,
    IdempotentCreation,
    checked_idempotency_key,
    creation_fingerprint,
)
from services.contacts.domain.ports import ContactsUnitOfWork, EventPublisher, PageCursor, PhoneStatuses
from services.contacts.service_layer.contacts_cache import (
    CACHE_MAX_AGE_SECONDS,
    CACHE_MAX_CONTACTS,
    CACHE_MAX_OWNERS,
    CacheFeed,
    ContactsCache,
)
from services.contacts.service_layer.contacts_import import REPORT_PART_CONTACTS, CreatedSpool, ImportRun
from xuc.errors import Unreachable

log = logging.getLogger(__name__)

NOT_A_LINE = -2  # xuc.telephony.v1.PhoneStatus.NOT_A_LINE
IMPORT_BATCH_SIZE = 10_000
EXPORT_PAGE_SIZE = 5000
YIELD_EVERY_LINES = 100  # ~2 ms of parsing
MAX_IMPORT_BYTES = 64 * 1024 * 1024  # XUC_MAX_IMPORT_BYTES's default
ERRORS_IN_MESSAGE = 5  # line errors quoted when a file has no valid line
IMPORT_LEASE_SECONDS = 60.0  # an import whose lease is this old is a dead process's: its rows go
CLAIM_ATTEMPTS = 3  # an idempotency key found taken is read again (the other request committed)

ImportChunks = AsyncIterable[tuple[str, bytes]]  # (charset, data); the first chunk's charset counts


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
        self._batch_size = import_batch_size
        self._page_size = export_page_size
        self._max_import_bytes = max_import_bytes
        self._clock = clock  # wall-clock seconds: also the time of leases and idempotency records
        self._cache = ContactsCache(cache_owners, cache_max_contacts, max_age=cache_max_age)
        self.instance_id = instance_id or uuid.uuid4().hex  # this process, as the owner of its imports
        self.import_lease_seconds = import_lease_seconds
        self._imports_running = 0
        self._report_part_contacts = report_part_contacts

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
        query = contact_query(search, limit, offset)
        cached = await self._cache.contacts(owner.user_id, self._loader(owner.user_id))
        if cached is None:
            async with self._uow() as uow:
                contacts, total = await uow.contacts.search(owner.user_id, query)
        else:
            matching = cached.matching(query.terms)
            end = query.offset + query.limit if query.limit else None
            contacts, total = matching[query.offset:end], len(matching)
        numbers = sorted({contact.fields.number for contact in contacts if contact.fields.number})
        statuses = await self._phones.statuses(numbers) if numbers else {}
        entries = [
            ListedContact(contact, statuses.get(contact.fields.number, NOT_A_LINE) if contact.fields.number
                          else NOT_A_LINE)
            for contact in contacts
        ]
        return ContactPage(entries, total)

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

    @contextmanager
    def _changing(self, owner_id: str) -> Iterator[None]:
        """Around a write: the owner's cached contacts are evicted once it is over (committed or
        failed: a failed commit may still have been applied)."""
        try:
            yield
        finally:
            self._cache.evict(owner_id)

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
        with self._changing(owner.user_id):
            async with self._uow() as uow:
                await uow.contacts.add(contact)
                await uow.commit()
        await self._publish(ContactChanged(owner, contact.id, "created", self._now()))
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
                    with self._changing(owner.user_id):
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
        await self._publish(ContactChanged(owner, contact.id, "created", self._now()))
        return contact

    async def update_contact(
        self, owner: Owner, contact_id: str, fields: ContactFields, favorite: bool | None = None
    ) -> Contact:
        """Replace every text field; `favorite` is kept when None."""
        contact_id = canonical_contact_id(contact_id)
        validated = fields.validated()
        with self._changing(owner.user_id):
            async with self._uow() as uow:
                existing = await uow.contacts.get(owner.user_id, contact_id)
                if existing is None:
                    raise _not_found(contact_id)
                kept = existing.fields.favorite if favorite is None else favorite
                contact = replace(existing, fields=replace(validated, favorite=kept))
                await uow.contacts.update(contact)
                await uow.commit()
        await self._publish(ContactChanged(owner, contact.id, "updated", self._now()))
        return contact

    async def delete_contact(self, owner: Owner, contact_id: str) -> int:
        contact_id = canonical_contact_id(contact_id)
        with self._changing(owner.user_id):
            async with self._uow() as uow:
                if not await uow.contacts.delete(owner.user_id, contact_id):
                    raise _not_found(contact_id)
                await uow.commit()
        await self._publish(ContactChanged(owner, contact_id, "deleted", self._now()))
        return 1

    async def delete_all_contacts(self, owner: Owner) -> int:
        with self._changing(owner.user_id):
            async with self._uow() as uow:
                deleted = await uow.contacts.delete_all(owner.user_id)
                await uow.commit()
        await self._publish(ContactsCleared(owner, deleted, self._now()))
        return deleted

    # --- import --------------------------------------------------------------------------------
    async def import_contacts(self, owner: Owner, chunks: ImportChunks) -> AsyncGenerator[ImportReport, None]:
        """Import a file; once its contacts are published, its report, in parts (ImportReport).

        Nothing happens before the first part is asked for; an error (the file refused, the import
        interrupted) is raised then, and nothing is imported. Close the iterator (`aclosing`)."""
        with CreatedSpool(self._report_part_contacts) as created:
            run = ImportRun(owner, self._uow, self._batch_size, self.instance_id, self._clock, created)
            await self._import(run, chunks)
            for part in run.report():
                yield part

    async def _import(self, run: ImportRun, chunks: ImportChunks) -> None:
        owner = run.owner
        published = False
        self._imports_running += 1
        try:
            await self._read_file(run, chunks)
            await run.flush()
            if not run.created.count:
                raise _no_valid_line(run.failed)
            with self._changing(owner.user_id):
                async with self._uow() as uow:
                    if not await uow.imports.renew(run.import_id, self._clock()):
                        raise ImportInterrupted()
                    await uow.contacts.publish_import(run.import_id)
                    await uow.imports.release(run.import_id)
                    await uow.commit()
            published = True
        finally:
            self._imports_running -= 1
            if run.stored_any and not published:
                # Shielded: a cancelled call (the usual reason to be here) must not cut the cleanup short.
                await asyncio.shield(self._abandon(owner.user_id, run))
        log.info("contacts imported", extra={"owner": owner.login, "created_contacts": run.created.count,
                                             "failed_lines": run.failed.count})
        await self._publish(ContactsImported(owner, run.created.count, run.failed.count, self._now()))

    async def _read_file(self, run: ImportRun, chunks: ImportChunks) -> None:
        parser: ImportParser | None = None
        received = 0
        async for charset, data in chunks:
            if parser is None:
                parser = ImportParser(charset)
            received += len(data)
            if received > self._max_import_bytes:
                raise InvalidImport(f"the file is larger than {self._max_import_bytes} bytes")
            for index, parsed in enumerate(parser.feed(data), start=1):
                await run.take(parsed)
                if index % YIELD_EVERY_LINES == 0:
                    # Parsing never waits by itself: let the batch being stored go on to its next
                    # statement (each one takes a turn of the event loop) while we parse.
                    await asyncio.sleep(0)
        for parsed in (parser or ImportParser()).finish():
            await run.take(parsed)

    async def _abandon(self, owner_id: str, run: ImportRun) -> None:
        await run.settle(quietly=True)  # the batch in flight lands first, then everything goes
        await self._discard(owner_id, run.import_id)

    async def _discard(self, owner_id: str, import_id: str) -> None:
        try:
            with self._changing(owner_id):  # pending rows are invisible: evicted to be safe only
                async with self._uow() as uow:
                    discarded = await uow.contacts.discard_import(import_id)
                    await uow.imports.release(import_id)
                    await uow.commit()
        except Exception:
            # The import's own error is the one to answer; its lease expires and a process (this one
            # or another) deletes these rows then.
            log.exception("pending rows of a failed import not deleted", extra={"import_id": import_id})
            return
        log.info("unfinished import discarded", extra={"import_id": import_id, "rows": discarded})

    async def discard_unfinished_imports(self) -> int:
        """Delete the pending rows of imports no live process runs; call at start.

        Those of an expired lease (a crashed process's; the imports of live processes, which renew
        theirs, are left alone), and those without a lease (left by a version without leases)."""
        discarded = await self._reap_expired_imports()
        async with self._uow() as uow:
            unregistered = await uow.contacts.discard_unregistered_pending()
            await uow.commit()
        if unregistered:
            log.warning("pending rows of unfinished imports deleted", extra={"rows": unregistered})
        self._cache.clear()  # pending rows are invisible: to be safe only
        return discarded + unregistered

    async def _reap_expired_imports(self) -> int:
        before = self._clock() - self.import_lease_seconds
        async with self._uow() as uow:
            expired = await uow.imports.expired(before)
        discarded = 0
        for import_id in expired:
            async with self._uow() as uow:
                if not await uow.imports.take_expired(import_id, before):
                    continue  # renewed (or finished) meanwhile
                rows = await uow.contacts.discard_import(import_id)
                await uow.commit()
            discarded += rows
            log.warning("pending rows of unfinished imports deleted",
                        extra={"import_id": import_id, "rows": rows})
        return discarded

    async def maintain(self) -> None:
        """One round of upkeep (run every `maintenance_interval` s): renew the leases of this
        process's imports in progress, delete the rows of expired imports, forget idempotency
        keys older than 24 h."""
        if self._imports_running:
            async with self._uow() as uow:
                await uow.imports.renew_all(self.instance_id, self._clock())
                await uow.commit()
        await self._reap_expired_imports()
        async with self._uow() as uow:
            forgotten = await uow.idempotency.delete_expired(self._clock() - IDEMPOTENCY_WINDOW_SECONDS)
            await uow.commit()
        if forgotten:
            log.info("expired idempotency keys deleted", extra={"rows": forgotten})

    @property
    def maintenance_interval(self) -> float:
        return self.import_lease_seconds / 4

    async def run_maintenance(self) -> None:
        """`maintain` every `maintenance_interval` s, until cancelled; a failed round is logged."""
        while True:
            await asyncio.sleep(self.maintenance_interval)
            try:
                await self.maintain()
            except Exception:
                log.exception("contacts maintenance failed (retried at the next round)")

    async def _publish(self, event: Event) -> None:
        await self._publisher.publish([event])


def _not_found(contact_id: str) -> ContactNotFound:
    return ContactNotFound(f"No contact with id {contact_id}")


def _no_valid_line(failed: FailedLines) -> InvalidImport:
    first = failed.first()[:ERRORS_IN_MESSAGE]
    quoted = "; ".join(f"line {line.line}: {', '.join(line.errors)}" for line in first)
    more = f"; and {failed.count - len(first)} more" if failed.count > len(first) else ""
    return InvalidImport(f"no valid line ({quoted}{more})" if quoted else "no valid line")
