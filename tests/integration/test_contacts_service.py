"""The personal contacts API of the contacts service as a real process: gRPC on loopback, a real
auth process issuing the user tokens, a real nats-server, SQLite and PostgreSQL.

Most tests share one contacts process per database backend and stay independent with users of
their own. Telephony absent, telephony answering UNIMPLEMENTED, the restart after a crash, and
large files use processes of their own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from psycopg import sql

from services.contacts.adapters.phone_statuses import TelephonyPhoneStatuses
from services.contacts.domain.contacts import ContactFields, contact_keys
from services.contacts.domain.idempotency import creation_fingerprint
from services.contacts.service_layer.contacts_import import IMPORT_BATCH_SIZE
from tests.integration.conftest import start_contacts
from tests.support.databases import SQLITE, DatabaseFactory, TestDatabase, postgres_admin_url
from tests.support.events import stored_messages
from tests.support.processes import ServiceLauncher, ServiceProcess, wait_for
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc import subjects
from xuc.runtime import request_ids
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.events.v1 import contacts_events_pb2
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

SERVICE = "xuc.contacts.v1.PersonalContacts"
Metadata = tuple[tuple[str, str], ...]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
NOT_A_LINE = -2
HEADER = "company,email,fax,firstname,lastname,mobile,number"
PASSWORD = "contacts-pw"


# --- processes -------------------------------------------------------------------------------------
# --- clients ---------------------------------------------------------------------------------------
@dataclass
class User:
    login: str
    user_id: str
    metadata: Metadata  # authorization: Bearer <the user's token>


@dataclass
class Contacts:
    """The generated stub and the calls most tests make, for one user."""

    stub: contacts_pb2_grpc.PersonalContactsStub
    user: User

    async def create(self, idempotency_key: str | None = None, **fields: Any) -> contacts_pb2.Contact:
        request = contacts_pb2.CreateContactRequest(**fields, idempotency_key=idempotency_key)
        contact: contacts_pb2.Contact = await self.stub.CreateContact(request, metadata=self.user.metadata)
        return contact

    async def get(self, contact_id: str) -> contacts_pb2.Contact:
        contact: contacts_pb2.Contact = await self.stub.GetContact(contacts_pb2.ContactRef(id=contact_id),
                                                                   metadata=self.user.metadata)
        return contact

    async def update(self, contact_id: str, **fields: Any) -> contacts_pb2.Contact:
        request = contacts_pb2.UpdateContactRequest(id=contact_id, fields=contacts_pb2.ContactFields(**fields))
        contact: contacts_pb2.Contact = await self.stub.UpdateContact(request, metadata=self.user.metadata)
        return contact

    async def delete(self, contact_id: str) -> int:
        reply = await self.stub.DeleteContact(contacts_pb2.ContactRef(id=contact_id), metadata=self.user.metadata)
        return int(reply.deleted)

    async def delete_all(self) -> int:
        reply = await self.stub.DeleteAllContacts(contacts_pb2.DeleteAllContactsRequest(), metadata=self.user.metadata)
        return int(reply.deleted)

    async def list_contacts(self, search: str = "", limit: int = 0, offset: int = 0) -> contacts_pb2.ContactList:
        request = contacts_pb2.ListContactsRequest(search=search, limit=limit, offset=offset)
        reply: contacts_pb2.ContactList = await self.stub.ListContacts(request, metadata=self.user.metadata)
        return reply

    async def lastnames(self, search: str = "") -> list[str]:
        return [entry.contact.fields.lastname for entry in (await self.list_contacts(search)).entries]

    def import_call(self, chunks: AsyncIterator[contacts_pb2.ImportChunk]) -> ImportCall:
        return ImportCall(self.stub.ImportContacts(chunks, metadata=self.user.metadata))

    async def import_file(self, data: bytes, charset: str = "", chunk_size: int = 1000) -> contacts_pb2.ImportReport:
        return await self.import_call(chunked(data, charset, chunk_size))

    async def export_chunks(self) -> list[bytes]:
        call = self.stub.ExportContacts(contacts_pb2.ExportContactsRequest(), metadata=self.user.metadata)
        return [chunk.data async for chunk in call]

    async def export(self) -> bytes:
        return b"".join(await self.export_chunks())


async def joined_report(call: grpc.aio.StreamStreamCall) -> contacts_pb2.ImportReport:
    """The report an ImportContacts call answers in parts, joined (asserting their shape)."""
    report = contacts_pb2.ImportReport()
    async for part in call:
        if report.created:
            assert (list(part.failed), part.failed_count) == ([], 0)  # in the first part only
        report.created.extend(part.created)
        report.failed.extend(part.failed)
        report.failed_count += part.failed_count
    return report


class ImportCall:
    """An ImportContacts call that awaits as its whole report."""

    def __init__(self, call: grpc.aio.StreamStreamCall) -> None:
        self.call = call

    def __await__(self) -> Generator[Any, None, contacts_pb2.ImportReport]:
        return joined_report(self.call).__await__()

    def cancel(self) -> bool:
        return self.call.cancel()


async def chunked(data: bytes, charset: str = "", size: int = 1000) -> AsyncIterator[contacts_pb2.ImportChunk]:
    yield contacts_pb2.ImportChunk(charset=charset, data=data[:size], last=len(data) <= size)
    for start in range(size, len(data), size):
        yield contacts_pb2.ImportChunk(data=data[start:start + size], last=start + size >= len(data))


@pytest.fixture
async def auth_stub(auth_service: ServiceProcess) -> AsyncIterator[auth_pb2_grpc.AuthStub]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as channel:
        yield auth_pb2_grpc.AuthStub(channel)


async def new_users(auth_stub: auth_pb2_grpc.AuthStub, auth: ServiceProcess, count: int) -> list[User]:
    """Users created in one PutUsers call (service token), each logged in for a token."""
    service = (("x-xuc-service-token", auth.service_token),)
    logins = [unique_login("contact") for _ in range(count)]
    reply = await auth_stub.PutUsers(
        auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(login=login, password=PASSWORD)
                                        for login in logins]), metadata=service)
    users = []
    for result in reply.results:
        token = await auth_stub.Login(auth_pb2.LoginRequest(login=result.user.login, password=PASSWORD),
                                      metadata=service)
        users.append(User(result.user.login, result.user.id, (("authorization", f"Bearer {token.token}"),)))
    return users


@pytest.fixture
async def contacts_channel(contacts_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(contacts_service.grpc_address) as channel:
        yield channel


@pytest.fixture
async def alice(
    contacts_channel: grpc.aio.Channel, auth_stub: auth_pb2_grpc.AuthStub, auth_service: ServiceProcess
) -> Contacts:
    [user] = await new_users(auth_stub, auth_service, 1)
    return Contacts(contacts_pb2_grpc.PersonalContactsStub(contacts_channel), user)


@pytest.fixture
async def bob(
    contacts_channel: grpc.aio.Channel, auth_stub: auth_pb2_grpc.AuthStub, auth_service: ServiceProcess
) -> Contacts:
    [user] = await new_users(auth_stub, auth_service, 1)
    return Contacts(contacts_pb2_grpc.PersonalContactsStub(contacts_channel), user)


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


# --- the database, seen from the test ----------------------------------------------------------------
def pending_rows(database: TestDatabase) -> int:
    """Rows of imports in progress (invisible to every read of the service)."""
    query = "SELECT count(*) FROM {} WHERE import_id IS NOT NULL"
    if database.backend == SQLITE:
        assert database.path is not None
        with sqlite3.connect(database.path) as connection:
            return int(connection.execute(query.format("contacts_personal")).fetchone()[0])
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        statement = sql.SQL(query).format(sql.Identifier(database.schema, "contacts_personal"))
        row = connection.execute(statement).fetchone()
        assert row is not None
        return int(row[0])


async def wait_until(condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Poll a blocking condition (a database query) off the event loop."""
    await asyncio.to_thread(wait_for, condition, within, what)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --- the process ---------------------------------------------------------------------------------------
async def test_health_lists_the_service(contacts_channel: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(contacts_channel).Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_migrations_create_the_table(contacts_service: ServiceProcess, contacts_database: TestDatabase) -> None:
    assert {"contacts_personal", "contacts_alembic_version"} <= contacts_database.table_names()


async def test_calls_need_a_user_token(contacts_channel: grpc.aio.Channel, contacts_service: ServiceProcess) -> None:
    stub = contacts_pb2_grpc.PersonalContactsStub(contacts_channel)
    request = contacts_pb2.ListContactsRequest()
    assert await refusal(stub.ListContacts(request)) == (grpc.StatusCode.UNAUTHENTICATED,
                                                         "AuthorizationHeaderNotFound")
    service = (("x-xuc-service-token", contacts_service.service_token),)
    assert await refusal(stub.ListContacts(request, metadata=service)) == (grpc.StatusCode.PERMISSION_DENIED,
                                                                           "Forbidden")
    forged = (("authorization", "Bearer not.a.token"),)
    assert await refusal(stub.ListContacts(request, metadata=forged)) == (grpc.StatusCode.UNAUTHENTICATED,
                                                                          "InvalidToken")


# --- one contact ---------------------------------------------------------------------------------------
async def test_create_get_update_delete(alice: Contacts) -> None:
    created = await alice.create(firstname=" doe ", lastname="john", number="1111", mobile="2222", fax="3333",
                                 email="j.doe@my.corp", company="corp", favorite=True)
    assert uuid.UUID(created.id).version == 7
    assert created.fields == contacts_pb2.ContactFields(firstname="doe", lastname="john", number="1111",
                                                        mobile="2222", fax="3333", email="j.doe@my.corp",
                                                        company="corp", favorite=True)
    assert await alice.get(created.id) == created

    updated = await alice.update(created.id, lastname="john", number="1112")  # favorite not set: kept
    assert updated.fields == contacts_pb2.ContactFields(lastname="john", number="1112", favorite=True)
    assert await alice.get(created.id) == updated
    unfavored = await alice.update(created.id, lastname="john", number="1112", favorite=False)
    assert unfavored.fields.favorite is False

    assert await alice.delete(created.id) == 1
    assert await refusal(alice.get(created.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.delete(created.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.update(created.id, lastname="x")) == (NOT_FOUND, "ContactNotFound")


async def test_users_never_see_each_others_contacts(alice: Contacts, bob: Contacts) -> None:
    mine = await alice.create(lastname="Secret", number="1234")
    await bob.create(lastname="Bob's own")

    assert await refusal(bob.get(mine.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(bob.update(mine.id, lastname="Hacked")) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(bob.delete(mine.id)) == (NOT_FOUND, "ContactNotFound")
    assert await bob.lastnames() == ["Bob's own"]
    assert await bob.lastnames("secret") == []
    assert await bob.delete_all() == 1
    assert b"Secret" not in await bob.export()
    # The same contact is no duplicate for someone else.
    await bob.create(lastname="Secret", number="1234")

    assert await alice.get(mine.id) == mine
    assert await alice.lastnames() == ["Secret"]


@pytest.mark.parametrize("not_an_id", ["", "42", "not-a-uuid", "'; DROP TABLE contacts_personal; --"])
async def test_an_id_that_is_not_a_uuid_is_not_found(alice: Contacts, not_an_id: str) -> None:
    assert await refusal(alice.get(not_an_id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.delete(not_an_id)) == (NOT_FOUND, "ContactNotFound")


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "a contact needs a name or a phone number"),
    ({"fax": "3333", "email": "a@b.c"}, "a contact needs a name or a phone number"),
    ({"lastname": "x" * 129}, "lastname must be at most 128 characters"),
    ({"number": "1" * 41}, "number must be at most 40 characters"),
    ({"lastname": "Doe", "email": "a\nb"}, "email must not contain control characters"),
])
async def test_invalid_contacts_are_refused(alice: Contacts, fields: dict[str, str], message: str) -> None:
    error = await rpc_error(alice.create(**fields))
    assert (error.code(), error.details()) == (INVALID, message)
    assert await refusal(alice.create(**fields)) == (INVALID, "InvalidContact")
    assert await alice.lastnames() == []


async def test_duplicates_are_refused(alice: Contacts) -> None:
    first = await alice.create(firstname="Jean  Pierre", lastname="Doe", number="01 23 45 67")
    other = await alice.create(lastname="Lee")

    duplicate = alice.create(firstname="jean pierre", lastname="DOE", number="01.23.45.67", favorite=True)
    assert await refusal(duplicate) == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
    assert await refusal(alice.update(other.id, firstname="JEAN PIERRE", lastname="doe", number="01234567")) \
        == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
    # An update to itself, unchanged or only reformatted, is fine.
    await alice.update(first.id, firstname="Jean Pierre", lastname="Doe", number="01-23-45-67")
    assert sorted(await alice.lastnames()) == ["Doe", "Lee"]


async def test_concurrent_identical_creates_make_one_contact(alice: Contacts) -> None:
    results = await asyncio.gather(*(alice.create(lastname="Racer", number="42") for _ in range(8)),
                                   return_exceptions=True)
    created = [result for result in results if isinstance(result, contacts_pb2.Contact)]
    refused = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert {error.code() for error in refused} == {grpc.StatusCode.ALREADY_EXISTS}
    assert await alice.lastnames() == ["Racer"]


# --- idempotent creation ----------------------------------------------------------------------------------
def idempotency_rows(database: TestDatabase, owner_id: str) -> list[tuple[str, str]]:
    """(key, contact id) of the owner's recorded creations."""
    query = "SELECT idempotency_key, contact_id FROM {} WHERE owner_id = %s ORDER BY idempotency_key"
    if database.backend == SQLITE:
        assert database.path is not None
        with sqlite3.connect(database.path) as connection:
            rows = connection.execute(query.format("contacts_idempotency").replace("%s", "?"), (owner_id,))
            return [(key, contact_id) for key, contact_id in rows.fetchall()]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        statement = sql.SQL(query).format(sql.Identifier(database.schema, "contacts_idempotency"))
        return [(key, contact_id) for key, contact_id in connection.execute(statement, (owner_id,)).fetchall()]


async def test_a_repeated_creation_with_a_key_answers_the_first_contact(
    alice: Contacts, bob: Contacts, contacts_database: TestDatabase, js: JetStreamContext,
) -> None:
    first = await alice.create(lastname="Doe", number="1", idempotency_key="order-1")
    again = await alice.create(lastname=" Doe ", number="1", idempotency_key="order-1")
    assert again == first
    assert await alice.lastnames() == ["Doe"]
    [event] = await stored_messages(js, subjects.CONTACT_CHANGED.for_key(alice.user.login), count=1)
    assert contacts_events_pb2.ContactChanged.FromString(event.data).contact_id == first.id
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("order-1", first.id)]

    assert await refusal(alice.create(lastname="Lee", idempotency_key="order-1")) \
        == (grpc.StatusCode.ALREADY_EXISTS, "IdempotencyKeyReused")
    bobs = await bob.create(lastname="Doe", number="1", idempotency_key="order-1")  # keys are per owner
    assert bobs.id != first.id
    for key in ("", " x", "é" * 3, "x" * 129):
        assert await refusal(alice.create(lastname="Kim", idempotency_key=key)) == (INVALID, "InvalidIdempotencyKey")
    assert await alice.lastnames() == ["Doe"]


async def test_a_key_older_than_a_day_is_new_again(alice: Contacts, contacts_database: TestDatabase) -> None:
    def record_an_old_use() -> None:
        query = ("INSERT INTO {} (owner_id, idempotency_key, contact_id, fingerprint, created_at) "
                 "VALUES (%s, %s, %s, %s, %s)")
        if contacts_database.backend == SQLITE:
            assert contacts_database.path is not None
            with sqlite3.connect(contacts_database.path) as connection:
                connection.execute(query.format("contacts_idempotency").replace("%s", "?"),
                                   (alice.user.user_id, "old-key", "gone", "0" * 64, time.time() - 2 * 86400))
            return
        with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
            connection.execute(sql.SQL(query).format(sql.Identifier(contacts_database.schema, "contacts_idempotency")),
                               (alice.user.user_id, "old-key", "gone", "0" * 64, time.time() - 2 * 86400))

    await asyncio.to_thread(record_an_old_use)
    created = await alice.create(lastname="Fresh", idempotency_key="old-key")  # other fields: no 422
    assert created.id != "gone"
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("old-key", created.id)]


async def test_a_creation_refused_as_a_duplicate_records_no_key(
    alice: Contacts, contacts_database: TestDatabase,
) -> None:
    existing = await alice.create(lastname="Doe", number="01 23", idempotency_key="first")
    for _ in range(2):  # the same request again is refused again, not answered from a recorded key
        assert await refusal(alice.create(lastname="DOE", number="0123", idempotency_key="dup-1")) \
            == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
        assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
            == [("first", existing.id)]
    # The key is still free: once the duplicate is gone, the same request creates with it.
    assert await alice.delete(existing.id) == 1
    created = await alice.create(lastname="DOE", number="0123", idempotency_key="dup-1")
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("dup-1", created.id), ("first", existing.id)]
    assert await alice.lastnames() == ["DOE"]


async def test_concurrent_creations_with_one_key_make_one_contact(alice: Contacts, js: JetStreamContext) -> None:
    results = await asyncio.gather(*(alice.create(lastname="Racer", number="7", idempotency_key="one-key")
                                     for _ in range(8)))
    assert {result.id for result in results} == {results[0].id}  # every one answered the same contact
    assert await alice.lastnames() == ["Racer"]
    await stored_messages(js, subjects.CONTACT_CHANGED.for_key(alice.user.login), count=1)


async def test_a_retry_while_the_first_creation_commits_gets_its_contact(
    alice: Contacts, contacts_database: TestDatabase,
) -> None:
    """The first attempt is in its transaction (here: the test's own, holding the key's row, uncommitted)
    when the retry arrives; it commits before it could answer. The retry waits, then answers it."""
    fields = ContactFields(lastname="Slow", number="9")
    contact_id = str(uuid.uuid4())
    fingerprint = creation_fingerprint(fields.validated())
    now = time.time()
    first_attempt = FirstAttempt(contacts_database, alice.user.user_id, contact_id, fingerprint, now)
    await asyncio.to_thread(first_attempt.begin)
    try:
        retry = asyncio.ensure_future(alice.create(lastname="Slow", number="9", idempotency_key="slow-1"))
        await asyncio.sleep(1.0)
        assert not retry.done()  # waiting for the first attempt's outcome
        await asyncio.to_thread(first_attempt.commit)
        assert (await retry).id == contact_id
    finally:
        await asyncio.to_thread(first_attempt.close)
    assert await alice.lastnames() == ["Slow"]


@dataclass
class FirstAttempt:
    """A creation with key `slow-1` made by hand in an open transaction, committed when told."""

    database: TestDatabase
    owner_id: str
    contact_id: str
    fingerprint: str
    now: float
    connection: Any = None

    def begin(self) -> None:
        fields = ContactFields(lastname="Slow", number="9")
        keys = contact_keys(fields)
        contact = ("INSERT INTO contacts_personal (id, owner_id, lastname, number, favorite, identity, search_text, "
                   "sort_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
        key = ("INSERT INTO contacts_idempotency (owner_id, idempotency_key, contact_id, fingerprint, created_at) "
               "VALUES (%s, %s, %s, %s, %s)")
        contact_values = (self.contact_id, self.owner_id, "Slow", "9", False, keys.identity, keys.search_text,
                          keys.sort_key)
        key_values = (self.owner_id, "slow-1", self.contact_id, self.fingerprint, self.now)
        if self.database.backend == SQLITE:
            assert self.database.path is not None
            self.connection = sqlite3.connect(self.database.path, isolation_level=None, timeout=10)
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.execute(contact.replace("%s", "?"), contact_values)
            self.connection.execute(key.replace("%s", "?"), key_values)
        else:
            self.connection = psycopg.connect(postgres_admin_url())
            self.connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.database.schema)))
            self.connection.execute(contact, contact_values)
            self.connection.execute(key, key_values)

    def commit(self) -> None:
        self.connection.commit() if self.database.backend != SQLITE else self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


async def test_an_older_clients_contact_fields_still_create(
    contacts_channel: grpc.aio.Channel, alice: Contacts
) -> None:
    """CreateContactRequest extends ContactFields on the wire: an older client's request still works."""
    old_create = contacts_channel.unary_unary(
        f"/{SERVICE}/CreateContact", request_serializer=contacts_pb2.ContactFields.SerializeToString,
        response_deserializer=contacts_pb2.Contact.FromString)
    created = await old_create(contacts_pb2.ContactFields(lastname="Old", favorite=True), metadata=alice.user.metadata)
    assert (created.fields.lastname, created.fields.favorite) == ("Old", True)


# --- lists ---------------------------------------------------------------------------------------------
async def test_search_limit_offset_and_order(alice: Contacts) -> None:
    for firstname, lastname, number, company in [
        ("Élodie", "Dupré", "01 23 45 67", "ACME"), ("Zoé", "dupont", "", "Société 50% off"),
        ("anne", "Dupont", "0611", ""), ("Bob", "Martin", "", "under_score"), ("", "", "3000", "Helpdesk"),
    ]:
        await alice.create(firstname=firstname, lastname=lastname, number=number, company=company)

    everyone = await alice.list_contacts()
    assert [(e.contact.fields.firstname, e.contact.fields.lastname) for e in everyone.entries] == [
        ("", ""), ("anne", "Dupont"), ("Zoé", "dupont"), ("Élodie", "Dupré"), ("Bob", "Martin")]
    assert everyone.total == 5
    assert await alice.lastnames("DUPRE") == ["Dupré"]
    assert await alice.lastnames("elo") == ["Dupré"]
    assert await alice.lastnames("societe") == ["dupont"]
    assert await alice.lastnames("0123") == ["Dupré"]
    assert await alice.lastnames("23 45") == ["Dupré"]
    assert await alice.lastnames("23.45") == ["Dupré"]
    assert await alice.lastnames("helpdesk") == [""]
    assert await alice.lastnames("50%") == ["dupont"]  # % and _ are characters, not wildcards
    assert await alice.lastnames("%") == ["dupont"]
    assert await alice.lastnames("d_p") == []
    assert await alice.lastnames("_") == ["Martin"]

    page = await alice.list_contacts("dup", limit=2, offset=1)
    assert ([e.contact.fields.firstname for e in page.entries], page.total) == (["Zoé", "Élodie"], 3)
    assert (await alice.list_contacts(limit=0, offset=4)).entries[0].contact.fields.lastname == "Martin"
    assert (await alice.list_contacts(offset=10)).entries == []
    for limit, offset in ((10_001, 0), (-1, 0), (0, -1)):
        assert await refusal(alice.list_contacts(limit=limit, offset=offset)) == (INVALID, "InvalidContact")
    assert len((await alice.list_contacts(limit=10_000)).entries) == 5


async def test_statuses_without_telephony_are_not_a_line(alice: Contacts) -> None:
    await alice.create(lastname="With", number="1001")
    await alice.create(lastname="Without", mobile="0611")
    assert [entry.status for entry in (await alice.list_contacts()).entries] == [NOT_A_LINE, NOT_A_LINE]


async def test_statuses_when_telephony_does_not_implement_them(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    # A gRPC server without the Telephony service (an older or foreign one): every call UNIMPLEMENTED.
    telephony = grpc.aio.server()
    port = telephony.add_insecure_port("127.0.0.1:0")
    await telephony.start()
    try:
        service = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database_factory.create(),
                                          XUC_TELEPHONY_ADDRESS=f"127.0.0.1:{port}")
        [user] = await new_users(auth_stub, auth_service, 1)
        async with grpc.aio.insecure_channel(service.grpc_address) as channel:
            contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
            await contacts.create(lastname="Doe", number="1001")
            await contacts.create(lastname="Lee")
            for _ in range(3):
                assert [entry.status for entry in (await contacts.list_contacts()).entries] == [
                    NOT_A_LINE, NOT_A_LINE]
    finally:
        await telephony.stop(None)
    assert service.log().count("telephony answered UNIMPLEMENTED") == 1  # logged once, not per list


class FakeTelephony(telephony_pb2_grpc.TelephonyServicer):
    """A telephony that knows two lines, and can be made slow."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[str], dict[str, str]]] = []
        self.delay = 0.0

    async def GetPhoneStatuses(
        self, request: telephony_pb2.GetPhoneStatusesRequest, context: grpc.aio.ServicerContext
    ) -> telephony_pb2.PhoneStatuses:
        self.requests.append((list(request.numbers), dict(context.invocation_metadata() or ())))
        await asyncio.sleep(self.delay)
        return telephony_pb2.PhoneStatuses(statuses={"1001": telephony_pb2.AVAILABLE, "1002": telephony_pb2.RINGING})


@pytest.fixture
async def fake_telephony() -> AsyncIterator[tuple[FakeTelephony, str]]:
    server = grpc.aio.server()
    telephony = FakeTelephony()
    telephony_pb2_grpc.add_TelephonyServicer_to_server(telephony, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield telephony, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_the_telephony_adapter_asks_once_and_never_fails_a_list(
    fake_telephony: tuple[FakeTelephony, str], caplog: pytest.LogCaptureFixture
) -> None:
    telephony, address = fake_telephony
    async with grpc.aio.insecure_channel(address) as channel:
        statuses = TelephonyPhoneStatuses(channel, "the-service-token")
        assert await statuses.statuses(["1001", "1002", "9999"]) == {"1001": 0, "1002": 8, "9999": NOT_A_LINE}
        [(numbers, metadata)] = telephony.requests
        assert numbers == ["1001", "1002", "9999"]
        assert metadata["x-xuc-service-token"] == "the-service-token"
        assert "x-request-id" not in metadata  # outside a request

        token = request_ids.bind("list-request-7")  # as the edge does for a ListContacts call
        try:
            await statuses.statuses(["1001"])
        finally:
            request_ids.reset(token)
        assert telephony.requests[-1][1]["x-request-id"] == "list-request-7"

        telephony.delay = 3600.0  # never answers within the test: only the adapter's own 1 s timeout ends a call
        for _ in range(2):
            assert await asyncio.wait_for(statuses.statuses(["1001"]), 30.0) == {"1001": NOT_A_LINE}
    assert [record.getMessage() for record in caplog.records if record.levelname == "WARNING"] == [
        "phone statuses unknown: telephony answered DEADLINE_EXCEEDED (Deadline Exceeded) (logged once)"]


async def test_the_telephony_adapter_without_telephony(caplog: pytest.LogCaptureFixture) -> None:
    assert await TelephonyPhoneStatuses(None, "token").statuses(["1001"]) == {"1001": NOT_A_LINE}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as channel:  # nobody listens
        statuses = TelephonyPhoneStatuses(channel, "token")
        for _ in range(2):
            assert await statuses.statuses(["1001", "1002"]) == {"1001": NOT_A_LINE, "1002": NOT_A_LINE}
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "no telephony address" in warnings[0]
    assert "UNAVAILABLE" in warnings[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
    # that has just ended as an "internal error", in place of the real answer).
    call = alice.stub.ImportContacts(metadata=alice.user.metadata)
    await call.write(contacts_pb2.ImportChunk(charset="klingon", data=b"lastname\n"))
    await asyncio.sleep(0.3)  # the refusal is decided meanwhile
    assert not call.done()  # ... and not sent while the client is still writing
    for _ in range(3):
        await call.write(contacts_pb2.ImportChunk(data=b"Doe\n"))
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
    await wait_until(lambda: pending_rows(database) == 0, "the crashed import's rows to go", within=10)
    # Logged once the deletion is committed: a moment after the rows are gone.
    await wait_until(lambda: "pending rows of unfinished imports deleted" in second.log(), "the deletion's log line")
    async with grpc.aio.insecure_channel(second.grpc_address) as channel:
        contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
        assert await contacts.lastnames() == ["Kept"]


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

