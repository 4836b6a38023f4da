"""A client of the contacts service's personal contacts API for the integration tests: users made through
auth, the calls most tests make for one user, import calls awaited as their whole report, and the
database seen from the test (imports in progress).
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from psycopg import sql

from tests.support.databases import SQLITE, TestDatabase, postgres_admin_url
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.processes import ServiceProcess, wait_for
from tests.support.rpc import unique_login
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

SERVICE = "xuc.contacts.v1.PersonalContacts"
Metadata = tuple[tuple[str, str], ...]
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
NOT_A_LINE = -2
HEADER = "company,email,fax,firstname,lastname,mobile,number"
PASSWORD = "contacts-pw"
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


async def wait_until(condition: Callable[[], bool], what: str, within: float = EVENT_DEADLINE_SECONDS) -> None:
    """Poll a blocking condition (a database query) off the event loop."""
    await asyncio.to_thread(wait_for, condition, within, what)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
