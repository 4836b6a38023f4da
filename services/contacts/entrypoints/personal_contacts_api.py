"""The personal contacts gRPC API: protobuf in, use case, protobuf out. No rule lives here.

Every call is made on behalf of a user (the user's token): the owner is the token's user.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeAlias

import grpc

from services.contacts.domain.contacts import Contact, ContactFields, Owner
from services.contacts.domain.errors import InvalidImport
from services.contacts.domain.import_report import ImportReport
from services.contacts.service_layer.personal_contacts import PersonalContactsService
from xuc.errors import DomainError
from xuc.runtime.grpc_edge import Access, current_caller
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

PERSONAL_CONTACTS_SERVICE: str = contacts_pb2.DESCRIPTOR.services_by_name["PersonalContacts"].full_name

# Who may call what (deny by default: a method missing here is refused).
PERSONAL_CONTACTS_POLICY: dict[str, Access] = {
    f"/{PERSONAL_CONTACTS_SERVICE}/ListContacts": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/GetContact": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/CreateContact": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/UpdateContact": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/DeleteContact": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/DeleteAllContacts": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/ExportContacts": Access.USER,
    f"/{PERSONAL_CONTACTS_SERVICE}/ImportContacts": Access.USER,
}

Context: TypeAlias = grpc.aio.ServicerContext


def _owner() -> Owner:
    claims = current_caller().claims
    assert claims is not None  # the policy admits users only
    return Owner(user_id=claims.user_id, login=claims.login)


def _fields(message: contacts_pb2.ContactFields | contacts_pb2.CreateContactRequest) -> ContactFields:
    return ContactFields(
        firstname=message.firstname, lastname=message.lastname, number=message.number, mobile=message.mobile,
        fax=message.fax, email=message.email, company=message.company, favorite=message.favorite,
    )


def _favorite(message: contacts_pb2.ContactFields) -> bool | None:
    return message.favorite if message.HasField("favorite") else None


# Contacts are immutable values and lists repeat them (the service caches them per owner): the
# message of each is built once, and embedding it in a reply copies it in C. Never mutate one.
@functools.lru_cache(maxsize=20_000)
def _contact_message(contact: Contact) -> contacts_pb2.Contact:
    fields = contact.fields
    return contacts_pb2.Contact(id=contact.id, fields=contacts_pb2.ContactFields(
        firstname=fields.firstname, lastname=fields.lastname, number=fields.number, mobile=fields.mobile,
        fax=fields.fax, email=fields.email, company=fields.company, favorite=fields.favorite,
    ))


def _report_message(report: ImportReport) -> contacts_pb2.ImportReport:
    return contacts_pb2.ImportReport(
        created=[contacts_pb2.CreatedContact(id=created.id, lastname=created.lastname) for created in report.created],
        failed=[contacts_pb2.FailedLine(line=failed.line, errors=failed.errors) for failed in report.failed],
        failed_count=report.failed_count,
    )


async def _chunks(requests: AsyncIterable[contacts_pb2.ImportChunk]) -> AsyncIterator[tuple[str, bytes]]:
    """The file's pieces, up to the chunk marked `last`; a stream that ends before it was cut
    short (a cancelled upload may end like a finished one here) and imports nothing."""
    async for request in requests:
        yield request.charset, request.data
        if request.last:
            return
    raise InvalidImport("the upload ended before its last chunk: it was interrupted, nothing is imported")


class PersonalContactsApi(contacts_pb2_grpc.PersonalContactsServicer):
    def __init__(self, service: PersonalContactsService) -> None:
        self._service = service

    async def ListContacts(
        self, request: contacts_pb2.ListContactsRequest, context: Context
    ) -> contacts_pb2.ContactList:
        page = await self._service.list_contacts(_owner(), request.search, request.limit, request.offset)
        return contacts_pb2.ContactList(
            entries=[contacts_pb2.ContactWithStatus(contact=_contact_message(entry.contact), status=entry.status)
                     for entry in page.entries],
            total=page.total,
        )

    async def GetContact(self, request: contacts_pb2.ContactRef, context: Context) -> contacts_pb2.Contact:
        return _contact_message(await self._service.get_contact(_owner(), request.id))

    async def CreateContact(
        self, request: contacts_pb2.CreateContactRequest, context: Context
    ) -> contacts_pb2.Contact:
        key = request.idempotency_key if request.HasField("idempotency_key") else None
        return _contact_message(await self._service.create_contact(_owner(), _fields(request), key))

    async def UpdateContact(self, request: contacts_pb2.UpdateContactRequest, context: Context) -> contacts_pb2.Contact:
        contact = await self._service.update_contact(_owner(), request.id, _fields(request.fields),
                                                     _favorite(request.fields))
        return _contact_message(contact)

    async def DeleteContact(
        self, request: contacts_pb2.ContactRef, context: Context
    ) -> contacts_pb2.DeleteContactsReply:
        return contacts_pb2.DeleteContactsReply(deleted=await self._service.delete_contact(_owner(), request.id))

    async def DeleteAllContacts(
        self, request: contacts_pb2.DeleteAllContactsRequest, context: Context
    ) -> contacts_pb2.DeleteContactsReply:
        return contacts_pb2.DeleteContactsReply(deleted=await self._service.delete_all_contacts(_owner()))

    async def ExportContacts(
        self, request: contacts_pb2.ExportContactsRequest, context: Context
    ) -> AsyncIterator[contacts_pb2.CsvChunk]:
        async for data in self._service.export_contacts(_owner()):
            yield contacts_pb2.CsvChunk(data=data)

    async def ImportContacts(
        self, requests: AsyncIterable[contacts_pb2.ImportChunk], context: Context
    ) -> AsyncIterator[contacts_pb2.ImportReport]:
        async with contextlib.aclosing(self._service.import_contacts(_owner(), _chunks(requests))) as parts:
            try:
                first = await anext(parts)  # the whole import happens here
            except DomainError:
                # A file refused early (charset, header...): read what the client still sends before
                # answering. A client writing into a call that has already ended gets a local
                # "internal error" that hides this answer (grpc aio replaces the call's status).
                async for _ in requests:
                    pass
                raise
            yield _report_message(first)
            async for part in parts:
                yield _report_message(part)
