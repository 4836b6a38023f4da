"""The import use case against fakes of its ports: the report, and the guarantee that a file's
contacts are all created or none, under bad bytes, cancellation and the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from services.contacts.domain.contacts import (
    ContactFields,
)
from services.contacts.domain.errors import (
    InvalidImport,
)
from services.contacts.domain.events import ContactsImported
from services.contacts.domain.import_report import CreatedContact, FailedLine
from services.contacts.service_layer.contacts_import import SPOOL_MEMORY_BYTES, CreatedSpool
from tests.unit.personal_contacts.fakes import ALICE, System, csv_file, file_chunks


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
