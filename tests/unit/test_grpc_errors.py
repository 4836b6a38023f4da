"""Domain errors -> gRPC status with an ErrorInfo reason, and back (xuc/runtime/grpc_errors.py)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from services.auth.domain.errors import InvalidCredentials, InvalidUser, UserAlreadyExists, UserNotFound
from xuc.errors import DomainError, ErrorKind, Forbidden, InvalidToken, MissingCredentials, TokenExpired, Unreachable
from xuc.runtime.grpc_errors import ERROR_DOMAIN, STATUS_OF_KIND, reason_of, status_for, status_for_error

DETAILS_KEY = "grpc-status-details-bin"

ERRORS: list[DomainError] = [
    DomainError(),
    InvalidToken(),
    TokenExpired(),
    MissingCredentials(),
    Forbidden("This call is reserved to services"),
    Unreachable(),
    InvalidCredentials(),
    UserNotFound("No user with login 'bob'"),
    UserAlreadyExists(),
    InvalidUser("password must not be empty"),
]


def rich_status(status: grpc.Status) -> status_pb2.Status:
    values = [value for key, value in status.trailing_metadata if key == DETAILS_KEY]
    assert len(values) == 1
    return status_pb2.Status.FromString(values[0])


def error_info(status: status_pb2.Status) -> error_details_pb2.ErrorInfo:
    [detail] = status.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return info


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_has_a_status(kind: ErrorKind) -> None:
    assert kind in STATUS_OF_KIND
    assert STATUS_OF_KIND[kind] is not grpc.StatusCode.OK


def test_the_statuses_are_the_expected_ones() -> None:
    assert STATUS_OF_KIND[ErrorKind.UNAUTHENTICATED] is grpc.StatusCode.UNAUTHENTICATED
    assert STATUS_OF_KIND[ErrorKind.FORBIDDEN] is grpc.StatusCode.PERMISSION_DENIED
    assert STATUS_OF_KIND[ErrorKind.NOT_FOUND] is grpc.StatusCode.NOT_FOUND
    assert STATUS_OF_KIND[ErrorKind.CONFLICT] is grpc.StatusCode.ALREADY_EXISTS
    assert STATUS_OF_KIND[ErrorKind.INVALID] is grpc.StatusCode.INVALID_ARGUMENT
    assert STATUS_OF_KIND[ErrorKind.UNAVAILABLE] is grpc.StatusCode.UNAVAILABLE
    assert STATUS_OF_KIND[ErrorKind.INTERNAL] is grpc.StatusCode.INTERNAL


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_status_for_error_carries_the_reason(error: DomainError) -> None:
    status = status_for_error(error)
    assert status.code is STATUS_OF_KIND[error.kind]
    assert status.details == error.message
    rich = rich_status(status)
    assert rich.code == status.code.value[0]
    assert rich.message == error.message
    info = error_info(rich)
    assert info.reason == error.reason
    assert info.domain == ERROR_DOMAIN == "xuc"


def test_status_for_takes_any_code_and_reason() -> None:
    status = status_for(grpc.StatusCode.INTERNAL, "NotHandledError", "Internal error")
    assert status.code is grpc.StatusCode.INTERNAL
    assert error_info(rich_status(status)).reason == "NotHandledError"


def rpc_error(status: grpc.Status) -> grpc.aio.AioRpcError:
    """The error a client sees when the server aborted with `status`."""
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_reason_of_reads_the_reason_a_server_attached(error: DomainError) -> None:
    assert reason_of(rpc_error(status_for_error(error))) == error.reason


def test_reason_of_an_error_without_details_is_empty() -> None:
    error = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")
    assert reason_of(error) == ""


def test_reason_of_inconsistent_details_is_empty() -> None:
    status = status_for_error(UserNotFound())
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )
    assert reason_of(error) == ""
