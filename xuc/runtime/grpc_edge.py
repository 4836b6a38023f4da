"""The gRPC edge of every service: who is calling, and how errors leave.

Each service declares which caller every RPC accepts (`Access`) in one table; methods absent from
the table are refused (deny by default), except the standard health and reflection services.
The interceptor authenticates the caller from metadata, makes it available to the handler through
`current_caller()`, and turns domain errors into a status with an ErrorInfo reason. An unexpected
exception is logged in one line (its traceback at DEBUG) and answered INTERNAL without internals. It also binds the
caller's request id (`x-request-id` metadata) for the call, and counts and times every call by
method and status code (xuc/runtime/metrics.py): one wrapper per call does all of it.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import grpc

from xuc.errors import DomainError, Forbidden, InvalidToken, MissingCredentials
from xuc.runtime import request_ids
from xuc.runtime.grpc_errors import status_for, status_for_error
from xuc.runtime.metrics import GRPC_SERVER, GrpcMethodMetrics, GrpcServerMetrics
from xuc.security.tokens import Claims, TokenVerifier

log = logging.getLogger(__name__)

SERVICE_TOKEN_METADATA = "x-xuc-service-token"
AUTHORIZATION_METADATA = "authorization"
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class Access(Enum):
    USER = "user"  # a user token in `authorization: Bearer ...`
    SERVICE = "service"  # the service token in `x-xuc-service-token`
    USER_OR_SERVICE = "user_or_service"


@dataclass(frozen=True)
class Caller:
    """Who made the current call: a user (with verified claims) or a trusted service."""

    claims: Claims | None

    @property
    def is_service(self) -> bool:
        return self.claims is None


_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("xuc_caller")


def current_caller() -> Caller:
    return _caller.get()


class Authenticator:
    def __init__(self, service_token: str, verifier: TokenVerifier | None) -> None:
        if not service_token:
            raise ValueError("a service token is required (XUC_SERVICE_TOKEN)")
        self._service_token = service_token.encode()
        self._verifier = verifier

    def authenticate(self, metadata: Mapping[str, str], access: Access) -> Caller:
        """The caller, or UNAUTHENTICATED (no or bad credentials) / PERMISSION_DENIED (wrong kind)."""
        presented_service = metadata.get(SERVICE_TOKEN_METADATA)
        authorization = metadata.get(AUTHORIZATION_METADATA)
        if presented_service is not None:
            if not hmac.compare_digest(presented_service.encode(), self._service_token):
                raise InvalidToken("The service token is not valid")
            caller = Caller(claims=None)
        elif authorization is not None:
            if self._verifier is None:
                raise Forbidden("This service takes no calls on behalf of users")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise MissingCredentials("Expected 'authorization: Bearer <token>'")
            caller = Caller(claims=self._verifier.verify(token.strip()))
        else:
            raise MissingCredentials("This call needs credentials in its metadata")
        if access is Access.SERVICE and not caller.is_service:
            raise Forbidden("This call is reserved to services")
        if access is Access.USER and caller.is_service:
            raise Forbidden("This call is made on behalf of a user, with the user's token")
        return caller


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


class EdgeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, policy: Mapping[str, Access], authenticator: Authenticator,
                 metrics: GrpcServerMetrics = GRPC_SERVER) -> None:
        self._policy = dict(policy)
        self._authenticator = authenticator
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        call = _Call(method, self._policy.get(method),
                     {key: value for key, value in (details.invocation_metadata or ()) if isinstance(value, str)},
                     self._metrics.method(method))
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._guarded(call, handler.unary_unary))
        if handler.stream_unary is not None:  # the request is an async iterator: same shape
            return handler._replace(stream_unary=self._guarded(call, handler.stream_unary))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=self._guarded_stream(call, handler.unary_stream))
        return handler._replace(stream_stream=self._guarded_stream(call, handler.stream_stream))

    def _begin(self, call: _Call) -> None:
        """In the call's own context: its request id, then its caller (or a refusal)."""
        request_id = request_ids.accept(call.metadata.get(request_ids.GRPC_METADATA))
        if request_id is not None:
            request_ids.bind(request_id)
        if call.access is None:
            raise Forbidden(f"{call.method} is not open to any caller")
        _caller.set(self._authenticator.authenticate(call.metadata, call.access))

    def _guarded(self, call: _Call, behaviour: Handler) -> Handler:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.CANCELLED  # unless the call ends otherwise
            try:
                try:
                    self._begin(call)
                    reply = await behaviour(request, context)
                    code = context.code() or grpc.StatusCode.OK
                    return reply
                except grpc.aio.AbortError:  # already a status, set by the servicer itself
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception as error:  # the edge answers every failure with a status
                    status = _status_of(call.method, error)
                    code = status.code
                await context.abort(status.code, status.details, status.trailing_metadata)
            finally:
                call.finished(code, started)

        return guarded

    def _guarded_stream(self, call: _Call, behaviour: StreamHandler) -> StreamHandler:
        """The same for RPCs that answer a stream: the servicer method is an async generator."""

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            code = grpc.StatusCode.CANCELLED
            try:
                try:
                    self._begin(call)
                    async for item in behaviour(request, context):
                        yield item
                    code = context.code() or grpc.StatusCode.OK
                    return
                except grpc.aio.AbortError:  # already a status, set by the servicer itself
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception as error:  # the edge answers every failure with a status
                    status = _status_of(call.method, error)
                    code = status.code
                await context.abort(status.code, status.details, status.trailing_metadata)
            finally:
                call.finished(code, started)

        return guarded


class _Call:
    """What the edge knows of one call before its handler runs (one per call: slots, no dataclass)."""

    __slots__ = ("access", "metadata", "method", "metrics")

    def __init__(self, method: str, access: Access | None, metadata: Mapping[str, str],
                 metrics: GrpcMethodMetrics) -> None:
        self.method = method
        self.access = access
        self.metadata = metadata
        self.metrics = metrics

    def finished(self, code: grpc.StatusCode, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.record(code, seconds)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("rpc handled", extra={"rpc": self.method, "code": code.name,
                                            "duration_ms": round(seconds * 1000, 3)})


def _status_of(method: str, error: Exception) -> grpc.Status:
    if isinstance(error, DomainError):
        return status_for_error(error)
    # One line per failing call (the request id is added by the log filter); the traceback at DEBUG.
    log.error("unhandled error", extra={"rpc": method, "error": type(error).__name__})
    log.debug("unhandled error: traceback", exc_info=error)
    return status_for(grpc.StatusCode.INTERNAL, "NotHandledError", "Internal error")
