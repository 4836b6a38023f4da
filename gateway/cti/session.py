"""A logged-on socket: who it is, the state sent at logon, and the dispatch of its commands.

Every command becomes calls to the services (gateway/cti/commands.py); a refusal by a service, or
a command the gateway cannot read, is answered with an `Error` (`AgentError` for agent commands)
carrying the service's reason, and the socket stays open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from gateway.cti import translate
from gateway.cti.connection import POLICY_VIOLATION, CtiSocket, RateLimit
from gateway.cti.envelope import PONG, Command, Ping, Refused, encode, parse
from gateway.cti.hub import EventHub
from xuc.errors import DomainError
from xuc.runtime.grpc_client import Metadata
from xuc.runtime.grpc_errors import reason_of
from xuc.runtime.metrics import CTI_ERRORS, CTI_MESSAGES
from xuc.tasks import cancel_and_wait
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.events.v1.auth_events_pb2 import UserChanged
from xucproto.events.v1.telephony_events_pb2 import UserServicesChanged
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

log = logging.getLogger(__name__)

RPC_TIMEOUT_SECONDS = 10.0
PING_FRAME = '{"claz":"ping"}'  # exactly as cti.js sends it
_PINGS_RECEIVED = CTI_MESSAGES.labels("ping", "in").inc
# Reasons a service answers that mean "this service cannot be reached now".
_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


Handler = Callable[["Session", Command], Awaitable[None]]


@dataclass(frozen=True)
class CommandEntry:
    handler: Handler
    error_type: str = "Error"  # agent commands answer their refusals with AgentError


@dataclass(frozen=True)
class Backends:
    """The services a session calls, with the service token (the user was verified at logon)."""

    auth: auth_pb2_grpc.AuthStub
    telephony: telephony_pb2_grpc.TelephonyStub | None
    directory: contacts_pb2_grpc.DirectoryStub
    metadata: Metadata


class Session:
    def __init__(self, socket: CtiSocket, user: auth_pb2.User, hub: EventHub, backends: Backends,
                 rate: RateLimit) -> None:
        self.socket = socket
        self.user = user
        self.login = user.login
        self.hub = hub
        self.backends = backends
        self.agent_number = ""  # the user's own agent, "" when none
        self._rate = rate
        self._services: telephony_pb2.UserServices | None = None
        self._refreshing: asyncio.Task[None] | None = None

    # --- out ------------------------------------------------------------------------------------
    def send(self, msg_type: str, cti_message: Any) -> None:
        self.socket.offer(encode(msg_type, cti_message), msg_type)

    def _send_state(self, msg_type: str, cti_message: Any) -> None:
        """A message of the state sent at logon: ahead of the events held meanwhile."""
        self.socket.send_now(encode(msg_type, cti_message), msg_type)

    def refuse(self, refusal: Refused) -> None:
        CTI_ERRORS.labels(refusal.reason).inc()
        self.send(refusal.msg_type, refusal.cti_message())

    @property
    def telephony(self) -> telephony_pb2_grpc.TelephonyStub:
        if self.backends.telephony is None:
            raise Refused("Unreachable", "The telephony service is not configured")
        return self.backends.telephony

    async def call(self, method: Any, request: Any) -> Any:
        """One RPC with the service token and the gateway's deadline."""
        return await method(request, metadata=self.backends.metadata, timeout=RPC_TIMEOUT_SECONDS)

    # --- logon ----------------------------------------------------------------------------------
    async def send_initial_state(self) -> None:
        """What the client receives unasked after LoggedOn, in the spec's order (events that
        arrive meanwhile are held by the socket and follow). The reads go out together."""
        telephony, login = self.telephony, self.login
        statuses, chosen, agents, services, phone = await asyncio.gather(
            self.call(telephony.ListUserStatuses, telephony_pb2.UserStatusesListRequest()),
            self.call(telephony.GetUserStatus, telephony_pb2.UserStatusGetRequest(username=login)),
            self.call(telephony.ListUserAgents, telephony_pb2.ListUserAgentsRequest(username=login)),
            self.call(telephony.GetUserServices, telephony_pb2.GetUserServicesRequest(username=login)),
            self.call(telephony.GetPhoneStatuses, telephony_pb2.GetPhoneStatusesRequest(
                numbers=[self.user.line] if self.user.line else [])))
        self.agent_number = agents.agents[0].agent_number if agents.agents else ""
        self._services = services
        self._send_state("UsersStatuses", translate.users_statuses(statuses))
        self._send_state("UserStatusUpdate", {"status": chosen.status})
        self._send_state("UserConfigUpdate", translate.user_config(self.user, services, self.agent_number))
        code = phone.statuses.get(self.user.line, -2) if self.user.line else -2
        self._send_state("PhoneStatusUpdate", {"status": translate.phone_status_name(code)})

    # --- events (called by the hub) -------------------------------------------------------------
    def on_user_services(self, event: UserServicesChanged) -> None:
        self._services = translate.user_services_of(event)
        self.send("UserConfigUpdate", translate.user_config(self.user, self._services, self.agent_number))

    def on_user_changed(self, event: UserChanged) -> None:
        if event.change == "deleted" or event.disabled:
            log.info("CTI socket closed: its user was %s", "deleted" if event.change == "deleted" else "disabled",
                     extra={"login": self.login})
            self.socket.close(POLICY_VIOLATION, "user deleted or disabled")
        elif event.change == "updated":
            # A new name or mobile shows at once; read in a task (the hub never waits for a socket),
            # the latest change winning over a read still in progress.
            if self._refreshing is not None:
                self._refreshing.cancel()
            self._refreshing = asyncio.create_task(self._refresh_user(), name=f"cti-user-{self.login}")

    async def _refresh_user(self) -> None:
        try:
            self.user = await self.call(self.backends.auth.GetUser, auth_pb2.GetUserRequest(login=self.login))
        except grpc.aio.AioRpcError as error:
            log.warning("CTI user not read again", extra={"login": self.login, "status": error.code().name})
        else:
            if self._services is not None:
                self.send("UserConfigUpdate", translate.user_config(self.user, self._services, self.agent_number))
        finally:
            if self._refreshing is asyncio.current_task():
                self._refreshing = None

    async def close(self) -> None:
        await cancel_and_wait(self._refreshing)

    # --- in -------------------------------------------------------------------------------------
    async def receive(self, text: str | bytes, commands: Mapping[str, CommandEntry]) -> None:
        if text == PING_FRAME:  # every 5 s from every client: answered without a JSON parse
            _PINGS_RECEIVED()
            self.socket.offer(PONG, "Pong")
            return
        try:
            frame = parse(text)
            if isinstance(frame, Ping):
                _PINGS_RECEIVED()
                self.socket.offer(PONG, "Pong")
                return
            entry = commands.get(frame.name)
            CTI_MESSAGES.labels(frame.name if entry else "unknown", "in").inc()
            if entry is None:
                raise Refused("UnknownCommand", f"Unknown command {frame.name!r}", frame.name)
            if not self._rate.allow():
                raise Refused("RateLimited", "Too many commands: slow down", frame.name)
            await self._run(entry, frame)
        except Refused as refusal:
            self.refuse(refusal)

    async def _run(self, entry: CommandEntry, command: Command) -> None:
        try:
            await self._translated(entry.handler, command)
        except Refused as refusal:
            refusal.command = refusal.command or command.name
            refusal.msg_type = entry.error_type
            raise

    async def _translated(self, handler: Handler, command: Command) -> None:
        """The handler, its failures as refusals: a domain error's or a service's reason."""
        try:
            await handler(self, command)
        except DomainError as error:
            raise Refused(error.reason, error.message, command.name) from None
        except grpc.aio.AioRpcError as error:
            if error.code() in _UNREACHABLE:
                raise Refused("Unreachable", "A service is not reachable now; try again", command.name) from None
            reason = reason_of(error) or error.code().name
            if not reason_of(error):
                log.warning("CTI command failed", extra={"command": command.name, "status": error.code().name})
            raise Refused(reason, error.details() or reason, command.name) from None
