"""Personal contacts: `/xuc/api/2.0/contact/personal[/{id}]`, their CSV export and import.

Each route is one call to the contacts service's PersonalContacts API on behalf of the user whose
token is presented; the service decides what a valid contact is. Here: JSON <-> protobuf only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.credentials import UserCredentials, authenticate
from gateway.csv_streams import CallStreamResponse, csv_export, request_charset, upload
from gateway.requests import InvalidContactRequest, JsonParsingError, checked_object, json_value
from xuc.runtime.grpc_client import user_metadata
from xuc.runtime.keys import PublicKeyCache
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

BASE = "/xuc/api/2.0/contact"
PERSONAL_PATH = f"{BASE}/personal"
EXPORT_PATH = f"{BASE}/export/personal"
IMPORT_PATH = f"{BASE}/import/personal"
RPC_TIMEOUT_SECONDS = 10.0
TRANSFER_TIMEOUT_SECONDS = 600.0  # a 100,000-line import or export, on a slow link
EXPORT_FILENAME = "contacts.csv"
JSON_MEDIA_TYPE = "application/json"

TEXT_FIELDS = ("firstname", "lastname", "number", "mobile", "fax", "email", "company")
CONTACT_TYPES: dict[str, type] = {**dict.fromkeys(TEXT_FIELDS, str), "favorite": bool}
LIST_HEADERS = ["Firstname", "Lastname", "Number", "Mobile", "Favorite"]
INT32_MAX = 2**31 - 1
# Optional on POST /contact/personal: the service answers a repeated creation with the first
# contact (docs/contacts.md, "Idempotent creation"); it also checks the value. Without one, the gateway makes
# one up for the request, so that a retry of the call (gRPC retries CreateContact on UNAVAILABLE,
# e.g. on another replica after one died mid-call) answers the contact created, not a 409.
IDEMPOTENCY_HEADER = "idempotency-key"
GATEWAY_KEY_PREFIX = "xuc-gateway:"
_DIGITS = re.compile(r"[0-9]{1,10}")


# --- JSON <-> protobuf ----------------------------------------------------------------------------
def contact_json(contact: contacts_pb2.Contact) -> dict[str, Any]:
    fields = contact.fields
    return {"id": contact.id, **{name: getattr(fields, name) for name in TEXT_FIELDS}, "favorite": fields.favorite}


def list_entry_json(item: contacts_pb2.ContactWithStatus) -> dict[str, Any]:
    fields = item.contact.fields
    # The documented shape: a row of strings under LIST_HEADERS (favorite as "true"/"false"),
    # plus our "id", without which a client could not act on an entry.
    row = [fields.firstname, fields.lastname, fields.number, fields.mobile, "true" if fields.favorite else "false"]
    return {"status": item.status, "entry": row, "id": item.contact.id}


def created_json(part: contacts_pb2.ImportReport) -> list[dict[str, str]]:
    return [{"id": created.id, "lastname": created.lastname} for created in part.created]


def failed_json(part: contacts_pb2.ImportReport) -> list[dict[str, Any]]:
    return [{"line": failed.line, "errors": list(failed.errors)} for failed in part.failed]


def import_report_json(report: contacts_pb2.ImportReport) -> dict[str, Any]:
    """A report of one part (see ImportContacts in contacts.proto)."""
    return {"created": created_json(report), "failed": failed_json(report), "failedCount": report.failed_count}


def _json_bytes(value: Any) -> bytes:
    """As JSONResponse renders it: the streamed and the plain answer are the same bytes."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def import_report_body(parts: AsyncIterator[contacts_pb2.ImportReport]) -> AsyncIterator[bytes]:
    """The JSON of a report answered in parts, generated as they arrive (a chunk for each part):
    the first part's `failed` and `failedCount` come after every part's `created`."""
    yield b'{"created":['
    first: contacts_pb2.ImportReport | None = None
    separator = b""
    async for part in parts:
        if first is None:
            first = part
        if part.created:
            yield separator + _json_bytes(created_json(part))[1:-1]
            separator = b","
    if first is None:
        first = contacts_pb2.ImportReport()
    yield b'],"failed":' + _json_bytes(failed_json(first)) + b',"failedCount":%d}' % first.failed_count


async def _parts(call: Any, *read: Any) -> AsyncIterator[Any]:
    """The parts already `read`, then the rest of the call's answer."""
    for part in read:
        yield part
    while (part := await call.read()) is not grpc.aio.EOF:
        yield part


async def contact_body(request: Request) -> dict[str, Any]:
    """The body's contact fields (checked types, no `id`)."""
    body = await json_value(request, invalid=JsonParsingError, empty=JsonParsingError)
    if not isinstance(body, dict):
        raise InvalidContactRequest("The body must be a JSON object")
    fields = checked_object(body, {**CONTACT_TYPES, "id": str}, (), InvalidContactRequest)
    # A client may send back the object it read, id included: the path (or the service) names it.
    fields.pop("id", None)
    return fields


async def contact_fields(request: Request) -> contacts_pb2.ContactFields:
    """The body as ContactFields: absent keys are empty, an absent `favorite` is left unset."""
    return contacts_pb2.ContactFields(**await contact_body(request))


async def create_request(request: Request) -> contacts_pb2.CreateContactRequest:
    """The body's fields, and the Idempotency-Key header (repeated: its values joined, as HTTP
    combines them), or a key of this request only."""
    keys = request.headers.getlist(IDEMPOTENCY_HEADER)
    key = ", ".join(keys) if keys else f"{GATEWAY_KEY_PREFIX}{uuid.uuid4().hex}"
    return contacts_pb2.CreateContactRequest(**await contact_body(request), idempotency_key=key)


def contact_ref(request: Request) -> contacts_pb2.ContactRef:
    return contacts_pb2.ContactRef(id=request.path_params["contactId"])


def query_count(request: Request, name: str) -> int:
    """A `?limit=` / `?offset=` parameter: 0 when absent (no limit, from the first)."""
    raw = request.query_params.get(name)
    if raw is None:
        return 0
    if not _DIGITS.fullmatch(raw) or int(raw) > INT32_MAX:
        raise InvalidContactRequest(f"'{name}' must be an integer from 0 to {INT32_MAX}")
    return int(raw)


def import_chunk(charset: str) -> Callable[[bytes, bool, bool], contacts_pb2.ImportChunk]:
    """Builds the messages of an import: the first one names the charset of the whole file, the
    final one is marked `last` (without it the service knows the upload was cut short)."""

    def chunk(data: bytes, first: bool, last: bool) -> contacts_pb2.ImportChunk:
        return contacts_pb2.ImportChunk(charset=charset if first else "", data=data, last=last)

    return chunk


# --- routes ---------------------------------------------------------------------------------------
Endpoint = Callable[[Request], Awaitable[Response]]


def by_method(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """One route for a path served by several methods, so that a 405 lists all of them in Allow."""

    async def dispatch(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, dispatch, methods=list(endpoints))


@dataclass(frozen=True)
class ContactsRoutes:
    stub: contacts_pb2_grpc.PersonalContactsStub
    keys: PublicKeyCache

    @staticmethod
    async def _call(caller: UserCredentials, rpc: Any, message: Any) -> Any:
        """One unary call of the stub on the caller's behalf (the service checks the token again)."""
        return await rpc(message, metadata=user_metadata(caller.token), timeout=RPC_TIMEOUT_SECONDS)

    async def list_contacts(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)  # first, everywhere: no token, no other answer
        message = contacts_pb2.ListContactsRequest(search=request.query_params.get("search", ""),
                                                   limit=query_count(request, "limit"),
                                                   offset=query_count(request, "offset"))
        reply = await self._call(caller, self.stub.ListContacts, message)
        return JSONResponse({"entries": [list_entry_json(item) for item in reply.entries], "headers": LIST_HEADERS})

    async def get_contact(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        reply = await self._call(caller, self.stub.GetContact, contact_ref(request))
        return JSONResponse(contact_json(reply))

    async def create_contact(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        reply = await self._call(caller, self.stub.CreateContact, await create_request(request))
        return JSONResponse(contact_json(reply), status_code=201)

    async def update_contact(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        message = contacts_pb2.UpdateContactRequest(id=contact_ref(request).id, fields=await contact_fields(request))
        reply = await self._call(caller, self.stub.UpdateContact, message)
        return JSONResponse(contact_json(reply))

    async def delete_contact(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        await self._call(caller, self.stub.DeleteContact, contact_ref(request))
        return Response(status_code=204)

    async def delete_all_contacts(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        await self._call(caller, self.stub.DeleteAllContacts, contacts_pb2.DeleteAllContactsRequest())
        return Response(status_code=204)

    async def export_contacts(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        call = self.stub.ExportContacts(contacts_pb2.ExportContactsRequest(), metadata=user_metadata(caller.token),
                                        timeout=TRANSFER_TIMEOUT_SECONDS)
        return await csv_export(call, EXPORT_FILENAME)

    async def import_contacts(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        call = self.stub.ImportContacts(metadata=user_metadata(caller.token), timeout=TRANSFER_TIMEOUT_SECONDS)
        first = await upload(call, request, import_chunk(request_charset(request)))  # once imported
        if first is grpc.aio.EOF:
            first = contacts_pb2.ImportReport()
        try:
            second = await call.read()  # EOF at once for a report of one part (up to 4,000 contacts)
        except BaseException:
            call.cancel()
            raise
        if second is grpc.aio.EOF:
            return JSONResponse(import_report_json(first), status_code=201)
        # A large report: the answer is generated as its parts arrive (docs/contacts.md, "Import report").
        return CallStreamResponse(call, import_report_body(_parts(call, first, second)), JSON_MEDIA_TYPE,
                                  status_code=201)

    def routes(self) -> list[BaseRoute]:
        return [
            by_method(PERSONAL_PATH, {"GET": self.list_contacts, "POST": self.create_contact,
                                      "DELETE": self.delete_all_contacts}),
            by_method(f"{PERSONAL_PATH}/{{contactId}}", {"GET": self.get_contact, "PUT": self.update_contact,
                                                         "DELETE": self.delete_contact}),
            Route(EXPORT_PATH, self.export_contacts, methods=["GET"]),
            Route(IMPORT_PATH, self.import_contacts, methods=["POST"]),
        ]
