"""ExportContacts (header, neutralised cells, round trip, large files in chunks) and the events the
service publishes on NATS JetStream.
"""

from __future__ import annotations

import asyncio

import grpc
from nats.js import JetStreamContext

from tests.integration.conftest import start_contacts
from tests.support.contacts_client import HEADER, Contacts, csv_rows, new_users
from tests.support.databases import DatabaseFactory
from tests.support.events import stored_messages
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import rpc_error
from xuc import subjects
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.events.v1 import contacts_events_pb2


# --- export ----------------------------------------------------------------------------------------------
async def test_export_header_neutralised_cells_and_round_trip(alice: Contacts, bob: Contacts) -> None:
    await alice.create(firstname="=HYPERLINK(\"http://x\")", lastname="Doe, \"JD\"", number="+33 1 23",
                       company="'@corp", email="-x@y", mobile="0611", fax="Zoë", favorite=True)
    await alice.create(lastname="Plain")

    data = await alice.export()

    assert data.startswith(f"{HEADER}\r\n".encode())
    assert csv_rows(data) == [
        HEADER.split(","),
        ["''@corp", "'-x@y", "Zoë", "'=HYPERLINK(\"http://x\")", 'Doe, "JD"', "0611", "'+33 1 23"],
        ["", "", "", "", "Plain", "", ""],
    ]
    report = await bob.import_file(data)
    assert len(report.created) == 2
    assert report.failed == []
    assert await bob.export() == data


async def test_large_files_are_streamed_in_chunks(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    service = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database_factory.create())
    [user] = await new_users(auth_stub, auth_service, 1)
    rows = [f"Company {i % 97},user{i}@example.com,,First{i},Last{i:05d},06{i:08d},01{i:08d}" for i in range(5000)]
    data = "\n".join([HEADER, *rows]).encode()
    async with grpc.aio.insecure_channel(service.grpc_address) as channel:
        contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
        report = await contacts.import_file(data, chunk_size=16 * 1024)
        assert (len(report.created), len(report.failed)) == (5000, 0)
        assert [created.lastname for created in report.created[:2]] == ["Last00000", "Last00001"]

        chunks = await contacts.export_chunks()
    assert len(chunks) >= 5
    assert all(len(chunk) < 70 * 1024 for chunk in chunks)
    exported = csv_rows(b"".join(chunks))
    assert exported[0] == HEADER.split(",")
    assert [row[4] for row in exported[1:]] == [f"Last{i:05d}" for i in range(5000)]  # in list order


# --- events -----------------------------------------------------------------------------------------------
async def test_events_are_published(alice: Contacts, js: JetStreamContext) -> None:
    login, user_id = alice.user.login, alice.user.user_id
    contact = await alice.create(lastname="Doe")
    await alice.update(contact.id, lastname="Doe", number="1")
    await alice.delete(contact.id)
    await alice.import_file(b"lastname\nA\nB\nB\n")
    await alice.delete_all()

    changed = await stored_messages(js, subjects.CONTACT_CHANGED.for_key(login), count=3)
    events = [contacts_events_pb2.ContactChanged.FromString(message.data) for message in changed]
    assert [(e.owner_login, e.owner_user_id, e.contact_id, e.change) for e in events] == [
        (login, user_id, contact.id, change) for change in ("created", "updated", "deleted")]
    assert {(message.headers or {}).get("Xuc-Event-Type") for message in changed} \
        == {"xuc.events.v1.ContactChanged"}

    [imported_message] = await stored_messages(js, subjects.CONTACTS_IMPORTED.for_key(login), count=1)
    imported = contacts_events_pb2.ContactsImported.FromString(imported_message.data)
    assert (imported.owner_login, imported.owner_user_id, imported.created, imported.failed) == (login, user_id, 2, 1)

    [cleared_message] = await stored_messages(js, subjects.CONTACTS_CLEARED.for_key(login), count=1)
    cleared = contacts_events_pb2.ContactsCleared.FromString(cleared_message.data)
    assert (cleared.owner_login, cleared.deleted) == (login, 2)
    assert cleared.occurred_at.ToSeconds() > 0


async def test_a_refused_import_publishes_nothing(alice: Contacts, js: JetStreamContext) -> None:
    await rpc_error(alice.import_file(b"lastname\n\xff\n"))
    await alice.import_file(b"lastname\nAfter\n")
    [message] = await stored_messages(js, subjects.CONTACTS_IMPORTED.for_key(alice.user.login), count=1)
    assert contacts_events_pb2.ContactsImported.FromString(message.data).created == 1
