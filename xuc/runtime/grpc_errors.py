"""Domain errors <-> gRPC status with a google.rpc.ErrorInfo carrying the documented reason."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from xuc.errors import DomainError, ErrorKind

ERROR_DOMAIN = "xuc"

STATUS_OF_KIND: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.NOT_CONFIGURED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}


def status_for(code: grpc.StatusCode, reason: str, message: str) -> grpc.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    status = status_pb2.Status(code=code.value[0], message=message, details=[info])
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


def status_for_error(error: DomainError) -> grpc.Status:
    return status_for(STATUS_OF_KIND[error.kind], error.reason, error.message)


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason a server attached, or "" (e.g. the server was not reached)."""
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        return ""
    if status is None:
        return ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
