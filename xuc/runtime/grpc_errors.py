"""Domain errors <-> gRPC status with a google.rpc.ErrorInfo carrying the documented reason, and a
google.rpc.BadRequest listing the fields at fault when the error names them."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from xuc.errors import DomainError, ErrorKind, FieldViolation

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


def status_for(code: grpc.StatusCode, reason: str, message: str,
               violations: Sequence[FieldViolation] = ()) -> grpc.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    details = [info]
    if violations:  # which fields of the request are wrong, each with its path (AIP-193)
        bad_request = any_pb2.Any()
        bad_request.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=violation.field, description=violation.message)
            for violation in violations]))
        details.append(bad_request)
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


def status_for_error(error: DomainError) -> grpc.Status:
    return status_for(STATUS_OF_KIND[error.kind], error.reason, error.message, error.violations)


def _details(error: grpc.aio.AioRpcError) -> Sequence[any_pb2.Any]:
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        return ()
    return () if status is None else status.details


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason a server attached, or "" (e.g. the server was not reached)."""
    for detail in _details(error):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


def field_violations_of(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """(field path, description) of each google.rpc.BadRequest field violation a server attached."""
    found: list[tuple[str, str]] = []
    for detail in _details(error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found += [(str(violation.field), str(violation.description))
                      for violation in bad_request.field_violations]
    return found
