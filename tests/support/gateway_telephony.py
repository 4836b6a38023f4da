"""The gateway's telephony tests' parts: a fake telephony service and the gateway in front of it.

The fake is an in-test grpc.aio server implementing Telephony behind the same EdgeInterceptor as the
real services (so the gateway must present the service token for the 1.0 calls and the user's token
for push registration, and domain errors raised by the fake leave as the real service's would). It
records every call and answers what a test scripted. It runs in a thread with its own event loop;
the tests drive the gateway with blocking HTTP clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from tests.support.http_errors import assert_error_body
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.threaded_grpc import ThreadedGrpcServer
from xuc.errors import DomainError
from xuc.runtime.grpc_edge import Access, Authenticator, EdgeInterceptor
from xuc.runtime.grpc_errors import status_for
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


class FakeServer(ThreadedGrpcServer):
    """The fake on a free loopback port, behind the services' EdgeInterceptor, in a thread of its own."""

    def __init__(self, fake: FakeTelephony, authenticator: Authenticator) -> None:
        def register(server: grpc.aio.Server) -> None:
            telephony_pb2_grpc.add_TelephonyServicer_to_server(fake, server)

        super().__init__("fake-telephony", register, interceptors=[EdgeInterceptor(POLICY, authenticator)])
        self.fake = fake
        self.authenticator = authenticator


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
