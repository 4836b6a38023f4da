"""A fake contacts service for the gateway's tests, and the processes around it.

The fake is an in-test grpc.aio server implementing PersonalContacts and Qualifications with
scripted answers, which records every call it receives (request, metadata, import chunks, whether
the call was cancelled). It runs in a thread of its own, with its own event loop, so that the tests
drive the gateway with a plain blocking HTTP client while the fake answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from tests.support.http_errors import assert_error_body
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.threaded_grpc import ThreadedGrpcServer
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_errors import status_for
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

S = grpc.StatusCode
BASE = "/xuc/api/2.0"
PERSONAL = f"{BASE}/contact/personal"
EXPORT = f"{BASE}/contact/export/personal"
IMPORT = f"{BASE}/contact/import/personal"
QUALIFICATION = f"{BASE}/call_qualification"
TYPO_QUALIFICATION = "/xuc/api/api/2.0/call_qualification"
MAX_BODY_BYTES = 4096
MAX_IMPORT_BYTES = 21_000_000
MEGABYTE = 1_000_000
CONTACT_ID = "28079dc0-2c6b-4332-9075-61da9229389f"
PASSWORD = "gateway-secret"

# What the fake answers when a test scripted nothing: an empty reply of the method's type.
DEFAULT_REPLIES: dict[str, Any] = {
    "ListContacts": contacts_pb2.ContactList,
    "GetContact": contacts_pb2.Contact,
    "CreateContact": contacts_pb2.Contact,
    "UpdateContact": contacts_pb2.Contact,
    "DeleteContact": contacts_pb2.DeleteContactsReply,
    "DeleteAllContacts": contacts_pb2.DeleteContactsReply,
    "ImportContacts": contacts_pb2.ImportReport,
    "ListQueueQualifications": contacts_pb2.QualificationList,
    "CreateAnswer": contacts_pb2.AnswerRef,
}


# --- the fake contacts service --------------------------------------------------------------------
@dataclass
class Received:
    """One call the fake received."""

    method: str
    metadata: dict[str, str]
    request: Any = None  # the request message (unary and server-streaming calls)
    chunks: list[tuple[str, int]] = field(default_factory=list)  # import: (charset, size) of each chunk
    data: bytearray = field(default_factory=bytearray)  # import: the bytes, joined
    marked_last: list[bool] = field(default_factory=list)  # import: the `last` flag of each chunk
    cancelled: bool = False  # the client cancelled the call
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Failure:
    status: grpc.StatusCode
    reason: str
    message: str
    after_chunks: int = 0  # streaming: fail after sending (export) or receiving (import) this many chunks


class FakeContacts(contacts_pb2_grpc.PersonalContactsServicer, contacts_pb2_grpc.QualificationsServicer):
    """Answers what a test scripted (`reply`, `fail`, `stream`), remembers what it was sent."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received: list[Received] = []
        self.replies: dict[str, Any] = {}
        self.failures: dict[str, Failure] = {}
        self.exports: dict[str, list[bytes]] = {}
        self.endless_export = False
        self.import_started = threading.Event()

    # -- scripting, from the tests --
    def reply(self, method: str, message: Any) -> None:
        self.replies[method] = message

    def fail(self, method: str, status: grpc.StatusCode, reason: str, message: str = "scripted failure",
             after_chunks: int = 0) -> None:
        self.failures[method] = Failure(status, reason, message, after_chunks)

    def stream(self, method: str, *chunks: bytes) -> None:
        self.exports[method] = list(chunks)

    def only(self, method: str) -> Received:
        """The one call received, which must be of `method`."""
        assert [call.method for call in self.received] == [method], self.received
        return self.received[0]

    # -- the service side --
    def _record(self, method: str, context: grpc.aio.ServicerContext, request: Any = None) -> Received:
        call = Received(method, {key: value for key, value in context.invocation_metadata() or ()}, request)
        self.received.append(call)
        return call

    @contextlib.contextmanager
    def _watch(self, call: Received) -> Iterator[None]:
        """Notes how a handler ends: grpc.aio cancels the handler's task when the client cancels."""
        try:
            yield
        except asyncio.CancelledError:
            call.cancelled = True
            raise
        finally:
            call.done.set()

    async def _abort(self, context: grpc.aio.ServicerContext, failure: Failure) -> None:
        status = status_for(failure.status, failure.reason, failure.message)
        await context.abort(status.code, status.details, status.trailing_metadata)

    async def _unary(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._record(method, context, request)
        if method in self.failures:
            await self._abort(context, self.failures[method])
        return self.replies.get(method) or DEFAULT_REPLIES[method]()

    async def _export(self, method: str, request: Any, context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[contacts_pb2.CsvChunk]:
        call = self._record(method, context, request)
        failure = self.failures.get(method)
        with self._watch(call):
            for sent, data in enumerate(self.exports.get(method, [])):
                if failure is not None and sent == failure.after_chunks:
                    break
                yield contacts_pb2.CsvChunk(data=data)
            while self.endless_export:  # until the client goes away
                yield contacts_pb2.CsvChunk(data=b"more,lines\n")
                await asyncio.sleep(0.01)
            if failure is not None:
                await self._abort(context, failure)

    async def ListContacts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("ListContacts", request, context)

    async def GetContact(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("GetContact", request, context)

    async def CreateContact(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("CreateContact", request, context)

    async def UpdateContact(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("UpdateContact", request, context)

    async def DeleteContact(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("DeleteContact", request, context)

    async def DeleteAllContacts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("DeleteAllContacts", request, context)

    async def ListQueueQualifications(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("ListQueueQualifications", request, context)

    async def CreateAnswer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("CreateAnswer", request, context)

    async def ExportContacts(self, request: Any, context: grpc.aio.ServicerContext
                             ) -> AsyncIterator[contacts_pb2.CsvChunk]:
        # An async generator function itself: grpc.aio tells streaming handlers apart by that.
        async for chunk in self._export("ExportContacts", request, context):
            yield chunk

    async def ExportAnswers(self, request: Any, context: grpc.aio.ServicerContext
                            ) -> AsyncIterator[contacts_pb2.CsvChunk]:
        # An async generator function itself: grpc.aio tells streaming handlers apart by that.
        async for chunk in self._export("ExportAnswers", request, context):
            yield chunk

    async def ImportContacts(self, request_iterator: AsyncIterator[contacts_pb2.ImportChunk],
                             context: grpc.aio.ServicerContext) -> AsyncIterator[contacts_pb2.ImportReport]:
        # The reply: one ImportReport, or a list of parts (a Failure among them ends the call there).
        call = self._record("ImportContacts", context)
        failure = self.failures.get("ImportContacts")
        with self._watch(call):
            async for chunk in request_iterator:
                call.chunks.append((chunk.charset, len(chunk.data)))
                call.data += chunk.data
                call.marked_last.append(chunk.last)
                self.import_started.set()
                if failure is not None and len(call.chunks) == failure.after_chunks:
                    break  # refuse the file early, without reading the rest (as for bad bytes)
            if failure is not None:
                await self._abort(context, failure)
            # Storing the file, as the service would. A cancelled call may first look like the end
            # of the stream to a handler; the cancellation then lands at its next await.
            await asyncio.sleep(0.05)
            reply = self.replies.get("ImportContacts") or contacts_pb2.ImportReport()
            for part in reply if isinstance(reply, list) else [reply]:
                if isinstance(part, Failure):
                    await self._abort(context, part)
                yield part


class FakeServer(ThreadedGrpcServer):
    """The fake on a free loopback port, served by grpc.aio in a thread with its own event loop."""

    def __init__(self, fake: FakeContacts) -> None:
        def register(server: grpc.aio.Server) -> None:
            contacts_pb2_grpc.add_PersonalContactsServicer_to_server(fake, server)
            contacts_pb2_grpc.add_QualificationsServicer_to_server(fake, server)

        super().__init__("fake-contacts", register)
        self.fake = fake


# --- processes and users --------------------------------------------------------------------------
def start_gateway(launcher: ServiceLauncher, auth: ServiceProcess, contacts_address: str, name: str) -> str:
    """A gateway process on a free port; its base URL. Stopped (and checked) with the launcher."""
    data_dir = launcher.base_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "XUC_DATA_DIR": str(data_dir),
        "XUC_SERVICE_TOKEN": auth.service_token,
        "XUC_AUTH_ADDRESS": auth.grpc_address,
        "XUC_CONTACTS_ADDRESS": contacts_address,
        "XUC_NATS_URL": launcher.nats_url,  # the gateway follows the token revocations
        "XUC_HTTP_HOST": "127.0.0.1",
        "XUC_HTTP_PORT": "0",
        "XUC_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "XUC_MAX_IMPORT_BYTES": str(MAX_IMPORT_BYTES),
        "XUC_READY_FILE": str(data_dir / "gateway.json"),
        "PYTHONUNBUFFERED": "1",
    }
    gateway = ServiceProcess.start("gateway", name, data_dir, env)
    launcher.started.append(gateway)
    return f"http://{gateway.ready['http']}"


def create_user(auth: ServiceProcess, login: str) -> None:
    with grpc.insecure_channel(auth.grpc_address) as channel:
        auth_pb2_grpc.AuthStub(channel).CreateUser(auth_pb2.CreateUserRequest(login=login, password=PASSWORD),
                                                   metadata=service_metadata(auth.service_token), timeout=10)


@dataclass(frozen=True)
class Gateway:
    url: str
    tokens: dict[str, str]  # login -> a token issued through the gateway


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> str:
    """A documented error answer; its message."""
    found: str = assert_error_body(response, status, code, message)["message"]
    return found


def contact(contact_id: str = CONTACT_ID, favorite: bool | None = None, **fields: str) -> contacts_pb2.Contact:
    return contacts_pb2.Contact(id=contact_id, fields=contacts_pb2.ContactFields(favorite=favorite, **fields))


FULL: dict[str, Any] = {"firstname": "doe", "lastname": "john", "number": "1111", "mobile": "2222", "fax": "3333",
        "email": "j.doe@my.corp", "company": "corp"}
