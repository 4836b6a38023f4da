"""The gateway's telephony routes (1.0 API, push registration): the real gateway against a fake service.

The gateway (`python -m gateway`) runs against a real auth process (tokens and `connect`'s password
check are real) and a fake telephony service: an in-test grpc.aio server implementing Telephony
behind the same EdgeInterceptor as the real services (so the gateway must present the service
token for the 1.0 calls and the user's token for push registration, and domain errors raised by the
fake leave as the real service's would). It records every call and answers what a test scripted.
It runs in a thread with its own event loop; the tests drive the gateway with blocking HTTP clients.

Addresses: the gateway listens on 127.0.0.1 and DEPRECATED_API_HOST is 127.0.0.1; a client bound to
127.0.0.2 is "another host". A second gateway trusts 127.0.0.2 as a proxy (XUC_TRUSTED_PROXIES) and
allows only clients of 10.1.2.0/24 and 2001:db8::/32, which can only reach it through that proxy.

What is checked here is the gateway's half: path and body -> request message for every route, 200
exactly, no redirects, the history's JSON, allowed clients, the error table. What the service
decides (sanitisation, users, agents) is tested with the service itself.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest

from gateway.app import GatewayConfig, create_app
from services.telephony.domain.errors import (
    AgentNotFound,
    InvalidNumber,
    InvalidRequest,
    PbxUnreachable,
    PushTokenMissing,
    QueueNotFound,
    UserNotFound,
)
from tests.support.http_errors import assert_error_body
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token
from xuc.errors import DomainError
from xuc.runtime.grpc_client import RETRY_POLICY, service_metadata
from xuc.runtime.grpc_edge import SERVICE_TOKEN_METADATA, Access, Authenticator, EdgeInterceptor
from xuc.runtime.grpc_errors import status_for
from xuc.security.tokens import TokenVerifier, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

S = grpc.StatusCode
V1 = "/xuc/api/1.0"
PUSH = "/xuc/api/2.0/config/mobile/push/register"
DEPRECATED_PUSH = "/xuc/api/2.0/mobile/push/register"
PASSWORD = "telephony-secret"
TELEPHONY = "xuc.telephony.v1.Telephony"
V1_METHODS = ("Dial", "DialByUsername", "DialFromQueue", "SetDnd", "SetForward", "Handshake", "AgentLogin",
              "AgentLogout", "TogglePause", "GetHistory")
POLICY = {**{f"/{TELEPHONY}/{method}": Access.SERVICE for method in V1_METHODS},
          f"/{TELEPHONY}/RegisterPush": Access.USER}
DEFAULT_REPLIES: dict[str, Any] = {
    "Dial": pb.DialReply, "DialByUsername": pb.DialReply, "DialFromQueue": pb.DialReply,
    "SetDnd": pb.UserServices, "SetForward": pb.UserServices, "Handshake": pb.HandshakeReply,
    "AgentLogin": pb.AgentState, "AgentLogout": pb.AgentState, "TogglePause": pb.AgentState,
    "GetHistory": pb.CallHistory, "RegisterPush": pb.RegisterPushReply,
}
NO_CALL = {"uniqueId": "", "linkedId": "", "number": ""}  # what a dial route answers for an empty reply


# --- the fake telephony service -------------------------------------------------------------------
@dataclass
class Received:
    method: str
    metadata: dict[str, str]
    request: Any


@dataclass(frozen=True)
class Status:
    """A failure that is no domain error: a bare status (and reason), as a broken service sends."""

    code: grpc.StatusCode
    reason: str = ""


class FakeTelephony(telephony_pb2_grpc.TelephonyServicer):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received: list[Received] = []
        self.replies: dict[str, Any] = {}
        self.failures: dict[str, DomainError | Status] = {}

    def reply(self, method: str, message: Any) -> None:
        self.replies[method] = message

    def fail(self, method: str, failure: DomainError | Status) -> None:
        self.failures[method] = failure

    def only(self, method: str) -> Received:
        assert [call.method for call in self.received] == [method], self.received
        return self.received[0]

    async def _unary(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        self.received.append(Received(method, metadata, request))
        failure = self.failures.get(method)
        if isinstance(failure, DomainError):
            raise failure  # the EdgeInterceptor answers it, as in the real service
        if isinstance(failure, Status):
            status = status_for(failure.code, failure.reason, "scripted failure")
            await context.abort(status.code, status.details, status.trailing_metadata)
        return self.replies.get(method) or DEFAULT_REPLIES[method]()

    async def Dial(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("Dial", request, context)

    async def DialByUsername(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("DialByUsername", request, context)

    async def DialFromQueue(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("DialFromQueue", request, context)

    async def SetDnd(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("SetDnd", request, context)

    async def SetForward(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("SetForward", request, context)

    async def Handshake(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("Handshake", request, context)

    async def AgentLogin(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("AgentLogin", request, context)

    async def AgentLogout(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("AgentLogout", request, context)

    async def TogglePause(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("TogglePause", request, context)

    async def GetHistory(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("GetHistory", request, context)

    async def RegisterPush(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._unary("RegisterPush", request, context)


class FakeServer:
    """The fake on a free loopback port, behind the services' EdgeInterceptor, in a thread of its own."""

    def __init__(self, fake: FakeTelephony, authenticator: Authenticator) -> None:
        self.fake = fake
        self.authenticator = authenticator
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-telephony", daemon=True)
        self.server: Any = None
        self.address = ""

    async def _start(self) -> int:
        self.server = grpc.aio.server(interceptors=[EdgeInterceptor(POLICY, self.authenticator)])
        telephony_pb2_grpc.add_TelephonyServicer_to_server(self.fake, self.server)
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


# --- processes, users, clients --------------------------------------------------------------------
@dataclass(frozen=True)
class Gateway:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)  # login -> a token issued through the gateway


def start_gateway(launcher: ServiceLauncher, auth: ServiceProcess, telephony_address: str, name: str,
                  **extra_env: str) -> str:
    """A gateway process on a free port of 127.0.0.1; its base URL. Stopped (and checked) with the launcher."""
    data_dir = launcher.base_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "XUC_DATA_DIR": str(data_dir),
        "XUC_SERVICE_TOKEN": auth.service_token,
        "XUC_AUTH_ADDRESS": auth.grpc_address,
        "XUC_CONTACTS_ADDRESS": telephony_address,  # required; never called by these routes
        "XUC_NATS_URL": launcher.nats_url,  # the gateway follows the token revocations
        "XUC_TELEPHONY_ADDRESS": telephony_address,
        "XUC_HTTP_HOST": "127.0.0.1",
        "XUC_HTTP_PORT": "0",
        "XUC_READY_FILE": str(data_dir / "gateway.json"),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    gateway = ServiceProcess.start("gateway", name, data_dir, env)
    launcher.started.append(gateway)
    return f"http://{gateway.ready['http']}"


def client_from(url: str, source: str, **headers: str) -> httpx.Client:
    """A client whose connections leave from `source` (127.0.0.1 or another loopback address)."""
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=source), headers=headers,
                        timeout=15.0)


@pytest.fixture(scope="module")
def launcher(nats_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("gateway-telephony")) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def auth(launcher: ServiceLauncher) -> ServiceProcess:
    auth = launcher.start("services.auth", "auth", database_url=f"sqlite:///{launcher.base_dir / 'auth.db'}",
                          service_token=new_service_token())
    with grpc.insecure_channel(auth.grpc_address) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        for login in ("tel.alice", "tel.bob"):
            stub.CreateUser(auth_pb2.CreateUserRequest(login=login, password=PASSWORD),
                            metadata=service_metadata(auth.service_token), timeout=10)
    return auth


@pytest.fixture(scope="module")
def telephony_server(auth: ServiceProcess) -> Iterator[FakeServer]:
    """Trusts what the real services trust: auth's service token, and tokens signed with auth's keys."""
    with grpc.insecure_channel(auth.grpc_address) as channel:
        keys = auth_pb2_grpc.AuthStub(channel).GetPublicKeys(auth_pb2.GetPublicKeysRequest(),
                                                             metadata=service_metadata(auth.service_token),
                                                             timeout=10)
    verifier = TokenVerifier("xuc", [load_public_key(key.pem) for key in keys.keys])
    server = FakeServer(FakeTelephony(), Authenticator(auth.service_token, verifier)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(launcher: ServiceLauncher, auth: ServiceProcess, telephony_server: FakeServer) -> Gateway:
    url = start_gateway(launcher, auth, telephony_server.address, "gateway", DEPRECATED_API_HOST="127.0.0.1")
    tokens = {}
    with httpx.Client(base_url=url, timeout=15.0) as client:
        for login in ("tel.alice", "tel.bob"):
            answer = client.post("/xuc/api/2.0/auth/login", json={"login": login, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[login] = answer.json()["token"]
    return Gateway(url, tokens)


@pytest.fixture
def fake(telephony_server: FakeServer) -> FakeTelephony:
    """The fake, having forgotten every script and call."""
    telephony_server.fake.reset()
    return telephony_server.fake


@pytest.fixture
def api(gateway: Gateway, fake: FakeTelephony) -> Iterator[httpx.Client]:
    """A client of an allowed host (127.0.0.1), without any token."""
    with client_from(gateway.url, "127.0.0.1") as client:
        yield client


@pytest.fixture
def stranger(gateway: Gateway, fake: FakeTelephony) -> Iterator[httpx.Client]:
    """A client of another host (127.0.0.2)."""
    with client_from(gateway.url, "127.0.0.2") as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> str:
    """A documented error answer; its message."""
    found: str = assert_error_body(response, status, code, message)["message"]
    return found


def post_json(client: httpx.Client, path: str, body: bytes | str, content_type: str = "application/json",
              **params: str) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": content_type}, params=params)


# --- every 1.0 route: path and body -> request message -------------------------------------------
@dataclass(frozen=True)
class V1Route:
    method: str
    path: str  # with its trailing slash, as documented
    body: dict[str, Any] | None
    rpc: str
    request: Any
    answer: Any = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


USER = "avencall.com/tel.alice"
ROUTES = {
    "dnd": V1Route("POST", f"{V1}/dnd/{USER}/", {"state": True}, "SetDnd",
                   pb.SetDndRequest(username="tel.alice", state=True)),
    # the number as typed: sanitising it is the service's job
    "dial": V1Route("POST", f"{V1}/dial/{USER}/", {"number": "+33 (0)6.12"}, "Dial",
                    pb.DialRequest(username="tel.alice", number="+33 (0)6.12"), NO_CALL),
    "dialByUsername": V1Route("POST", f"{V1}/dialByUsername/{USER}/", {"username": "tel.bob"}, "DialByUsername",
                              pb.DialByUsernameRequest(username="tel.alice", target_username="tel.bob"), NO_CALL),
    "dialFromQueue": V1Route(
        "POST", f"{V1}/dialFromQueue/{USER}/",
        {"destination": "1002", "queueId": 5, "callerIdName": "Thomas", "callerIdNumber": "999999",
         "variables": {"foo": "bar"}},
        "DialFromQueue", pb.DialFromQueueRequest(destination="1002", queue_id=5, caller_id_name="Thomas",
                                                 caller_id_number="999999", variables={"foo": "bar"}), NO_CALL),
    "uncForward": V1Route("POST", f"{V1}/uncForward/{USER}/", {"state": True, "destination": "1102"}, "SetForward",
                          pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_UNCONDITIONAL, state=True,
                                               destination="1102")),
    "naForward": V1Route("POST", f"{V1}/naForward/{USER}/", {"state": False, "destination": "1103"}, "SetForward",
                         pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_NO_ANSWER, state=False,
                                              destination="1103")),
    "busyForward": V1Route("POST", f"{V1}/busyForward/{USER}/", {"state": True, "destination": "1104"},
                           "SetForward", pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_BUSY,
                                                              state=True, destination="1104")),
    "handshake": V1Route("POST", f"{V1}/handshake/avencall.com/", None, "Handshake", pb.HandshakeRequest()),
    "agentLogin": V1Route("POST", f"{V1}/agentLogin/", {"agentphonenumber": "1001", "agentnumber": "2001"},
                          "AgentLogin", pb.AgentLoginRequest(agent_number="2001", phone_number="1001")),
    "agentLogout": V1Route("POST", f"{V1}/agentLogout/", {"phoneNumber": "1001"}, "AgentLogout",
                           pb.AgentLogoutRequest(phone_number="1001")),
    "togglePause": V1Route("POST", f"{V1}/togglePause/", {"phoneNumber": "1001"}, "TogglePause",
                           pb.TogglePauseRequest(phone_number="1001")),
    "historyByUsername": V1Route("GET", f"{V1}/historyByUsername/{USER}/", None, "GetHistory",
                                 pb.GetHistoryRequest(username="tel.alice", size=10), [], {"size": "10"}),
}
TELEPHONY_ROUTES = list(ROUTES)


def send(client: httpx.Client, route: V1Route, slash: bool = True, **headers: str) -> httpx.Response:
    path = route.path if slash else route.path.removesuffix("/")
    return client.request(route.method, path, json=route.body, params=route.params, headers=headers)


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
@pytest.mark.parametrize("name", TELEPHONY_ROUTES)
def test_each_route_is_one_call_with_the_service_token_answered_200(
    api: httpx.Client, fake: FakeTelephony, auth: ServiceProcess, name: str, slash: bool,
) -> None:
    route = ROUTES[name]

    response = send(api, route, slash)

    assert response.status_code == 200, response.text  # exactly: no 201/204, no redirect
    assert response.headers["content-type"] == "application/json"
    assert response.json() == route.answer
    call = fake.only(route.rpc)
    assert call.request == route.request
    assert call.metadata[SERVICE_TOKEN_METADATA] == auth.service_token
    assert "authorization" not in call.metadata


@pytest.mark.parametrize("name", TELEPHONY_ROUTES)
def test_an_api_key_or_token_header_is_ignored(api: httpx.Client, fake: FakeTelephony, name: str) -> None:
    response = send(api, ROUTES[name], **{"X-Api-Key": "whatever", "X-Auth-Token": "not-a-token",
                                          "Authorization": "Bearer nonsense"})

    assert response.status_code == 200, response.text
    assert "authorization" not in fake.only(ROUTES[name].rpc).metadata


@pytest.mark.parametrize(("rpc", "path"), [
    ("SetDnd", f"{V1}/dnd/avencall.com//"),
    ("Dial", f"{V1}/dial/avencall.com//"),
    ("GetHistory", f"{V1}/historyByUsername//"),
])
def test_the_documented_curl_examples_name_the_empty_user_which_is_not_found(
    api: httpx.Client, fake: FakeTelephony, rpc: str, path: str,
) -> None:
    fake.fail(rpc, UserNotFound())
    body = {"SetDnd": b'{"state":false}', "Dial": b'{"number":""}', "GetHistory": b""}[rpc]

    response = api.request("GET" if rpc == "GetHistory" else "POST", path, content=body,
                           headers={"Content-Type": "application/json"}, params={"size": "3"})

    assert_error(response, 404, "UserNotFound")
    assert fake.only(rpc).request.username == ""


@pytest.mark.parametrize("path", [f"{V1}/dial/avencall.com", f"{V1}/dial/{USER}//", f"{V1}/dial/{USER}/x/",
                                  f"{V1}/handshake", f"{V1}/unknown/", f"{V1}/"])
def test_a_path_that_is_no_route_is_not_found_never_redirected(api: httpx.Client, fake: FakeTelephony,
                                                                path: str) -> None:
    assert_error(api.post(path, json={"number": "1"}), 404, "NotFound")
    assert fake.received == []


def test_a_wrong_method_is_not_allowed(api: httpx.Client, fake: FakeTelephony) -> None:
    response = api.get(f"{V1}/dial/{USER}/")

    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "POST"
    assert_error(api.post(f"{V1}/historyByUsername/{USER}", params={"size": "1"}), 405, "MethodNotAllowed")


def test_any_domain_is_taken_and_ignored(api: httpx.Client, fake: FakeTelephony) -> None:
    for domain in ("avencall.com", "", "other.example", "x y"):
        assert api.post(f"{V1}/dnd/{domain}/tel.alice/", json={"state": True}).status_code == 200
    assert [call.request for call in fake.received] == [pb.SetDndRequest(username="tel.alice", state=True)] * 4


def test_handshake_needs_no_body_nor_content_type(api: httpx.Client, fake: FakeTelephony) -> None:
    for content in (b"", b"not json at all"):
        response = api.post(f"{V1}/handshake/avencall.com/", content=content)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert "content-type" not in api.build_request("POST", "/", content=b"").headers
    assert [call.method for call in fake.received] == ["Handshake", "Handshake"]


def test_dial_answers_the_call_placed(api: httpx.Client, fake: FakeTelephony) -> None:
    fake.reply("Dial", pb.DialReply(unique_id="1447670380.34", linked_id="1447670380.33", number="0033612"))

    response = api.post(f"{V1}/dial/{USER}/", json={"number": "+33 6 12", "variables": {"CRM_ID": "42"}})

    assert response.status_code == 200
    assert response.json() == {"uniqueId": "1447670380.34", "linkedId": "1447670380.33", "number": "0033612"}
    assert fake.only("Dial").request == pb.DialRequest(username="tel.alice", number="+33 6 12",
                                                       variables={"CRM_ID": "42"})


# --- bodies: what is accepted --------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("false", False),
                                                 ("TRUE", True), (" False ", False)])
def test_state_is_a_boolean_or_its_string(api: httpx.Client, fake: FakeTelephony, value: Any,
                                          expected: bool) -> None:
    assert api.post(f"{V1}/dnd/{USER}/", json={"state": value}).status_code == 200
    assert api.post(f"{V1}/naForward/{USER}/", json={"state": value, "destination": "1"}).status_code == 200

    assert [call.request.state for call in fake.received] == [expected, expected]


@pytest.mark.parametrize("queue_id", [5, "5", 0, "0005", 2**63 - 1, "9223372036854775807"])
def test_queue_id_is_a_number_or_a_string_of_digits(api: httpx.Client, fake: FakeTelephony, queue_id: Any) -> None:
    response = api.post(f"{V1}/dialFromQueue/{USER}/", json={"destination": "1002", "queueId": queue_id})

    assert response.status_code == 200, response.text
    assert fake.only("DialFromQueue").request == pb.DialFromQueueRequest(destination="1002",
                                                                         queue_id=int(queue_id))


def test_optional_keys_may_be_absent_or_null_and_unknown_keys_are_ignored(api: httpx.Client,
                                                                          fake: FakeTelephony) -> None:
    bodies = [
        (f"{V1}/dialFromQueue/{USER}/", {"destination": "1002", "queueId": 5, "callerIdName": None,
                                         "callerIdNumber": None, "variables": None, "priority": 3}),
        (f"{V1}/dial/{USER}/", {"number": "1101", "variables": None, "domain": "avencall.com"}),
        (f"{V1}/uncForward/{USER}/", {"state": False}),
        (f"{V1}/busyForward/{USER}/", {"state": False, "destination": None}),
    ]
    for path, body in bodies:
        assert api.post(path, json=body).status_code == 200, path

    assert [call.request for call in fake.received] == [
        pb.DialFromQueueRequest(destination="1002", queue_id=5),
        pb.DialRequest(username="tel.alice", number="1101"),
        pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_UNCONDITIONAL, state=False),
        pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_BUSY, state=False),
    ]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/plain",
                                          "application/x-www-form-urlencoded"])
def test_any_content_type_is_read_as_json(api: httpx.Client, fake: FakeTelephony, content_type: str) -> None:
    assert post_json(api, f"{V1}/dial/{USER}/", b'{"number": "1101"}', content_type).status_code == 200
    assert fake.only("Dial").request.number == "1101"


# --- bodies: what is refused ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (f"{V1}/dial/{USER}/", b"", "JsonBodyNotFound"),
        (f"{V1}/agentLogin/", b"", "JsonBodyNotFound"),
        (f"{V1}/dial/{USER}/", b'{"number": "1101"', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1101",}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b"\xff\xfe{}", "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'["1101"]', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'"1101"', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b"{}", "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": 1101}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": null}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": {"a": 1}}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": ["a"]}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "\\ud800"}', "JsonErrorDecoding"),  # no UTF-8 can hold it
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": {"\\udc00": "a"}}', "JsonErrorDecoding"),
        (f"{V1}/dialByUsername/{USER}/", b'{"user": "tel.bob"}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b'{"state": "yes"}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b'{"state": 1}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b"{}", "JsonErrorDecoding"),
        (f"{V1}/uncForward/{USER}/", b'{"state": true, "destination": 1102}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": "five"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": "-5"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 5.0}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": true}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 9223372036854775808}',
         "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 5, "callerIdName": 7}',
         "JsonErrorDecoding"),
        (f"{V1}/agentLogin/", b'{"agentphonenumber": "1001"}', "JsonErrorDecoding"),
        (f"{V1}/agentLogin/", b'{"agentphonenumber": "1001", "agentnumber": 2001}', "JsonErrorDecoding"),
        (f"{V1}/agentLogout/", b'{"phone": "1001"}', "JsonErrorDecoding"),
        (f"{V1}/togglePause/", b'{"phoneNumber": ["1001"]}', "JsonErrorDecoding"),
    ],
)
def test_a_body_that_is_not_the_routes_is_refused_at_the_gateway(api: httpx.Client, fake: FakeTelephony,
                                                                 path: str, body: bytes, code: str) -> None:
    assert_error(post_json(api, path, body), 400, code)
    assert fake.received == []


@pytest.mark.parametrize("query", [{}, {"size": "abc"}, {"size": "-1"}, {"days": "1.5"}, {"days": ""},
                                   {"size": "2147483648"}])
def test_history_counts_must_be_whole_numbers(api: httpx.Client, fake: FakeTelephony, query: dict[str, str]) -> None:
    if not query:  # neither: the service's rule (exactly one of them) to apply
        fake.fail("GetHistory", InvalidRequest("Give size or days"))
    response = api.get(f"{V1}/historyByUsername/{USER}", params=query)

    assert_error(response, 400, "InvalidRequest")
    assert len(fake.received) == (1 if not query else 0)


# --- history --------------------------------------------------------------------------------------
HISTORY = pb.CallHistory(calls=[
    pb.CallRecord(start="2018-09-20 17:38:41", duration="00:00:02", src_username="bruce", dst_username="alicej",
                  status="emitted"),
    pb.CallRecord(start="2018-09-20 17:15:00", duration="00:00:18", src_username="0612345678",
                  dst_username="bruce", status="missed"),
])


@pytest.mark.parametrize(("query", "expected"), [({"size": "1"}, pb.GetHistoryRequest(username="bruce", size=1)),
                                                 ({"days": "7"}, pb.GetHistoryRequest(username="bruce", days=7))])
@pytest.mark.parametrize("path", [f"{V1}/historyByUsername/avencall.com/bruce/",
                                  f"{V1}/historyByUsername/avencall.com/bruce"])
def test_history_by_size_or_days_is_a_list_of_strings(api: httpx.Client, fake: FakeTelephony, path: str,
                                                      query: dict[str, str], expected: pb.GetHistoryRequest) -> None:
    fake.reply("GetHistory", HISTORY)

    response = api.get(path, params=query)

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"start": "2018-09-20 17:38:41", "duration": "00:00:02", "srcUsername": "bruce", "dstUsername": "alicej",
         "status": "emitted"},
        {"start": "2018-09-20 17:15:00", "duration": "00:00:18", "srcUsername": "0612345678",
         "dstUsername": "bruce", "status": "missed"},
    ]
    assert fake.only("GetHistory").request == expected


# --- the service's errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "failure", "expected"),
    [
        ("dial", UserNotFound(), (404, "UserNotFound")),
        ("dial", InvalidNumber(), (400, "InvalidNumber")),
        ("dialByUsername", UserNotFound("No user tel.nobody"), (404, "UserNotFound")),
        ("dialFromQueue", QueueNotFound(), (404, "QueueNotFound")),
        ("agentLogin", AgentNotFound(), (404, "AgentNotFound")),
        ("togglePause", AgentNotFound(), (404, "AgentNotFound")),
        ("dnd", PbxUnreachable(), (503, "Unreachable")),
        ("handshake", PbxUnreachable(), (503, "Unreachable")),
        ("historyByUsername", UserNotFound(), (404, "UserNotFound")),
        ("uncForward", Status(S.UNAVAILABLE), (503, "Unreachable")),
        ("agentLogout", Status(S.INTERNAL), (500, "NotHandledError")),
        ("naForward", Status(S.UNKNOWN, "Boom"), (500, "NotHandledError")),
    ],
)
def test_the_services_errors_are_the_documented_answers(api: httpx.Client, fake: FakeTelephony, name: str,
                                                        failure: DomainError | Status,
                                                        expected: tuple[int, str]) -> None:
    fake.fail(ROUTES[name].rpc, failure)

    message = assert_error(send(api, ROUTES[name]), *expected)

    if isinstance(failure, DomainError) and expected[0] < 500:
        assert message == failure.message
    if expected[0] >= 500:
        # internals stay in the logs
        assert "scripted" not in message
        assert "PBX" not in message


# --- connect: auth's password check --------------------------------------------------------------
def test_connect_answers_200_for_the_right_password(api: httpx.Client, fake: FakeTelephony) -> None:
    for slash in ("/", ""):
        response = api.post(f"{V1}/connect/avencall.com/tel.alice{slash}", json={"password": PASSWORD})
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert fake.received == []


@pytest.mark.parametrize(("path", "body"), [
    (f"{V1}/connect/avencall.com/tel.alice/", b'{"password": "wrong"}'),
    (f"{V1}/connect/avencall.com/tel.alice/", b'{"password": ""}'),
    (f"{V1}/connect/avencall.com/tel.alice/", b"{}"),
    (f"{V1}/connect/avencall.com/tel.alice/", b""),
    (f"{V1}/connect/avencall.com/tel.nobody/", f'{{"password": "{PASSWORD}"}}'.encode()),
    (f"{V1}/connect/avencall.com//", b'{"password":""}'),  # the documented example
])
def test_connect_answers_401_otherwise(api: httpx.Client, path: str, body: bytes) -> None:
    assert_error(post_json(api, path, body), 401, "InvalidCredentials")


@pytest.mark.parametrize("body", [b"{", b'{"password": 12}', b"[]"])
def test_connect_refuses_a_broken_body(api: httpx.Client, body: bytes) -> None:
    assert_error(post_json(api, f"{V1}/connect/avencall.com/tel.alice/", body), 400, "JsonErrorDecoding")


# --- allowed clients ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*TELEPHONY_ROUTES, "connect"])
def test_another_host_is_forbidden_before_anything_is_read(stranger: httpx.Client, fake: FakeTelephony,
                                                           name: str) -> None:
    route = ROUTES.get(name) or V1Route("POST", f"{V1}/connect/{USER}/", {"password": PASSWORD}, "", None)

    message = assert_error(send(stranger, route), 403, "Forbidden")
    assert_error(stranger.request(route.method, route.path, content=b"{broken"), 403, "Forbidden")

    assert "127.0.0.2" in message
    assert fake.received == []


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(stranger: httpx.Client, fake: FakeTelephony) -> None:
    assert_error(stranger.post(f"{V1}/handshake//", headers={"X-Forwarded-For": "127.0.0.1"}), 403, "Forbidden")
    assert_error(stranger.post(f"{V1}/handshake//", headers={"X-Real-IP": "127.0.0.1",
                                                              "Forwarded": "for=127.0.0.1"}), 403, "Forbidden")
    assert fake.received == []


def test_push_registration_is_not_restricted_by_host(gateway: Gateway, stranger: httpx.Client,
                                                     fake: FakeTelephony) -> None:
    response = stranger.post(f"{PUSH}/android", json={"token": "t"},
                             headers={"X-Auth-Token": gateway.tokens["tel.alice"]})

    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def proxied_gateway(launcher: ServiceLauncher, auth: ServiceProcess, telephony_server: FakeServer) -> str:
    """Allows 10.1.2.0/24 and 2001:db8::/32, trusting 127.0.0.2 as a proxy; 127.0.0.1 is neither."""
    return start_gateway(launcher, auth, telephony_server.address, "gateway-proxied",
                         DEPRECATED_API_HOST="10.1.2.0/24, 2001:db8::/32", XUC_TRUSTED_PROXIES="127.0.0.2")


@pytest.mark.parametrize(
    ("source", "forwarded_for", "allowed"),
    [
        ("127.0.0.2", None, False),  # the proxy itself is not an allowed client
        ("127.0.0.2", "10.1.2.3", True),
        ("127.0.0.2", "2001:db8::7", True),
        ("127.0.0.2", "10.1.2.3, 127.0.0.2", True),  # our proxies in the chain are skipped
        ("127.0.0.2", "10.1.2.3, 192.0.2.1", False),  # the right-most untrusted hop is the client
        ("127.0.0.2", "unknown", False),
        ("127.0.0.1", "10.1.2.3", False),  # not a trusted proxy: the header is not believed
    ],
)
def test_behind_a_trusted_proxy_x_forwarded_for_names_the_client(
    proxied_gateway: str, fake: FakeTelephony, source: str, forwarded_for: str | None, allowed: bool,
) -> None:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    with client_from(proxied_gateway, source, **headers) as client:
        response = client.post(f"{V1}/handshake/avencall.com/")

    if allowed:
        assert response.status_code == 200, response.text
        assert fake.only("Handshake")
    else:
        assert_error(response, 403, "Forbidden")
        assert fake.received == []


# --- push registration ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "platform"),
    [
        (f"{PUSH}/android", b'{"token": "1234-5678"}', pb.ANDROID),
        (f"{PUSH}/ios", b'{"token": "1234-5678"}', pb.IOS),
        (f"{PUSH}/android", b'{\n    "token": "1234-5678",\n}', pb.ANDROID),  # as documented
        (f"{PUSH}/ios", b'{"token": "1234-5678", "platform": "android"}', pb.IOS),  # the path decides
        (DEPRECATED_PUSH, b'{"token": "1234-5678"}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678",}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "ios"}', pb.IOS),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "iOS"}', pb.IOS),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": "Android"}', pb.ANDROID),
        (DEPRECATED_PUSH, b'{"token": "1234-5678", "platform": null}', pb.ANDROID),
    ],
)
def test_push_registration_is_one_call_with_the_users_token(gateway: Gateway, api: httpx.Client,
                                                            fake: FakeTelephony, path: str, body: bytes,
                                                            platform: pb.PushPlatform) -> None:
    response = api.post(path, content=body, params={"apiVersion": "2.0"},
                        headers={"Content-Type": "application/json", "X-Auth-Token": gateway.tokens["tel.bob"]})

    assert response.status_code == 201, response.text
    assert response.json() == {}
    call = fake.only("RegisterPush")
    assert call.request == pb.RegisterPushRequest(platform=platform, token="1234-5678")
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['tel.bob']}"
    assert SERVICE_TOKEN_METADATA not in call.metadata


def test_push_registration_takes_a_bearer_and_no_query(gateway: Gateway, api: httpx.Client,
                                                       fake: FakeTelephony) -> None:
    response = api.post(f"{PUSH}/ios", json={"token": "abc"},
                        headers={"Authorization": f"Bearer {gateway.tokens['tel.alice']}"})

    assert response.status_code == 201, response.text
    assert fake.only("RegisterPush").request == pb.RegisterPushRequest(platform=pb.IOS, token="abc")


@pytest.mark.parametrize("path", [f"{PUSH}/android", f"{PUSH}/ios", DEPRECATED_PUSH])
def test_push_registration_needs_the_users_token(api: httpx.Client, fake: FakeTelephony, path: str) -> None:
    assert_error(api.post(path, json={"token": "t"}), 401, "AuthorizationHeaderNotFound")
    assert_error(api.post(path, json={"token": "t"}, headers={"X-Auth-Token": "forged"}), 401, "InvalidToken")
    assert_error(api.post(path, content=b"{"), 401, "AuthorizationHeaderNotFound")  # the token first
    assert fake.received == []


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (f"{PUSH}/android", b"", "JsonBodyNotFound"),
        (f"{PUSH}/android", b"{}", "JsonBodyNotFound"),
        (f"{PUSH}/ios", b'{"tokens": "1234"}', "JsonBodyNotFound"),
        (DEPRECATED_PUSH, b"", "JsonBodyNotFound"),
        (f"{PUSH}/android", b"{", "JsonErrorDecoding"),
        (f"{PUSH}/android", b"token=1234", "JsonErrorDecoding"),
        (f"{PUSH}/android", b'{"token": "1234",,}', "JsonErrorDecoding"),
        (f"{PUSH}/android", b'[{"token": "1234"},]', "JsonErrorDecoding"),
        (f"{PUSH}/ios", b'{"token": 1234}', "JsonErrorDecoding"),
        (f"{PUSH}/ios", b'{"token": "\\ud800"}', "JsonErrorDecoding"),
        (DEPRECATED_PUSH, b'{"token": "1234", "platform": "windows"}', "JsonErrorDecoding"),
        (DEPRECATED_PUSH, b'{"token": "1234", "platform": 1}', "JsonErrorDecoding"),
    ],
)
def test_push_registration_bodies_that_are_refused(gateway: Gateway, api: httpx.Client, fake: FakeTelephony,
                                                   path: str, body: bytes, code: str) -> None:
    response = api.post(path, content=body, headers={"Content-Type": "application/json",
                                                     "X-Auth-Token": gateway.tokens["tel.alice"]})

    assert_error(response, 400, code)
    assert fake.received == []


@pytest.mark.parametrize(("failure", "expected"), [
    (PushTokenMissing(), (400, "JsonBodyNotFound")),  # an empty token: the service's to refuse
    (Status(S.INTERNAL), (500, "NotHandledError")),
    (Status(S.UNAVAILABLE), (503, "Unreachable")),
])
def test_push_registration_service_errors(gateway: Gateway, api: httpx.Client, fake: FakeTelephony,
                                          failure: DomainError | Status, expected: tuple[int, str]) -> None:
    fake.fail("RegisterPush", failure)

    response = api.post(DEPRECATED_PUSH, json={"token": ""}, headers={"X-Auth-Token": gateway.tokens["tel.alice"]})

    assert_error(response, *expected)
    if isinstance(failure, Status) and failure.code == S.UNAVAILABLE:
        # RegisterPush sets a state (its proto says IDEMPOTENT): tried again before the gateway gives up.
        assert [call.method for call in fake.received] == ["RegisterPush"] * RETRY_POLICY["maxAttempts"]
    else:
        assert fake.only("RegisterPush").request.token == ""


# --- a telephony service that is down, or not configured -----------------------------------------
def test_a_telephony_service_that_is_down_is_unreachable(launcher: ServiceLauncher, auth: ServiceProcess,
                                                         gateway: Gateway) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = start_gateway(launcher, auth, f"127.0.0.1:{port}", "gateway-no-telephony",
                        DEPRECATED_API_HOST="127.0.0.1")

    with client_from(url, "127.0.0.1") as client:
        for route in ROUTES.values():
            assert_error(send(client, route), 503, "Unreachable")
        assert_error(client.post(f"{PUSH}/android", json={"token": "t"},
                                 headers={"X-Auth-Token": gateway.tokens["tel.alice"]}), 503, "Unreachable")
        assert client.post(f"{V1}/connect/avencall.com/tel.alice/", json={"password": PASSWORD}).status_code == 200


async def test_a_gateway_without_a_telephony_address_answers_unreachable() -> None:
    config = GatewayConfig(service_token="unused", deprecated_api_hosts=("127.0.0.1",))
    app = create_app(config, None, None, None, None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        assert_error(await client.post(f"{V1}/handshake//"), 503, "Unreachable")
        assert_error(await client.post(f"{V1}/dial/{USER}/", content=b"{"), 400, "JsonErrorDecoding")
