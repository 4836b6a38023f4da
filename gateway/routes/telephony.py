"""The deprecated 1.0 API: `/xuc/api/1.0/...` (click-to-call, DND and forwards, agents, history).

Each route is one call to the telephony service (for `connect`, to auth's Login) made with the
service token: the 1.0 API has no user token. It answers only the clients DEPRECATED_API_HOST
lists (see gateway/client_address.py), 403 `Forbidden` to anyone else, before reading the body.

What the original's clients send, accepted as they send it:
- `{domain}` is taken and ignored (one domain per deployment); any segment may be empty
  (`/dial/avencall.com//`: the empty user, which no user is) and the trailing slash is optional,
  never redirected.
- Bodies are JSON objects under any content type (or none); keys not listed are ignored. Text
  values are JSON strings; `state` is true/false or "true"/"false" (any case); `queueId` a
  number or a string of digits; optional keys may be absent or null.
- Success is 200: `{}`, the call placed for the dial routes, the list of calls for the history.

Number sanitisation and every rule about users, agents and queues are the telephony service's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from gateway.client_address import ClientPolicy
from gateway.requests import INT64_MAX, INT64_MIN, JsonBodyNotFound, JsonErrorDecoding, is_text, json_object
from xuc.errors import DomainError, ErrorKind, Forbidden, Unreachable
from xuc.runtime.grpc_client import Metadata, with_request_id
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

log = logging.getLogger(__name__)

BASE = "/xuc/api/1.0"
USER = "{domain}/{username}/"
RPC_TIMEOUT_SECONDS = 10.0
INT32_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_COUNT = re.compile(r"[0-9]{1,10}")
_SEGMENT = re.compile(r"(\{\w+\})")

Endpoint = Callable[[Request], Awaitable[Response]]


class BodyNotFound(JsonBodyNotFound):
    default_message = "No JSON body was sent"


class InvalidQuery(DomainError):
    reason = "InvalidRequest"
    kind = ErrorKind.INVALID
    default_message = "The query parameters are not valid"


def connected(stub: telephony_pb2_grpc.TelephonyStub | None) -> telephony_pb2_grpc.TelephonyStub:
    """The telephony stub; 503 Unreachable when the gateway has none (no XUC_TELEPHONY_ADDRESS)."""
    if stub is None:
        raise Unreachable("The telephony service is not configured")
    return stub


class V1Route(Route):
    """A 1.0 route: its `{parameters}` match empty segments too, and its trailing slash is optional
    (Starlette's own patterns need one character per segment; its router redirects the spelling
    with a slash more or less, which the 1.0 router is told not to)."""

    def __init__(self, path: str, endpoint: Endpoint, *, methods: list[str], name: str) -> None:
        super().__init__(path, endpoint, methods=methods, name=name)
        pattern = "".join(f"(?P<{part[1:-1]}>[^/]*)" if _SEGMENT.fullmatch(part) else re.escape(part)
                          for part in _SEGMENT.split(path.rstrip("/")))
        self.path_regex = re.compile(f"^{pattern}/?$")


# --- JSON -> protobuf -----------------------------------------------------------------------------
async def json_body(request: Request, required: bool = True) -> dict[str, Any]:
    if not required and not await request.body():
        return {}
    return await json_object(request, invalid=JsonErrorDecoding, empty=BodyNotFound)


def text(body: dict[str, Any], name: str, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not is_text(value):
        raise JsonErrorDecoding(f"'{name}' is required and must be a string" if required
                                else f"'{name}' must be a string")
    return value


def flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise JsonErrorDecoding(f"'{name}' is required and must be true or false")
    return value


def queue_id(body: dict[str, Any]) -> int:
    value = body.get("queueId")
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value) and int(value) <= INT64_MAX:
        return int(value)
    raise JsonErrorDecoding("'queueId' is required and must be a number or a string of digits")


def variables(body: dict[str, Any]) -> dict[str, str]:
    value = body.get("variables")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(is_text(key) and is_text(item) for key, item in value.items()):
        raise JsonErrorDecoding("'variables' must be an object whose values are strings")
    return value


def count(request: Request, name: str) -> int:
    """`?size=` / `?days=`: 0 when absent (the service requires exactly one of them)."""
    raw = request.query_params.get(name)
    if raw is None:
        return 0
    if not _COUNT.fullmatch(raw) or int(raw) > INT32_MAX:
        raise InvalidQuery(f"'{name}' must be a whole number from 0 to {INT32_MAX}")
    return int(raw)


# --- protobuf -> JSON -----------------------------------------------------------------------------
def call_json(reply: telephony_pb2.DialReply) -> dict[str, str]:
    return {"uniqueId": reply.unique_id, "linkedId": reply.linked_id, "number": reply.number}


def record_json(record: telephony_pb2.CallRecord) -> dict[str, str]:
    return {"start": record.start, "duration": record.duration, "srcUsername": record.src_username,
            "dstUsername": record.dst_username, "status": record.status}


def done() -> JSONResponse:
    return JSONResponse({})


# --- routes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TelephonyRoutes:
    stub: telephony_pb2_grpc.TelephonyStub | None
    auth: auth_pb2_grpc.AuthStub
    service_metadata: Metadata
    clients: ClientPolicy

    def _client(self, request: Request) -> str:
        """The client's address, if the 1.0 API answers it; Forbidden otherwise."""
        client = self.clients.client(request.client.host if request.client else None,
                                     request.headers.getlist("x-forwarded-for"))
        if not self.clients.allows(client):
            shown = str(client) if client is not None else "an unknown address"
            log.info("1.0 API call refused", extra={"client": shown, "path": request.url.path})
            raise Forbidden(f"The 1.0 API does not answer {shown}: add it to DEPRECATED_API_HOST to allow it")
        return str(client)

    def _telephony(self) -> telephony_pb2_grpc.TelephonyStub:
        return connected(self.stub)

    async def _call(self, rpc: Callable[..., Awaitable[Any]], message: Any) -> Any:
        return await rpc(message, metadata=with_request_id(self.service_metadata), timeout=RPC_TIMEOUT_SECONDS)

    async def connect(self, request: Request) -> Response:
        body = await json_body(request, required=False)
        message = auth_pb2.LoginRequest(login=request.path_params["username"],
                                        password=text(body, "password", required=False),
                                        client_address=self._client(request))
        await self._call(self.auth.Login, message)
        return done()

    async def dnd(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.SetDndRequest(username=request.path_params["username"], state=flag(body, "state"))
        await self._call(self._telephony().SetDnd, message)
        return done()

    async def dial(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.DialRequest(username=request.path_params["username"], number=text(body, "number"),
                                            variables=variables(body))
        return JSONResponse(call_json(await self._call(self._telephony().Dial, message)))

    async def dial_by_username(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.DialByUsernameRequest(username=request.path_params["username"],
                                                      target_username=text(body, "username"))
        return JSONResponse(call_json(await self._call(self._telephony().DialByUsername, message)))

    async def dial_from_queue(self, request: Request) -> Response:
        # The path names a user, as every documented 1.0 path does; the call is the queue's.
        body = await json_body(request)
        message = telephony_pb2.DialFromQueueRequest(
            destination=text(body, "destination"), queue_id=queue_id(body),
            caller_id_name=text(body, "callerIdName", required=False),
            caller_id_number=text(body, "callerIdNumber", required=False), variables=variables(body))
        return JSONResponse(call_json(await self._call(self._telephony().DialFromQueue, message)))

    def forward(self, kind: telephony_pb2.ForwardKind) -> Endpoint:
        async def set_forward(request: Request) -> Response:
            body = await json_body(request)
            message = telephony_pb2.SetForwardRequest(username=request.path_params["username"], kind=kind,
                                                      state=flag(body, "state"),
                                                      destination=text(body, "destination", required=False))
            await self._call(self._telephony().SetForward, message)
            return done()

        return set_forward

    async def handshake(self, request: Request) -> Response:
        # Posted with no body and no content type by the original's clients: the body is not read.
        await self._call(self._telephony().Handshake, telephony_pb2.HandshakeRequest())
        return done()

    async def agent_login(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.AgentLoginRequest(agent_number=text(body, "agentnumber"),
                                                  phone_number=text(body, "agentphonenumber"))
        await self._call(self._telephony().AgentLogin, message)
        return done()

    async def agent_logout(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.AgentLogoutRequest(phone_number=text(body, "phoneNumber"))
        await self._call(self._telephony().AgentLogout, message)
        return done()

    async def toggle_pause(self, request: Request) -> Response:
        body = await json_body(request)
        message = telephony_pb2.TogglePauseRequest(phone_number=text(body, "phoneNumber"))
        await self._call(self._telephony().TogglePause, message)
        return done()

    async def history(self, request: Request) -> Response:
        message = telephony_pb2.GetHistoryRequest(username=request.path_params["username"],
                                                  size=count(request, "size"), days=count(request, "days"))
        reply = await self._call(self._telephony().GetHistory, message)
        return JSONResponse([record_json(record) for record in reply.calls])

    def _route(self, path: str, handler: Endpoint, name: str, method: str = "POST") -> Route:
        async def allowed_clients_only(request: Request) -> Response:
            self._client(request)
            return await handler(request)

        return V1Route(path, allowed_clients_only, methods=[method], name=name)

    def routes(self) -> list[BaseRoute]:
        """One mount for the whole 1.0 API, whose router never redirects: a path that is none of
        these routes, with a slash more or less, is 404 NotFound rather than a redirect."""
        routes: list[BaseRoute] = [
            self._route(f"/connect/{USER}", self.connect, "connect"),
            self._route(f"/dnd/{USER}", self.dnd, "dnd"),
            self._route(f"/dial/{USER}", self.dial, "dial"),
            self._route(f"/dialByUsername/{USER}", self.dial_by_username, "dialByUsername"),
            self._route(f"/dialFromQueue/{USER}", self.dial_from_queue, "dialFromQueue"),
            self._route(f"/uncForward/{USER}", self.forward(telephony_pb2.FORWARD_UNCONDITIONAL), "uncForward"),
            self._route(f"/naForward/{USER}", self.forward(telephony_pb2.FORWARD_NO_ANSWER), "naForward"),
            self._route(f"/busyForward/{USER}", self.forward(telephony_pb2.FORWARD_BUSY), "busyForward"),
            self._route("/handshake/{domain}/", self.handshake, "handshake"),
            self._route("/agentLogin/", self.agent_login, "agentLogin"),
            self._route("/agentLogout/", self.agent_logout, "agentLogout"),
            self._route("/togglePause/", self.toggle_pause, "togglePause"),
            self._route(f"/historyByUsername/{USER}", self.history, "historyByUsername", method="GET"),
        ]
        return [Mount(BASE, app=Router(routes, redirect_slashes=False), name="api-1.0")]
