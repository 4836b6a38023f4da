"""What a standby telephony instance shows its clients (XUC_TELEPHONY_FAILOVER).

- Health: the gated services (`xuc.telephony.v1.Telephony`) are NOT_SERVING while standing by,
  whatever the server frame sets, so health-checking round-robin clients skip the instance; the
  whole server ("") stays SERVING: the process is up (the launcher's check).
- Calls: every RPC of the gated services but `GetPbxState` is refused UNAVAILABLE `PbxUnreachable`
  ("a standby"), a status clients retry elsewhere. The interceptor goes after the edge's (which
  authenticates, counts, and turns the domain error into the status).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from services.telephony.domain.errors import PbxUnreachable
from xuc.runtime.process import HealthServicer

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


class StandbyHealth(HealthServicer):
    def __init__(self, gated: Collection[str]) -> None:
        super().__init__()
        self._gated = frozenset(gated)
        self._wanted: dict[str, Any] = {}
        self._active = False

    async def set(self, service: str, status: Any) -> None:
        if service in self._gated:
            self._wanted[service] = status
            if not self._active:
                status = NOT_SERVING
        await super().set(service, status)

    async def set_active(self, active: bool) -> None:
        self._active = active
        for service in self._gated:
            wanted = self._wanted.get(service, SERVING)
            await super().set(service, wanted if active else NOT_SERVING)


class StandbyInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, services: Collection[str], is_active: Callable[[], bool], always_open: Collection[str]) -> None:
        self._prefixes = tuple(f"/{service}/" for service in services)
        self._is_active = is_active
        self._always_open = frozenset(always_open)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if (handler is None or handler.unary_unary is None or not method.startswith(self._prefixes)
                or method in self._always_open):
            return handler
        behaviour = handler.unary_unary
        is_active = self._is_active

        async def gated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if not is_active():
                raise PbxUnreachable("This telephony instance is a standby: another one drives the PBX")
            return await behaviour(request, context)

        return handler._replace(unary_unary=gated)
