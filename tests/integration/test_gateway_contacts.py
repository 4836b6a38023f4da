"""The gateway's contacts and qualifications routes: the real gateway process against a fake service.

The gateway (`python -m gateway`) runs against a real auth process (tokens are real) and a fake
contacts service: an in-test grpc.aio server implementing PersonalContacts and Qualifications with
scripted answers, which records every call it receives (request, metadata, import chunks, whether
the call was cancelled). It runs in a thread of its own, with its own event loop, so that the tests
drive the gateway with a plain blocking HTTP client while the fake answers.

What is checked here is the gateway's half of the contract: JSON <-> protobuf for every route, the
user's token forwarded, the error table for every reason, streaming in both directions, body
limits. What the service decides (validation, storage) is tested with the real service in e2e.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest

from tests.support.http_errors import assert_error_body
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token
from xuc.runtime.grpc_client import RETRY_POLICY, RETRYABLE_METHODS, service_metadata
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


class FakeServer:
    """The fake on a free loopback port, served by grpc.aio in a thread with its own event loop."""

    def __init__(self, fake: FakeContacts) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-contacts", daemon=True)
        self.server: Any = None
        self.address = ""

    async def _start(self) -> int:
        self.server = grpc.aio.server()
        contacts_pb2_grpc.add_PersonalContactsServicer_to_server(self.fake, self.server)
        contacts_pb2_grpc.add_QualificationsServicer_to_server(self.fake, self.server)
        port: int = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    def start(self) -> FakeServer:
        self.thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


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


@pytest.fixture(scope="module")
def contacts_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeContacts()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fake(contacts_server: FakeServer) -> FakeContacts:
    return contacts_server.fake


@pytest.fixture(scope="module")
def launcher(nats_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("gateway-contacts")) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def auth(launcher: ServiceLauncher) -> ServiceProcess:
    database = launcher.base_dir / "auth.db"
    return launcher.start("services.auth", "auth", database_url=f"sqlite:///{database}",
                          service_token=new_service_token())


@pytest.fixture(scope="module")
def gateway(launcher: ServiceLauncher, auth: ServiceProcess, contacts_server: FakeServer) -> Gateway:
    url = start_gateway(launcher, auth, contacts_server.address, "gateway")
    tokens = {}
    with httpx.Client(base_url=url, timeout=15.0) as client:
        for login in ("gw.alice", "gw.bob"):
            create_user(auth, login)
            answer = client.post(f"{BASE}/auth/login", json={"login": login, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[login] = answer.json()["token"]
    return Gateway(url, tokens)


@pytest.fixture
def api(gateway: Gateway, fake: FakeContacts) -> Iterator[httpx.Client]:
    """A client sending gw.alice's token; the fake forgets every script and call first."""
    fake.reset()
    headers = {"X-Auth-Token": gateway.tokens["gw.alice"]}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=60.0) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> str:
    """A documented error answer; its message."""
    found: str = assert_error_body(response, status, code, message)["message"]
    return found


def contact(contact_id: str = CONTACT_ID, favorite: bool | None = None, **fields: str) -> contacts_pb2.Contact:
    return contacts_pb2.Contact(id=contact_id, fields=contacts_pb2.ContactFields(favorite=favorite, **fields))


FULL: dict[str, Any] = {"firstname": "doe", "lastname": "john", "number": "1111", "mobile": "2222", "fax": "3333",
        "email": "j.doe@my.corp", "company": "corp"}


# --- personal contacts: JSON <-> protobuf ---------------------------------------------------------
def test_the_list_maps_entries_and_forwards_the_users_token(api: httpx.Client, fake: FakeContacts,
                                                            gateway: Gateway) -> None:
    fake.reply("ListContacts", contacts_pb2.ContactList(total=2, entries=[
        contacts_pb2.ContactWithStatus(contact=contact("a1", True, firstname="hawkeye", lastname="pierce",
                                                       number="1002", mobile="0761187406", fax="9"), status=0),
        contacts_pb2.ContactWithStatus(contact=contact("b2", firstname="peter", lastname="pan", number="1004"),
                                       status=-2),
    ]))

    response = api.get(PERSONAL)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "entries": [
            {"status": 0, "entry": ["hawkeye", "pierce", "1002", "0761187406", "true"], "id": "a1"},
            {"status": -2, "entry": ["peter", "pan", "1004", "", "false"], "id": "b2"},
        ],
        "headers": ["Firstname", "Lastname", "Number", "Mobile", "Favorite"],
    }
    call = fake.only("ListContacts")
    assert call.request == contacts_pb2.ListContactsRequest()
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"
    assert "x-xuc-service-token" not in call.metadata  # a user's call never carries the service's rights


def test_the_token_may_come_as_a_bearer_and_each_user_sends_their_own(gateway: Gateway, fake: FakeContacts) -> None:
    fake.reset()
    with httpx.Client(base_url=gateway.url, timeout=15.0) as client:
        for login in ("gw.alice", "gw.bob"):
            assert client.get(PERSONAL, headers={"Authorization": f"Bearer {gateway.tokens[login]}"}).status_code == 200

    assert [call.metadata["authorization"] for call in fake.received] == [
        f"Bearer {gateway.tokens['gw.alice']}", f"Bearer {gateway.tokens['gw.bob']}"]


def test_search_limit_and_offset_reach_the_service(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.get(PERSONAL, params={"search": "Éric d", "limit": "20", "offset": "40"}).status_code == 200

    assert fake.only("ListContacts").request == contacts_pb2.ListContactsRequest(search="Éric d", limit=20, offset=40)


@pytest.mark.parametrize(("name", "value"), [("limit", "abc"), ("limit", "-1"), ("offset", "1.5"), ("offset", ""),
                                             ("limit", "2147483648"), ("offset", "١٢")])
def test_a_limit_or_offset_that_is_not_a_count_is_an_invalid_contact(api: httpx.Client, fake: FakeContacts,
                                                                     name: str, value: str) -> None:
    message = assert_error(api.get(PERSONAL, params={name: value}), 400, "InvalidContact")

    assert name in message
    assert fake.received == []


def test_get_maps_the_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("GetContact", contact(favorite=True, **FULL))

    response = api.get(f"{PERSONAL}/{CONTACT_ID}")

    assert response.status_code == 200, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": True}
    assert fake.only("GetContact").request == contacts_pb2.ContactRef(id=CONTACT_ID)


def test_create_sends_the_fields_and_answers_201_with_the_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("CreateContact", contact(favorite=False, **FULL))

    response = api.post(PERSONAL, json=FULL)

    assert response.status_code == 201, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": False}
    sent = fake.only("CreateContact").request
    assert sent == contacts_pb2.CreateContactRequest(**FULL, idempotency_key=sent.idempotency_key)
    assert not sent.HasField("favorite")  # absent: the service's default
    # No Idempotency-Key header: a key of this request only, so that a retry of the call is safe.
    assert re.fullmatch("xuc-gateway:[0-9a-f]{32}", sent.idempotency_key)
    api.post(PERSONAL, json=FULL)
    assert fake.received[1].request.idempotency_key not in ("", sent.idempotency_key)


@pytest.mark.parametrize(("headers", "sent_key"), [
    ([("Idempotency-Key", "order-42")], "order-42"),
    ([("idempotency-key", "")], ""),  # present but empty: the service refuses it
    ([("Idempotency-Key", "a"), ("Idempotency-Key", "b")], "a, b"),  # repeated: combined, as HTTP does
])
def test_create_passes_the_idempotency_key(
    api: httpx.Client, fake: FakeContacts, headers: list[tuple[str, str]], sent_key: str,
) -> None:
    fake.reply("CreateContact", contact(favorite=False, **FULL))

    assert api.post(PERSONAL, json=FULL, headers=headers).status_code == 201

    sent = fake.only("CreateContact").request
    assert sent.HasField("idempotency_key")
    assert sent.idempotency_key == sent_key


def test_missing_keys_are_empty_and_favorite_is_passed_when_given(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.post(PERSONAL, json={"lastname": "pan", "favorite": True}).status_code == 201

    sent = fake.only("CreateContact").request
    assert sent == contacts_pb2.CreateContactRequest(lastname="pan", favorite=True,
                                                     idempotency_key=sent.idempotency_key)
    assert sent.HasField("favorite")


def test_update_sends_the_id_and_fields_and_answers_200(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("UpdateContact", contact(favorite=True, **FULL))

    response = api.put(f"{PERSONAL}/{CONTACT_ID}", json=FULL)

    assert response.status_code == 200, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": True}
    sent = fake.only("UpdateContact").request
    assert sent == contacts_pb2.UpdateContactRequest(id=CONTACT_ID, fields=contacts_pb2.ContactFields(**FULL))
    assert not sent.fields.HasField("favorite")  # absent: kept as it is


def test_update_accepts_the_object_as_it_was_read_id_included(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("UpdateContact", contact(favorite=True, **FULL))

    response = api.put(f"{PERSONAL}/{CONTACT_ID}", json={"id": "whatever-the-client-kept", **FULL, "favorite": True})

    assert response.status_code == 200, response.text
    sent = fake.only("UpdateContact").request
    assert sent.id == CONTACT_ID  # the path names the contact, not the body
    assert sent.fields == contacts_pb2.ContactFields(**FULL, favorite=True)


def test_update_may_change_only_favorite(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.put(f"{PERSONAL}/{CONTACT_ID}", json={**FULL, "favorite": False}).status_code == 200

    sent = fake.only("UpdateContact").request
    assert sent.fields.HasField("favorite")
    assert sent.fields.favorite is False


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        (b"", "JsonParsingError", None),
        (b"{", "JsonParsingError", None),
        (b"\xff\xfe{}", "JsonParsingError", None),
        (b"[]", "InvalidContact", None),
        (b'"doe"', "InvalidContact", None),
        (b'{"nickname": "doc"}', "InvalidContact", "nickname"),
        (b'{"id": 7, "lastname": "doe"}', "InvalidContact", "id"),
        (b'{"mobile": 2222}', "InvalidContact", "mobile"),
        (b'{"firstname": null}', "InvalidContact", "firstname"),
        (b'{"favorite": "true"}', "InvalidContact", "favorite"),
        (b'{"favorite": 1}', "InvalidContact", "favorite"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_that_is_not_a_contact_is_refused_at_the_gateway(api: httpx.Client, fake: FakeContacts, method: str,
                                                                body: bytes, code: str, named: str | None) -> None:
    path = PERSONAL if method == "POST" else f"{PERSONAL}/{CONTACT_ID}"

    status = 500 if code == "JsonParsingError" else 400  # the REST page documents a 500 JsonParsingError
    message = assert_error(api.request(method, path, content=body, headers={"Content-Type": "application/json"}),
                           status, code)

    if named is not None:
        assert f"'{named}'" in message
    assert fake.received == []


def test_delete_answers_204_without_a_body(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("DeleteContact", contacts_pb2.DeleteContactsReply(deleted=1))

    response = api.delete(f"{PERSONAL}/{CONTACT_ID}")

    assert response.status_code == 204
    assert response.content == b""
    assert fake.only("DeleteContact").request == contacts_pb2.ContactRef(id=CONTACT_ID)


def test_delete_all_answers_204_without_a_body(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("DeleteAllContacts", contacts_pb2.DeleteContactsReply(deleted=3))

    response = api.delete(PERSONAL)

    assert response.status_code == 204
    assert response.content == b""
    assert fake.only("DeleteAllContacts").request == contacts_pb2.DeleteAllContactsRequest()


def test_a_method_a_path_does_not_serve_lists_all_it_does(api: httpx.Client) -> None:
    collection = api.patch(PERSONAL, json={})
    one = api.post(f"{PERSONAL}/{CONTACT_ID}", json={})

    assert_error(collection, 405, "MethodNotAllowed")
    assert set(collection.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "DELETE"}
    assert_error(one, 405, "MethodNotAllowed")
    assert set(one.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE"}


def test_contact_bodies_keep_the_general_body_limit(api: httpx.Client, fake: FakeContacts) -> None:
    assert_error(api.post(PERSONAL, json={"company": "x" * MAX_BODY_BYTES}), 413, "PayloadTooLarge")
    assert fake.received == []


# --- personal contacts: errors of the service -----------------------------------------------------
CONTACT_CALLS = [
    ("ListContacts", "GET", PERSONAL, None),
    ("GetContact", "GET", f"{PERSONAL}/{CONTACT_ID}", None),
    ("CreateContact", "POST", PERSONAL, FULL),
    ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL),
    ("DeleteContact", "DELETE", f"{PERSONAL}/{CONTACT_ID}", None),
    ("DeleteAllContacts", "DELETE", PERSONAL, None),
    ("ExportContacts", "GET", EXPORT, None),
]


@pytest.mark.parametrize(
    ("rpc", "method", "path", "body", "status", "reason", "expected"),
    [
        ("GetContact", "GET", f"{PERSONAL}/{CONTACT_ID}", None, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("DeleteContact", "DELETE", f"{PERSONAL}/{CONTACT_ID}", None, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("CreateContact", "POST", PERSONAL, FULL, S.ALREADY_EXISTS, "DuplicateContact", (409, "DuplicateContact")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.ALREADY_EXISTS, "DuplicateContact",
         (409, "DuplicateContact")),
        ("CreateContact", "POST", PERSONAL, FULL, S.INVALID_ARGUMENT, "InvalidContact", (400, "InvalidContact")),
        ("CreateContact", "POST", PERSONAL, FULL, S.INVALID_ARGUMENT, "InvalidIdempotencyKey",
         (400, "InvalidIdempotencyKey")),
        ("CreateContact", "POST", PERSONAL, FULL, S.ALREADY_EXISTS, "IdempotencyKeyReused",
         (422, "IdempotencyKeyReused")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.INVALID_ARGUMENT, "InvalidContact",
         (400, "InvalidContact")),
        ("ListContacts", "GET", PERSONAL, None, S.UNAUTHENTICATED, "TokenExpired", (401, "TokenExpired")),
        ("ListContacts", "GET", PERSONAL, None, S.UNAVAILABLE, "", (503, "Unreachable")),
        ("DeleteAllContacts", "DELETE", PERSONAL, None, S.INTERNAL, "NotHandledError", (500, "NotHandledError")),
        ("ExportContacts", "GET", EXPORT, None, S.UNAVAILABLE, "", (503, "Unreachable")),
        ("ExportContacts", "GET", EXPORT, None, S.INTERNAL, "", (500, "NotHandledError")),
    ],
)
def test_the_services_errors_become_the_documented_answers(
    api: httpx.Client, fake: FakeContacts, rpc: str, method: str, path: str, body: dict[str, str] | None,
    status: grpc.StatusCode, reason: str, expected: tuple[int, str],
) -> None:
    fake.fail(rpc, status, reason, "the service's own words")

    message = assert_error(api.request(method, path, json=body), *expected)

    if expected[0] < 500:
        assert message == "the service's own words"
    else:
        assert "own words" not in message  # a 5xx never carries internals
    if status == S.UNAVAILABLE and rpc in RETRYABLE_METHODS[contacts_pb2.DESCRIPTOR.services_by_name[
            "PersonalContacts"].full_name]:
        # A safe call is tried again (another replica may answer) before the gateway gives up.
        assert [call.method for call in fake.received] == [rpc] * RETRY_POLICY["maxAttempts"]
    else:
        assert fake.only(rpc)


@pytest.mark.parametrize(("rpc", "method", "path", "body"), [
    *CONTACT_CALLS,
    ("ImportContacts", "POST", IMPORT, None),
    ("ListQueueQualifications", "GET", f"{QUALIFICATION}/queue/1", None),
    ("CreateAnswer", "POST", QUALIFICATION, {"sub_qualification_id": 1, "time": "2018-03-21 17:00:00", "queue": 1,
                                             "agent": 1}),
    ("ExportAnswers", "GET", f"{QUALIFICATION}/csv/1/2018-01-01/2018-02-01", None),
    ("ExportAnswers", "GET", f"{TYPO_QUALIFICATION}/csv/1/2018-01-01/2018-02-01", None),
])
def test_every_route_wants_a_valid_token_before_any_call(gateway: Gateway, fake: FakeContacts, rpc: str, method: str,
                                                         path: str, body: dict[str, Any] | None) -> None:
    fake.reset()
    with httpx.Client(base_url=gateway.url, timeout=15.0) as client:
        assert_error(client.request(method, path, json=body), 401, "AuthorizationHeaderNotFound")
        assert_error(client.request(method, path, json=body, headers={"X-Auth-Token": "not.a.token"}),
                     401, "InvalidToken")
        assert_error(client.request(method, path, json=body, headers={"Authorization": "Basic eDp5"}),
                     401, "BearerNotFound")

    assert fake.received == []


# --- personal contacts: export --------------------------------------------------------------------
def test_the_export_streams_the_chunks_as_utf8_csv(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email,fax,firstname,lastname,mobile,number\n",
                b"corp,jdoe@company.corp,3333,John,Doe,2222,1111\n", "Zoë,,,,Ünal,,\n".encode())

    response = api.get(EXPORT)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    assert response.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered whole
    assert response.content == ("company,email,fax,firstname,lastname,mobile,number\n"
                                "corp,jdoe@company.corp,3333,John,Doe,2222,1111\nZoë,,,,Ünal,,\n").encode()
    assert fake.only("ExportContacts").request == contacts_pb2.ExportContactsRequest()


def test_an_export_without_chunks_is_an_empty_file(api: httpx.Client, fake: FakeContacts) -> None:
    response = api.get(EXPORT)

    assert response.status_code == 200
    assert response.content == b""


def test_an_error_after_the_export_started_breaks_the_transfer(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email\n", b"corp,a@b.c\n")
    fake.fail("ExportContacts", S.INTERNAL, "NotHandledError", after_chunks=1)

    with api.stream("GET", EXPORT) as response:
        assert response.status_code == 200
        # No final chunk: the client cannot take a truncated file for a whole one.
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_a_client_leaving_an_export_cancels_the_call(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email\n")
    fake.endless_export = True

    with api.stream("GET", EXPORT) as response:
        assert response.status_code == 200
        assert next(response.iter_bytes())
    # Leaving the block closed the connection mid-body.

    call = fake.only("ExportContacts")
    assert call.done.wait(10), "the export call went on after the client left"
    assert call.cancelled


# --- personal contacts: import --------------------------------------------------------------------
def test_the_import_sends_the_file_with_its_charset_and_answers_the_report(api: httpx.Client,
                                                                           fake: FakeContacts) -> None:
    fake.reply("ImportContacts", contacts_pb2.ImportReport(
        created=[contacts_pb2.CreatedContact(id="e62e", lastname="Wayne"),
                 contacts_pb2.CreatedContact(id="d3a6", lastname="Hawking")],
        failed=[contacts_pb2.FailedLine(line=3, errors=["too many fields", "no name"])], failed_count=1))
    csv = "company,email,fax,firstname,lastname,mobile,number\ncorp,,,Bruce,Wayne,,\n".encode("iso-8859-1")

    response = api.post(IMPORT, content=csv, headers={"Content-Type": "text/csv;charset=ISO-8859-1"})

    assert response.status_code == 201, response.text
    assert response.json() == {
        "created": [{"id": "e62e", "lastname": "Wayne"}, {"id": "d3a6", "lastname": "Hawking"}],
        "failed": [{"line": 3, "errors": ["too many fields", "no name"]}],
        "failedCount": 1,
    }
    assert response.headers["content-length"] == str(len(response.content))  # one part: not streamed
    call = fake.only("ImportContacts")
    assert bytes(call.data) == csv
    assert call.chunks[0][0] == "ISO-8859-1"
    assert all(charset == "" for charset, _ in call.chunks[1:])
    assert call.marked_last[-1]  # the file's end is said, not inferred from the stream's end
    assert not any(call.marked_last[:-1])
    assert call.metadata["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(("content_type", "charset"), [
    (None, "utf-8"),
    ("text/csv", "utf-8"),
    ("text/csv; charset=UTF-8", "UTF-8"),
    ('text/plain; format=flowed; charset="windows-1252"', "windows-1252"),
    ("application/octet-stream", "utf-8"),
])
def test_the_charset_comes_from_any_content_type(api: httpx.Client, fake: FakeContacts, content_type: str | None,
                                                 charset: str) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    assert api.post(IMPORT, content=b"lastname\nDoe\n", headers=headers).status_code == 201

    assert fake.only("ImportContacts").chunks[0][0] == charset


def test_an_empty_file_still_reaches_the_service_which_judges_it(api: httpx.Client, fake: FakeContacts) -> None:
    fake.fail("ImportContacts", S.INVALID_ARGUMENT, "InvalidContact", "The file has no valid line")

    message = assert_error(api.post(IMPORT, content=b"", headers={"Content-Type": "text/csv"}), 400, "InvalidContact")

    assert message == "The file has no valid line"
    assert fake.only("ImportContacts").chunks == [("utf-8", 0)]


def test_a_file_the_service_refuses_early_is_an_invalid_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.fail("ImportContacts", S.INVALID_ARGUMENT, "InvalidContact", "line 2: not utf-8", after_chunks=1)

    def body() -> Iterator[bytes]:
        yield b"lastname\n\xff\xfe\n"
        assert fake.import_started.wait(10)
        time.sleep(0.2)  # let the refusal come back before more is sent
        yield b"x" * 100_000

    message = assert_error(api.post(IMPORT, content=body()), 400, "InvalidContact")

    assert message == "line 2: not utf-8"


def test_a_20_mb_import_is_streamed_in_many_chunks_as_it_arrives(api: httpx.Client, fake: FakeContacts) -> None:
    piece = b"corp,jdoe@company.corp,3333,John,Doe,2222,1111\n" * 21_277  # 1,000,019 bytes, whole lines
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        digest.update(b"company,email,fax,firstname,lastname,mobile,number\n")
        yield b"company,email,fax,firstname,lastname,mobile,number\n"
        # The service must have the first bytes before the client has sent the rest: no buffering.
        assert fake.import_started.wait(10), "the first chunk did not reach the service before the body ended"
        for _ in range(20):
            digest.update(piece)
            yield piece

    started = time.monotonic()
    response = api.post(IMPORT, content=body(), headers={"Content-Type": "text/csv; charset=utf-8"})
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.text
    call = fake.only("ImportContacts")
    assert len(call.data) == 20 * len(piece) + len(b"company,email,fax,firstname,lastname,mobile,number\n")
    assert hashlib.sha256(call.data).digest() == digest.digest()
    assert len(call.chunks) >= 20, call.chunks[:5]
    assert max(size for _, size in call.chunks) <= 1024 * 1024
    print(f"20 MB import through the gateway: {elapsed:.2f} s in {len(call.chunks)} chunks")


def report_parts(contacts: int, per_part: int = 4000) -> list[Any]:
    """A report of `contacts` created contacts in parts, as the service answers it."""
    created = [contacts_pb2.CreatedContact(id=f"{i:036d}", lastname=f"Lâst\"{i:06d}") for i in range(contacts)]
    parts = [contacts_pb2.ImportReport(created=created[start:start + per_part])
             for start in range(0, contacts, per_part)]
    parts[0].failed.append(contacts_pb2.FailedLine(line=7, errors=["too many fields"]))
    parts[0].failed_count = 1234
    return parts


def test_a_report_of_many_parts_is_streamed_as_one_json_document(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("ImportContacts", report_parts(100_000))

    with api.stream("POST", IMPORT, content=b"lastname\nDoe\n") as response:
        chunks = list(response.iter_raw())

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert "content-length" not in response.headers  # generated as the parts arrive
    assert len(chunks) > 1
    body = json.loads(b"".join(chunks))
    assert list(body) == ["created", "failed", "failedCount"]
    assert body["created"] == [{"id": f"{i:036d}", "lastname": f"Lâst\"{i:06d}"} for i in range(100_000)]
    assert (body["failed"], body["failedCount"]) == ([{"line": 7, "errors": ["too many fields"]}], 1234)


def test_a_report_that_fails_once_streamed_ends_as_a_broken_transfer(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("ImportContacts", [*report_parts(12_000)[:2], Failure(S.UNAVAILABLE, "Unreachable", "gone")])

    with api.stream("POST", IMPORT, content=b"lastname\nDoe\n") as response:
        assert response.status_code == 201  # sent with the first parts
        with pytest.raises(httpx.RemoteProtocolError):  # never a well-formed but short report
            response.read()
def test_an_import_declared_above_the_limit_is_refused_before_any_call(gateway: Gateway, api: httpx.Client,
                                                                       fake: FakeContacts) -> None:
    # Only the headers are sent (as a client waiting for "100 Continue" would): the answer needs no body.
    connection = http.client.HTTPConnection(gateway.url.removeprefix("http://"), timeout=15)
    try:
        connection.putrequest("POST", IMPORT)
        connection.putheader("X-Auth-Token", gateway.tokens["gw.alice"])
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", str(MAX_IMPORT_BYTES + 1))
        connection.endheaders()
        answer = connection.getresponse()
        status, content_type, body = answer.status, answer.getheader("content-type"), json.loads(answer.read())
    finally:
        connection.close()

    assert (status, content_type, body["error"]) == (413, "application/json", "PayloadTooLarge")
    assert fake.received == []


def test_a_streamed_import_above_the_limit_is_refused_and_its_call_cancelled(api: httpx.Client,
                                                                             fake: FakeContacts) -> None:
    piece = b"x" * MEGABYTE

    def body() -> Iterator[bytes]:
        for _ in range(MAX_IMPORT_BYTES // MEGABYTE + 1):
            yield piece

    message = assert_error(api.post(IMPORT, content=body(), headers={"Content-Type": "text/csv"}),
                           413, "PayloadTooLarge")

    assert str(MAX_IMPORT_BYTES) in message
    call = fake.only("ImportContacts")
    assert call.done.wait(10)
    assert call.cancelled, "the service must see the import abandoned, to discard it"
    assert len(call.data) <= MAX_IMPORT_BYTES


# --- qualifications -------------------------------------------------------------------------------
ANSWER: dict[str, Any] = {
    "sub_qualification_id": 1, "time": "2018-03-21 17:00:00", "callid": "callid1", "agent": 1, "queue": 1,
    "first_name": "john", "last_name": "doe", "comment": "some comment", "custom_data": "some custom data",
}


def test_the_qualifications_of_a_queue(api: httpx.Client, fake: FakeContacts, gateway: Gateway) -> None:
    fake.reply("ListQueueQualifications", contacts_pb2.QualificationList(qualifications=[
        contacts_pb2.Qualification(id=6, name="General Questions", queue_ids=[5], active=True, sub_qualifications=[
            contacts_pb2.SubQualification(id=14, name="Common", active=True),
            contacts_pb2.SubQualification(id=15, name="Technical", active=True)]),
        contacts_pb2.Qualification(id=5, name="Support", active=True),
    ]))

    response = api.get(f"{QUALIFICATION}/queue/5")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": 6, "name": "General Questions",
         "subQualifications": [{"id": 14, "name": "Common"}, {"id": 15, "name": "Technical"}]},
        {"id": 5, "name": "Support", "subQualifications": []},
    ]
    call = fake.only("ListQueueQualifications")
    assert call.request == contacts_pb2.QueueRef(queue_id=5)
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"


@pytest.mark.parametrize("queue", ["abc", "-1", "1.5", "99999999999999999999"])
def test_a_queue_id_that_is_not_an_id_is_not_found(api: httpx.Client, fake: FakeContacts, queue: str) -> None:
    assert_error(api.get(f"{QUALIFICATION}/queue/{queue}"), 404, "NotFound")
    assert_error(api.get(f"{QUALIFICATION}/csv/{queue}/2018-01-01/2018-02-01"), 404, "NotFound")
    assert fake.received == []


def test_an_answer_is_sent_whole_and_its_id_returned_bare(api: httpx.Client, fake: FakeContacts,
                                                          gateway: Gateway) -> None:
    fake.reply("CreateAnswer", contacts_pb2.AnswerRef(id=42))

    response = api.post(QUALIFICATION, json=ANSWER)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"42"
    call = fake.only("CreateAnswer")
    assert call.request == contacts_pb2.QualificationAnswer(**ANSWER)
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"


def test_an_answer_needs_only_its_sub_qualification_time_queue_and_agent(api: httpx.Client,
                                                                         fake: FakeContacts) -> None:
    fake.reply("CreateAnswer", contacts_pb2.AnswerRef(id=7))

    response = api.post(QUALIFICATION, json={"sub_qualification_id": 3, "time": "2018-03-21 17:00:00", "queue": 2,
                                             "agent": 2001})

    assert response.status_code == 201
    assert response.json() == 7
    assert fake.only("CreateAnswer").request == contacts_pb2.QualificationAnswer(
        sub_qualification_id=3, time="2018-03-21 17:00:00", queue=2, agent=2001)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "JsonBodyNotFound"),
        (b"{", "JsonErrorDecoding"),
        (b"[1]", "JsonErrorDecoding"),
        (b"42", "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "sub_qualification_id"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "time"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "queue"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "agent"}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "queue": "1"}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "agent": True}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "agent": 1.0}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "sub_qualification_id": 2**63}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "comment": None}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "time": 1521651600}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "extra": "x"}).encode(), "JsonErrorDecoding"),
    ],
)
def test_an_answer_that_is_not_one_is_refused_at_the_gateway(api: httpx.Client, fake: FakeContacts, body: bytes,
                                                             code: str) -> None:
    assert_error(api.post(QUALIFICATION, content=body, headers={"Content-Type": "application/json"}), 400, code)
    assert fake.received == []


@pytest.mark.parametrize(("reason", "expected"), [
    ("UnknownSubQualification", (400, "JsonErrorDecoding")),
    ("InvalidQualificationAnswer", (400, "JsonErrorDecoding")),
])
def test_the_services_refusals_of_an_answer_are_json_error_decoding(api: httpx.Client, fake: FakeContacts,
                                                                    reason: str, expected: tuple[int, str]) -> None:
    fake.fail("CreateAnswer", S.INVALID_ARGUMENT, reason, f"{reason}: details")

    assert assert_error(api.post(QUALIFICATION, json=ANSWER), *expected) == f"{reason}: details"


@pytest.mark.parametrize("rpc", ["ListQueueQualifications", "CreateAnswer"])
@pytest.mark.parametrize(("status", "expected"), [(S.UNAVAILABLE, (503, "Unreachable")),
                                                  (S.INTERNAL, (500, "NotHandledError"))])
def test_qualification_routes_answer_service_failures(api: httpx.Client, fake: FakeContacts, rpc: str,
                                                      status: grpc.StatusCode, expected: tuple[int, str]) -> None:
    fake.fail(rpc, status, "")
    response = (api.get(f"{QUALIFICATION}/queue/1") if rpc == "ListQueueQualifications"
                else api.post(QUALIFICATION, json=ANSWER))

    assert_error(response, *expected)


@pytest.mark.parametrize("base", [QUALIFICATION, TYPO_QUALIFICATION])
def test_the_answers_export_by_dates_on_both_paths(api: httpx.Client, fake: FakeContacts, base: str) -> None:
    fake.stream("ExportAnswers", b"sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,"
                b"custom_data\n", b"1,2018-03-21 17:00:00,callid1,1,1,john,doe,some comment,some custom data\n")

    response = api.get(f"{base}/csv/7/2018-03-21%2017:00:00/2018-03-22")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.text == ("sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,custom_data\n"
                             "1,2018-03-21 17:00:00,callid1,1,1,john,doe,some comment,some custom data\n")
    assert fake.only("ExportAnswers").request == contacts_pb2.ExportAnswersRequest(
        queue_id=7, **{"from": "2018-03-21 17:00:00", "to": "2018-03-22"})


@pytest.mark.parametrize("base", [QUALIFICATION, TYPO_QUALIFICATION])
@pytest.mark.parametrize(("status", "reason", "expected"), [
    (S.INVALID_ARGUMENT, "InvalidDate", (400, "InvalidDate")),
    (S.UNAVAILABLE, "", (503, "Unreachable")),
    (S.INTERNAL, "", (500, "NotHandledError")),
])
def test_an_export_refused_before_its_first_chunk_is_a_json_error(
    api: httpx.Client, fake: FakeContacts, base: str, status: grpc.StatusCode, reason: str,
    expected: tuple[int, str],
) -> None:
    fake.fail("ExportAnswers", status, reason, "from must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")

    assert_error(api.get(f"{base}/csv/1/yesterday/2018-03-22"), *expected)


# --- a contacts service that is down --------------------------------------------------------------
def test_a_contacts_service_that_is_down_is_unreachable_and_auth_still_answers(
    launcher: ServiceLauncher, auth: ServiceProcess, gateway: Gateway,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = start_gateway(launcher, auth, f"127.0.0.1:{port}", "gateway-no-contacts")

    with httpx.Client(base_url=url, headers={"X-Auth-Token": gateway.tokens["gw.alice"]}, timeout=15.0) as client:
        assert client.get("/health/ready").status_code == 200
        assert_error(client.get(PERSONAL), 503, "Unreachable")
        assert_error(client.get(EXPORT), 503, "Unreachable")
        assert_error(client.post(IMPORT, content=b"lastname\nDoe\n"), 503, "Unreachable")
        assert_error(client.get(f"{QUALIFICATION}/queue/1"), 503, "Unreachable")
        assert_error(client.get(f"{TYPO_QUALIFICATION}/csv/1/2018-01-01/2018-02-01"), 503, "Unreachable")
        assert client.get(f"{BASE}/auth/check").status_code == 200
