"""`GET /xuc/api/2.0/cti?token=...`: the WebSocket every xuc browser client lives on.

The upgrade is accepted, then the token is verified as on any REST route. A token that does not
verify (forged, expired, revoked) or a user who is gone or disabled: `LoggedOnError`
`loggedOnFailed`, then close 1008. Otherwise `LoggedOn`, then the user's state, unasked, then
events and the answers to commands until either side closes. The token is never logged (the
gateway writes no access log line with the query string; see docs/cti.md, "Security").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.cti.commands import COMMANDS
from gateway.cti.connection import POLICY_VIOLATION, CtiSocket, RateLimit
from gateway.cti.envelope import Refused, encode
from gateway.cti.hub import EventHub
from gateway.cti.session import RPC_TIMEOUT_SECONDS, Backends, Session
from xuc.errors import DomainError
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.metrics import CTI_ERRORS, CTI_SOCKETS
from xucproto.auth.v1 import auth_pb2

log = logging.getLogger(__name__)

PATH = "/xuc/api/2.0/cti"
LOGON_FAILED = encode("LoggedOnError", {"Error": "loggedOnFailed"})


@dataclass(frozen=True)
class CtiLimits:
    send_queue: int = 1000  # frames waiting for a client that does not read; then 1013 (XUC_CTI_SEND_QUEUE)
    max_frame_bytes: int = 64 * 1024  # a bigger frame closes the socket with 1009 (XUC_CTI_MAX_FRAME_BYTES)
    commands_per_second: float = 20.0  # per socket, on average (XUC_CTI_COMMANDS_PER_SECOND)
    command_burst: int = 40


class CtiEndpoint:
    def __init__(self, hub: EventHub, keys: PublicKeyCache, backends: Backends, limits: CtiLimits) -> None:
        self._hub = hub
        self._keys = keys
        self._backends = backends
        self._limits = limits

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        user = await self._logged_on_user(websocket.query_params.get("token", ""))
        if user is None:
            CTI_ERRORS.labels("loggedOnFailed").inc()
            await websocket.send_text(LOGON_FAILED)
            await websocket.close(POLICY_VIOLATION, "logon failed")
            return
        socket = CtiSocket(websocket, user.login, self._limits.send_queue)
        session = Session(socket, user, self._hub, self._backends,
                          RateLimit(self._limits.commands_per_second, self._limits.command_burst))
        socket.start()
        socket.offer(encode("LoggedOn", {}), "LoggedOn")
        socket.hold()  # events from now on follow the state read below
        self._hub.join(session)
        CTI_SOCKETS.inc()
        log.info("CTI socket logged on", extra={"login": user.login})
        try:
            await self._send_initial_state(session)
            socket.release()
            # Read in this task: a socket costs the writer task and nothing more. When the socket
            # closes itself (slow client, user deleted), the close makes `receive` return.
            await self._read(websocket, session)
        finally:
            self._hub.leave(session)
            await session.close()
            CTI_SOCKETS.dec()
            socket.close(socket.close_code or 1000, "")
            await socket.wait_closed()
            log.info("CTI socket closed", extra={"login": user.login, "code": socket.close_code})

    async def _logged_on_user(self, token: str) -> auth_pb2.User | None:
        if not token:
            return None
        try:
            claims = await self._keys.verify(token)
            user: auth_pb2.User = await self._backends.auth.GetUser(
                auth_pb2.GetUserRequest(login=claims.login), metadata=self._backends.metadata,
                timeout=RPC_TIMEOUT_SECONDS)
        except DomainError as error:
            log.info("CTI logon refused", extra={"reason": error.reason})
            return None
        except grpc.aio.AioRpcError as error:
            log.info("CTI logon refused", extra={"status": error.code().name})
            return None
        return None if user.disabled else user

    @staticmethod
    async def _send_initial_state(session: Session) -> None:
        try:
            await session.send_initial_state()
        except grpc.aio.AioRpcError as error:
            # The socket stays: the client may still use what works (e.g. telephony restarting).
            log.warning("CTI state at logon incomplete", extra={"login": session.login, "status": error.code().name})
            session.refuse(Refused("Unreachable", "The user's state could not be read; try again later"))
        except Refused as refusal:
            session.refuse(refusal)

    async def _read(self, websocket: WebSocket, session: Session) -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    session.socket.close_code = message.get("code", 1000)
                    return
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                if len(data) > self._limits.max_frame_bytes:  # the server's own limit closes before this
                    session.refuse(Refused("FrameTooLarge", f"Frames are limited to {self._limits.max_frame_bytes} "
                                                            "bytes"))
                    continue
                await session.receive(data, COMMANDS)
        except WebSocketDisconnect:
            return
