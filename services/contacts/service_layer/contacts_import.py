"""The contacts import: the pipeline (`ContactsImporter`), one import in progress (`ImportRun`),
and its report kept out of memory (`CreatedSpool`). The guarantee (all of a file's valid lines
at once, or none) is told in personal_contacts.py's notes.

Memory holds two batches of contacts at most (one being parsed, one being stored), the first
MAX_FAILED_LISTED failed lines, and one part of the report: never the file nor the whole report.
The created contacts of a large file (up to millions of lines in the import limit) would not fit,
and clients need every id, so they are written, part by part, to a temporary file (in memory up
to SPOOL_MEMORY_BYTES, then on disk, unlinked from the start) and read back to answer the report
once the import is published. Why not page them from the database after the publication: the
rows no longer carry their import's id then (an index on it would slow every import down), and
the owner may change or delete them meanwhile; the spool is exactly what this import created.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType

from services.contacts.domain.contacts import Contact, KeyedContact, Owner, contact_keys, new_contact_id
from services.contacts.domain.csv_format import ImportParser, ParsedLine
from services.contacts.domain.errors import ImportInterrupted, InvalidImport
from services.contacts.domain.events import ContactsImported, Event
from services.contacts.domain.import_report import CreatedContact, FailedLines, ImportReport
from services.contacts.domain.ports import ContactsUnitOfWork
from services.contacts.service_layer.contacts_cache import ContactsCache

log = logging.getLogger(__name__)

IMPORT_BATCH_SIZE = 10_000
YIELD_EVERY_LINES = 100  # ~2 ms of parsing
MAX_IMPORT_BYTES = 64 * 1024 * 1024  # XUC_MAX_IMPORT_BYTES's default
ERRORS_IN_MESSAGE = 5  # line errors quoted when a file has no valid line
ImportChunks = AsyncIterable[tuple[str, bytes]]  # (charset, data); the first chunk's charset counts
DUPLICATE_CONTACT = "duplicate contact"
# Created contacts per part of the report: a part is at most ~2 MB (a 36-character id and a
# lastname of up to 128 characters each), well under gRPC's 4 MiB message limit.
REPORT_PART_CONTACTS = 4000
SPOOL_MEMORY_BYTES = 1024 * 1024  # a spool stays in memory up to this, then goes to a temporary file


class CreatedSpool:
    """The created contacts of an import, in order, in a temporary file: one JSON array of
    [id, lastname] pairs per line, each a part of the report. Close it (or use `with`)."""

    def __init__(self, part_contacts: int = REPORT_PART_CONTACTS) -> None:
        self._part_contacts = part_contacts
        # Closed by `close`: the spool outlives this call (it is the import's, until answered).
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
        self._part: list[tuple[str, str]] = []
        self.count = 0

    def add(self, contact_id: str, lastname: str) -> None:
        self._part.append((contact_id, lastname))
        self.count += 1
        if len(self._part) >= self._part_contacts:
            self._write_part()

    def _write_part(self) -> None:
        self._file.write(json.dumps(self._part, ensure_ascii=False).encode() + b"\n")
        self._part = []

    def parts(self) -> Iterator[list[CreatedContact]]:
        """Every contact added, part by part, in the order added (at least one part, maybe empty)."""
        if self._part or not self.count:
            self._write_part()
        self._file.seek(0)
        for line in self._file:
            yield [CreatedContact(contact_id, lastname) for contact_id, lastname in json.loads(line)]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CreatedSpool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class ImportRun:
    """One import in progress: the current batch, and the report so far."""

    def __init__(self, owner: Owner, unit_of_work: Callable[[], ContactsUnitOfWork], batch_size: int,
                 instance_id: str, clock: Callable[[], float], created: CreatedSpool) -> None:
        self.owner = owner
        self.import_id = new_contact_id()
        self.created = created
        self.failed = FailedLines()
        self.stored_any = False
        self._registered = False  # the lease exists (committed with the first batch)
        self._instance_id = instance_id
        self._clock = clock
        self._uow = unit_of_work
        self._batch_size = batch_size
        self._batch: list[tuple[int, KeyedContact]] = []
        self._batch_keys: set[str] = set()
        self._storing: asyncio.Future[None] | None = None

    def report(self) -> Iterator[ImportReport]:
        """The report, in parts (see ImportReport); once the import is over."""
        first = True
        for created in self.created.parts():
            if first:
                yield ImportReport(created, self.failed.first(), self.failed.count)
                first = False
            else:
                yield ImportReport(created)

    async def take(self, parsed: ParsedLine) -> None:
        if parsed.fields is None:
            self.failed.add(parsed.line, parsed.errors)
            return
        keys = contact_keys(parsed.fields)
        if keys.identity in self._batch_keys:  # storage would skip it too; earlier batches are its job
            self.failed.add(parsed.line, (DUPLICATE_CONTACT,))
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
        for line, (contact, _) in batch:
            if contact.id in stored:
                self.created.add(contact.id, contact.fields.lastname)
            else:
                self.failed.add(line, (DUPLICATE_CONTACT,))


class ContactsImporter:
    """The leased import pipeline: a file read and parsed as it arrives, its valid lines stored in
    batches as pending rows under a lease (ImportRun), published at once at the end, or discarded
    on any failure. The leases of imports in progress are renewed, and those of dead processes
    reaped, by contacts_maintenance.py."""

    def __init__(self, unit_of_work: Callable[[], ContactsUnitOfWork], publish: Callable[[Event], Awaitable[None]],
                 cache: ContactsCache, clock: Callable[[], float], instance_id: str, *,
                 batch_size: int = IMPORT_BATCH_SIZE, max_import_bytes: int = MAX_IMPORT_BYTES,
                 report_part_contacts: int = REPORT_PART_CONTACTS) -> None:
        self._uow = unit_of_work
        self._publish = publish
        self._cache = cache
        self._clock = clock
        self._instance_id = instance_id
        self._batch_size = batch_size
        self._max_import_bytes = max_import_bytes
        self._report_part_contacts = report_part_contacts
        self.running = 0  # imports in progress in this process, whose leases maintenance renews

    async def import_contacts(self, owner: Owner, chunks: ImportChunks) -> AsyncGenerator[ImportReport, None]:
        """Import a file; once its contacts are published, its report, in parts (ImportReport).

        Nothing happens before the first part is asked for; an error (the file refused, the import
        interrupted) is raised then, and nothing is imported. Close the iterator (`aclosing`)."""
        with CreatedSpool(self._report_part_contacts) as created:
            run = ImportRun(owner, self._uow, self._batch_size, self._instance_id, self._clock, created)
            await self._import(run, chunks)
            for part in run.report():
                yield part

    async def _import(self, run: ImportRun, chunks: ImportChunks) -> None:
        owner = run.owner
        published = False
        self.running += 1
        try:
            await self._read_file(run, chunks)
            await run.flush()
            if not run.created.count:
                raise _no_valid_line(run.failed)
            with self._cache.evicting(owner.user_id):
                async with self._uow() as uow:
                    if not await uow.imports.renew(run.import_id, self._clock()):
                        raise ImportInterrupted()
                    await uow.contacts.publish_import(run.import_id)
                    await uow.imports.release(run.import_id)
                    await uow.commit()
            published = True
        finally:
            self.running -= 1
            if run.stored_any and not published:
                # Shielded: a cancelled call (the usual reason to be here) must not cut the cleanup short.
                await asyncio.shield(self._abandon(owner.user_id, run))
        log.info("contacts imported", extra={"owner": owner.login, "created_contacts": run.created.count,
                                             "failed_lines": run.failed.count})
        now = datetime.fromtimestamp(self._clock(), UTC)
        await self._publish(ContactsImported(owner, run.created.count, run.failed.count, now))

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
            with self._cache.evicting(owner_id):  # pending rows are invisible: evicted to be safe only
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


def _no_valid_line(failed: FailedLines) -> InvalidImport:
    first = failed.first()[:ERRORS_IN_MESSAGE]
    quoted = "; ".join(f"line {line.line}: {', '.join(line.errors)}" for line in first)
    more = f"; and {failed.count - len(first)} more" if failed.count > len(first) else ""
    return InvalidImport(f"no valid line ({quoted}{more})" if quoted else "no valid line")
