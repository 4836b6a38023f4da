"""ImportContacts: good files, charsets, files refused as a whole, duplicates, reports in parts, and
imports that end badly (cancelled, cut short, past their deadline, crashed) leaving nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from services.contacts.service_layer.contacts_import import IMPORT_BATCH_SIZE
from tests.integration.conftest import start_contacts
from tests.support.contacts_client import (
    HEADER,
    INVALID,
    Contacts,
    chunked,
    joined_report,
    new_users,
    pending_rows,
    wait_until,
)
from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, rpc_error
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc


# --- import ----------------------------------------------------------------------------------------------
async def test_import_a_good_file(alice: Contacts) -> None:
    data = ("\ufeff" + "\r\n".join([
        HEADER,
        "corp,jdoe@company.corp,3333,John,Doe,2222,1111",     # 2
        "",                                                    # 3
        '"ACME,\r\nInc.",,,"Multi ""Line""",Smith,,1002',      # 4-5: refused, a line break in a value
        '"ACME, Inc.",,,"Quoted ""Name""",Wayne,,1003',        # 6
        "Société,,,Hélène,Côté,,1004",                          # 7
        "x,y",                                                 # 8
        "'=cmd,'@x,,Eve,'+Plus,,'-1",                          # 9
    ]) + "\r\n").encode()

    report = await alice.import_file(data, chunk_size=7)

    assert [created.lastname for created in report.created] == ["Doe", "Wayne", "Côté", "+Plus"]
    assert [(failed.line, list(failed.errors)) for failed in report.failed] == [
        (4, ["company must not contain control characters"]), (8, ["missing fields"])]
    assert sorted(await alice.lastnames()) == ["+Plus", "Côté", "Doe", "Wayne"]
    plus = await alice.get(report.created[3].id)
    assert plus.fields == contacts_pb2.ContactFields(company="=cmd", email="@x", firstname="Eve", lastname="+Plus",
                                                     number="-1", favorite=False)
    assert (await alice.get(report.created[1].id)).fields.firstname == 'Quoted "Name"'


async def test_import_latin1_subset_of_columns(alice: Contacts) -> None:
    data = b"Lastname;x\nnom\n"  # a header that is not ours first: refused as a whole
    assert await refusal(alice.import_file(data)) == (INVALID, "InvalidContact")
    report = await alice.import_file("LastName , Company\nMüller,Société Générale\n".encode("latin-1"),
                                     charset="ISO-8859-1")
    assert [created.lastname for created in report.created] == ["Müller"]
    assert (await alice.get(report.created[0].id)).fields.company == "Société Générale"


async def test_invalid_utf8_creates_nothing(alice: Contacts, contacts_database: TestDatabase) -> None:
    good = "".join(f",,,,Name{index},,{index}\n" for index in range(4500)).encode()  # more than two batches
    data = f"{HEADER}\n".encode() + good + b",,,,B\xe9ranger,,1\n"

    error = await rpc_error(alice.import_file(data, chunk_size=4096))

    offset = data.index(b"\xe9")
    assert (error.code(), error.details()) == (INVALID, f"the file is not valid utf-8 (byte offset {offset})")
    assert (await alice.list_contacts()).total == 0
    assert await asyncio.to_thread(pending_rows, contacts_database) == 0


@pytest.mark.parametrize(("data", "message"), [
    (b"name,phone\nDoe,1\n", "unknown column(s): name, phone (columns are company, email, fax, firstname, "
                             "lastname, mobile, number)"),
    (b"lastname,lastname\nDoe,Doe\n", "duplicate column(s): lastname"),
    (b"", "the file is empty: its first line must name the columns"),
    (b"lastname,fax\n,1\nDoe,1,2\n", "no valid line (line 2: a contact needs a name or a phone number; "
                                     "line 3: too many fields)"),
])
async def test_files_refused_as_a_whole(alice: Contacts, data: bytes, message: str) -> None:
    error = await rpc_error(alice.import_file(data))
    assert (error.code(), error.details()) == (INVALID, message)
    assert await refusal(alice.import_file(data)) == (INVALID, "InvalidContact")
    assert (await alice.list_contacts()).total == 0


async def test_unknown_charset(alice: Contacts) -> None:
    error = await rpc_error(alice.import_file(b"lastname\nDoe\n", charset="klingon"))
    assert (error.code(), error.details()) == (INVALID, "unknown charset 'klingon'")


async def test_a_file_refused_early_is_answered_once_the_client_has_sent_it_all(alice: Contacts) -> None:
    # The service refuses the charset on the first chunk but reads the rest before answering: a
    # client still writing then never races the answer (grpc aio reports a write into a call
    # that has just ended as an "internal error", in place of the real answer). No pause stands in
    # for "the refusal is decided": the rest of the file is 4 MiB, more than gRPC's flow-control
    # windows let a client send unread, so once every write went through, the service has read
    # past the first chunk (the refusal is decided), and an early answer would have ended the call.
    call = alice.stub.ImportContacts(metadata=alice.user.metadata)
    await call.write(contacts_pb2.ImportChunk(charset="klingon", data=b"lastname\n"))
    rest = b"Doe\n" * (16 * 1024)  # 64 KiB
    for _ in range(64):
        await call.write(contacts_pb2.ImportChunk(data=rest))
        assert not call.done()  # not answered while the client is still writing
    await call.write(contacts_pb2.ImportChunk(last=True))
    await call.done_writing()
    error = await rpc_error(joined_report(call))
    assert (error.code(), error.details()) == (INVALID, "unknown charset 'klingon'")


async def test_duplicates_within_the_file_and_against_existing(alice: Contacts) -> None:
    await alice.create(lastname="Existing", number="01 02")
    data = b"lastname,number\nDoe,1\nexisting,01.02\nLee,2\nDOE, 1\nDoe,1\n"
    report = await alice.import_file(data)
    assert [created.lastname for created in report.created] == ["Doe", "Lee"]
    assert [(failed.line, list(failed.errors)) for failed in report.failed] == [
        (3, ["duplicate contact"]), (5, ["duplicate contact"]), (6, ["duplicate contact"])]
    again = await rpc_error(alice.import_file(data))  # everything is there already
    assert again.details().startswith("no valid line (line 2: duplicate contact; line 3: duplicate contact")


async def test_a_large_report_comes_in_parts_and_lists_the_first_1000_failed_lines(alice: Contacts) -> None:
    lines = [f",,,,Name{index:05d},,{index}" if index % 7 else "x,y" for index in range(10_500)]
    data = "\n".join([HEADER, *lines]).encode()  # 1,500 bad lines (every 7th), 9,000 good ones

    parts = [part async for part in alice.stub.ImportContacts(chunked(data, size=64 * 1024),
                                                              metadata=alice.user.metadata)]

    assert [len(part.created) for part in parts] == [4000, 4000, 1000]
    assert [(len(part.failed), part.failed_count) for part in parts] == [(1000, 1500), (0, 0), (0, 0)]
    assert [failed.line for failed in parts[0].failed] == [2 + 7 * index for index in range(1000)]
    assert max(part.ByteSize() for part in parts) < 1024 * 1024
    created = [contact.lastname for part in parts for contact in part.created]
    assert created == [f"Name{index:05d}" for index in range(10_500) if index % 7]
    assert (await alice.list_contacts(limit=1)).total == 9000


async def test_a_cancelled_import_leaves_nothing(alice: Contacts, contacts_database: TestDatabase) -> None:
    sent_enough, never = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[contacts_pb2.ImportChunk]:
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode())
        for index in range(IMPORT_BATCH_SIZE // 100 + 5):  # a batch and a half: one is stored as pending rows
            lines = "".join(f",,,,Name{index}-{line},,{line}\n" for line in range(100))
            yield contacts_pb2.ImportChunk(data=lines.encode())
        sent_enough.set()
        await never.wait()  # the client then goes silent: the call stays open until cancelled
        yield contacts_pb2.ImportChunk(data=b",,,,Never,,1\n")

    call = alice.import_call(chunks())
    await sent_enough.wait()
    await wait_until(lambda: pending_rows(contacts_database) >= IMPORT_BATCH_SIZE, "pending rows of the import")
    assert (await alice.list_contacts()).total == 0  # pending rows are invisible
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    await wait_until(lambda: pending_rows(contacts_database) == 0, "the cancelled import's rows to go")
    assert (await alice.list_contacts()).total == 0
    assert await alice.export() == f"{HEADER}\r\n".encode()


async def test_an_upload_that_ends_before_its_last_chunk_imports_nothing(
    alice: Contacts, contacts_database: TestDatabase
) -> None:
    async def cut_short() -> AsyncIterator[contacts_pb2.ImportChunk]:
        # What the service sees when a client's cancellation reaches it as an end of stream.
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode())
        yield contacts_pb2.ImportChunk(data="".join(f",,,,Cut{i},,{i}\n" for i in range(2500)).encode())

    error = await rpc_error(alice.import_call(cut_short()))

    assert error.code() == INVALID
    assert "interrupted" in (error.details() or "")
    await wait_until(lambda: pending_rows(contacts_database) == 0, "the interrupted import's rows to go")
    assert (await alice.list_contacts()).total == 0


async def test_a_deadline_during_an_import_leaves_nothing(alice: Contacts, contacts_database: TestDatabase) -> None:
    async def chunks() -> AsyncIterator[contacts_pb2.ImportChunk]:
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode())
        yield contacts_pb2.ImportChunk(data="".join(f",,,,Late{i},,{i}\n" for i in range(2500)).encode())
        await asyncio.sleep(30)

    call = alice.stub.ImportContacts(chunks(), metadata=alice.user.metadata, timeout=2.0)
    error = await rpc_error(joined_report(call))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await wait_until(lambda: pending_rows(contacts_database) == 0, "the timed-out import's rows to go")
    assert (await alice.list_contacts()).total == 0


async def test_a_restart_discards_what_a_crashed_import_left(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    database = database_factory.create()
    lease = {"XUC_CONTACTS_IMPORT_LEASE_S": "2"}  # the crashed import's lease expires 2 s after its last renewal
    first = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database, **lease)
    [user] = await new_users(auth_stub, auth_service, 1)
    never = asyncio.Event()

    async def chunks() -> AsyncIterator[contacts_pb2.ImportChunk]:
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode())
        lines = "".join(f",,,,Crash{i},,{i}\n" for i in range(IMPORT_BATCH_SIZE + 500))
        yield contacts_pb2.ImportChunk(data=lines.encode())
        await never.wait()

    async with grpc.aio.insecure_channel(first.grpc_address) as channel:
        contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
        await contacts.create(lastname="Kept")
        call = contacts.import_call(chunks())
        await wait_until(lambda: pending_rows(database) >= 1000, "pending rows of the import")
        first.process.kill()  # a crash: no cleanup runs
        first.process.wait()
        first.stopped = True
        assert (await rpc_error(call)).code() == grpc.StatusCode.UNAVAILABLE
    assert pending_rows(database) >= 1000

    second = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database, **lease)
    # At start if the lease has expired already, else at its next maintenance round (every 0.5 s).
    await wait_until(lambda: pending_rows(database) == 0, "the crashed import's rows to go")
    # Logged once the deletion is committed: a moment after the rows are gone.
    await wait_until(lambda: "pending rows of unfinished imports deleted" in second.log(), "the deletion's log line")
    async with grpc.aio.insecure_channel(second.grpc_address) as channel:
        contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
        assert await contacts.lastnames() == ["Kept"]
