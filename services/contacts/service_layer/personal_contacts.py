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
  Memory holds one batch, never the file. One ContactsImported event, no per-contact events.
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
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
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
    CreatedContact,
    Event,
    FailedLine,
    ImportReport,
    KeyedContact,
    ListedContact,
    Owner,
    canonical_contact_id,
    contact_keys,
    contact_query,
    new_contact_id,
)
from services.contacts.domain.csv_format import CsvExport, ImportParser, ParsedLine
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
from xuc.errors import Unreachable

log = logging.getLogger(__name__)

NOT_A_LINE = -2  # xuc.telephony.v1.PhoneStatus.NOT_A_LINE
DUPLICATE_CONTACT = "duplicate contact"
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
    async def import_contacts(self, owner: Owner, chunks: ImportChunks) -> ImportReport:
        run = _ImportRun(owner, self._uow, self._batch_size, self.instance_id, self._clock)
        published = False
        self._imports_running += 1
        try:
            await self._read_file(run, chunks)
            await run.flush()
            if not run.report.created:
                raise _no_valid_line(run.report)
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
        report = run.report
        report.failed.sort()
        log.info("contacts imported", extra={"owner": owner.login, "created_contacts": len(report.created),
                                             "failed_lines": len(report.failed)})
        await self._publish(ContactsImported(owner, len(report.created), len(report.failed), self._now()))
        return report

    async def _read_file(self, run: _ImportRun, chunks: ImportChunks) -> None:
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

    async def _abandon(self, owner_id: str, run: _ImportRun) -> None:
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


class _ImportRun:
    """One import in progress: the current batch, and the report so far."""

    def __init__(self, owner: Owner, unit_of_work: Callable[[], ContactsUnitOfWork], batch_size: int,
                 instance_id: str, clock: Callable[[], float]) -> None:
        self.owner = owner
        self.import_id = new_contact_id()
        self.report = ImportReport()
        self.stored_any = False
        self._registered = False  # the lease exists (committed with the first batch)
        self._instance_id = instance_id
        self._clock = clock
        self._uow = unit_of_work
        self._batch_size = batch_size
        self._batch: list[tuple[int, KeyedContact]] = []
        self._batch_keys: set[str] = set()
        self._storing: asyncio.Future[None] | None = None

    async def take(self, parsed: ParsedLine) -> None:
        if parsed.fields is None:
            self.report.failed.append(FailedLine(parsed.line, parsed.errors))
            return
        keys = contact_keys(parsed.fields)
        if keys.identity in self._batch_keys:  # storage would skip it too; earlier batches are its job
            self.report.failed.append(FailedLine(parsed.line, (DUPLICATE_CONTACT,)))
            return
        self._batch_keys.add(keys.identity)
        contact = Contact(new_contact_id(), self.owner.user_id, parsed.fields)
        self._batch.append((parsed.line, KeyedContact(contact, keys)))
        if len(self._batch) >= self._batch_size:
            await self._store_in_background()

    async def flush(self) -> None:
        """Store what is left and wait until every batch is stored (the end of the file)."""
        if self._batch:
            await self._store_in_background()
        await self.settle()

    async def _store_in_background(self) -> None:
        """Hand the batch to storage and go on parsing while the database writes it (in its
        thread or server): parsing and writing overlap. One batch at most is in flight, so
        batches are stored in file order and memory holds two batches at most."""
        await self.settle()
        batch, self._batch, self._batch_keys = self._batch, [], set()
        self.stored_any = True  # before the call: a cancellation may land after rows were committed
        self._storing = asyncio.ensure_future(self._store(batch))

    async def settle(self, quietly: bool = False) -> None:
        """Wait for the batch in flight; its error surfaces here unless `quietly`."""
        storing, self._storing = self._storing, None
        if storing is None:
            return
        if quietly:
            await asyncio.gather(storing, return_exceptions=True)
        else:
            await storing

    async def _store(self, batch: list[tuple[int, KeyedContact]]) -> None:
        async with self._uow() as uow:
            # The lease first: it is held (locked) until this batch commits, and a lost one stops us.
            if not self._registered:
                await uow.imports.register(self.import_id, self.owner.user_id, self._instance_id, self._clock())
            elif not await uow.imports.renew(self.import_id, self._clock()):
                raise ImportInterrupted()
            stored = await uow.contacts.add_pending(self.import_id, [keyed for _, keyed in batch])
            await uow.commit()
        self._registered = True
        created, failed = self.report.created, self.report.failed
        for line, (contact, _) in batch:
            if contact.id in stored:
                created.append(CreatedContact(contact.id, contact.fields.lastname))
            else:
                failed.append(FailedLine(line, (DUPLICATE_CONTACT,)))


def _not_found(contact_id: str) -> ContactNotFound:
    return ContactNotFound(f"No contact with id {contact_id}")


def _no_valid_line(report: ImportReport) -> InvalidImport:
    failed = sorted(report.failed)
    quoted = "; ".join(f"line {line.line}: {', '.join(line.errors)}" for line in failed[:ERRORS_IN_MESSAGE])
    more = f"; and {len(failed) - ERRORS_IN_MESSAGE} more" if len(failed) > ERRORS_IN_MESSAGE else ""
    return InvalidImport(f"no valid line ({quoted}{more})" if quoted else "no valid line")
