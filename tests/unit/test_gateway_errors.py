"""The one table from (gRPC status, reason) to the documented HTTP answer (gateway/errors.py)."""

from __future__ import annotations

import json

import grpc
import pytest

import gateway.requests
import services.auth.domain.errors
import services.contacts.domain.errors
import services.telephony.domain.errors
import xuc.errors
from gateway.errors import TABLE, http_answer, response_for_domain_error, response_for_rpc_error
from xuc.errors import DomainError, ErrorKind
from xuc.runtime.grpc_errors import STATUS_OF_KIND

AUTH = "/xuc/api/2.0/auth/login"
CONTACTS = "/xuc/api/2.0/contact/personal"
QUALIFICATIONS = "/xuc/api/2.0/call_qualification"
V1 = "/xuc/api/1.0/dial/avencall.com/alice/"
PUSH = "/xuc/api/2.0/config/mobile/push/register/android"
DEPRECATED_PUSH = "/xuc/api/2.0/mobile/push/register"
S = grpc.StatusCode

# Rows whose code is not their reason: the service says more precisely what is wrong than the
# documentation's codes do; clients get the documented code (the message keeps the detail).
ALIASES = {
    "UnknownSubQualification": "JsonErrorDecoding",
    "InvalidQualificationAnswer": "JsonErrorDecoding",
    "UnknownQueue": "JsonErrorDecoding",
    "NotYourAgent": "JsonErrorDecoding",
    "PbxUnreachable": "Unreachable",
}


def all_domain_errors() -> list[type[DomainError]]:
    modules = (xuc.errors, services.auth.domain.errors, services.contacts.domain.errors,
               services.telephony.domain.errors, gateway.requests)
    return [value for module in modules for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, DomainError) and value is not DomainError]


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (S.UNAUTHENTICATED, "InvalidCredentials", (401, "InvalidCredentials")),
        (S.UNAUTHENTICATED, "InvalidToken", (401, "InvalidToken")),
        (S.UNAUTHENTICATED, "TokenExpired", (401, "TokenExpired")),
        (S.UNAUTHENTICATED, "AuthorizationHeaderNotFound", (401, "AuthorizationHeaderNotFound")),
        (S.UNAUTHENTICATED, "BearerNotFound", (401, "BearerNotFound")),
        (S.INVALID_ARGUMENT, "InvalidJson", (400, "InvalidJson")),
        (S.INVALID_ARGUMENT, "PayloadTooLarge", (413, "PayloadTooLarge")),
        (S.UNAVAILABLE, "", (503, "Unreachable")),
        (S.DEADLINE_EXCEEDED, "", (503, "Unreachable")),
        (S.INTERNAL, "NotHandledError", (500, "UnhandledError")),
        (S.UNKNOWN, "", (500, "UnhandledError")),
    ],
)
def test_documented_auth_answers(status: grpc.StatusCode, reason: str, expected: tuple[int, str]) -> None:
    assert http_answer(status, reason, AUTH) == expected


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (S.INVALID_ARGUMENT, "InvalidContact", (400, "InvalidContact")),
        (S.NOT_FOUND, "ContactNotFound", (404, "ContactNotFound")),
        (S.ALREADY_EXISTS, "DuplicateContact", (409, "DuplicateContact")),
        (S.INVALID_ARGUMENT, "JsonParsingError", (400, "JsonParsingError")),
        (S.INVALID_ARGUMENT, "PayloadTooLarge", (413, "PayloadTooLarge")),
        (S.UNAUTHENTICATED, "TokenExpired", (401, "TokenExpired")),
        (S.UNAVAILABLE, "", (503, "Unreachable")),
        (S.DEADLINE_EXCEEDED, "", (503, "Unreachable")),
        (S.INTERNAL, "", (500, "NotHandledError")),
        (S.UNKNOWN, "", (500, "NotHandledError")),
    ],
)
def test_documented_contacts_answers(status: grpc.StatusCode, reason: str, expected: tuple[int, str]) -> None:
    assert http_answer(status, reason, CONTACTS) == expected


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (S.INVALID_ARGUMENT, "JsonBodyNotFound", (400, "JsonBodyNotFound")),
        (S.INVALID_ARGUMENT, "JsonErrorDecoding", (400, "JsonErrorDecoding")),
        (S.INVALID_ARGUMENT, "UnknownSubQualification", (400, "JsonErrorDecoding")),
        (S.INVALID_ARGUMENT, "InvalidQualificationAnswer", (400, "JsonErrorDecoding")),
        (S.INVALID_ARGUMENT, "InvalidDate", (400, "InvalidDate")),
        (S.UNAVAILABLE, "", (503, "Unreachable")),
        (S.INTERNAL, "", (500, "NotHandledError")),
    ],
)
def test_documented_qualifications_answers(status: grpc.StatusCode, reason: str, expected: tuple[int, str]) -> None:
    assert http_answer(status, reason, QUALIFICATIONS) == expected


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (S.NOT_FOUND, "UserNotFound", (404, "UserNotFound")),
        (S.NOT_FOUND, "AgentNotFound", (404, "AgentNotFound")),
        (S.NOT_FOUND, "QueueNotFound", (404, "QueueNotFound")),
        (S.NOT_FOUND, "CallNotFound", (404, "CallNotFound")),
        (S.INVALID_ARGUMENT, "InvalidNumber", (400, "InvalidNumber")),
        (S.INVALID_ARGUMENT, "InvalidRequest", (400, "InvalidRequest")),
        (S.INVALID_ARGUMENT, "InvalidQueues", (400, "InvalidQueues")),
        (S.INVALID_ARGUMENT, "JsonBodyNotFound", (400, "JsonBodyNotFound")),
        (S.INVALID_ARGUMENT, "JsonErrorDecoding", (400, "JsonErrorDecoding")),
        (S.UNAVAILABLE, "PbxUnreachable", (503, "Unreachable")),
        (S.INVALID_ARGUMENT, "PbxRefused", (400, "PbxRefused")),
        (S.UNAVAILABLE, "Unreachable", (503, "Unreachable")),
        (S.UNAVAILABLE, "", (503, "Unreachable")),
        (S.PERMISSION_DENIED, "Forbidden", (403, "Forbidden")),
        (S.INTERNAL, "", (500, "NotHandledError")),
        (S.UNKNOWN, "", (500, "NotHandledError")),
    ],
)
@pytest.mark.parametrize("path", [V1, PUSH, DEPRECATED_PUSH])
def test_documented_telephony_answers(status: grpc.StatusCode, reason: str, expected: tuple[int, str],
                                      path: str) -> None:
    assert http_answer(status, reason, path) == expected


def test_an_unreachable_pbx_is_told_as_a_safe_message() -> None:
    response = response_for_rpc_error(S.UNAVAILABLE, "PbxUnreachable", "AMI 10.0.0.1:5038: connection refused", V1)
    body = json.loads(bytes(response.body))
    assert response.status_code == 503
    assert body["error"] == "Unreachable"
    assert "10.0.0.1" not in body["message"]


def test_the_unhandled_code_follows_the_section_of_the_api() -> None:
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/auth/check") == (500, "UnhandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/contact/personal") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/contact/import/personal") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/call_qualification/queue/1") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/api/2.0/call_qualification/csv/1/a/b") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/1.0/handshake//") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/config/mobile/push/register/ios") == (500, "NotHandledError")
    assert http_answer(S.INTERNAL, "", "/xuc/api/2.0/mobile/push/register") == (500, "NotHandledError")


@pytest.mark.parametrize("error", all_domain_errors(), ids=lambda error: error.__name__)
def test_every_domain_error_has_a_non_500_answer_unless_internal(error: type[DomainError]) -> None:
    http_status, code = http_answer(STATUS_OF_KIND[error.kind], error.reason, AUTH)
    if error.kind is ErrorKind.INTERNAL:
        assert http_status == 500
    else:
        assert 400 <= http_status < 500 or http_status in (501, 502, 503)  # not configured, upstream, down
        in_table = (STATUS_OF_KIND[error.kind], error.reason) in TABLE
        assert code == ALIASES.get(error.reason, error.reason) or not in_table


def test_every_row_of_the_table_keeps_its_reason_as_the_code_but_the_listed_aliases() -> None:
    # The reasons are the documented codes: the table only chooses the HTTP status...
    assert {reason: code for (_, reason), (_, code) in TABLE.items() if code != reason} == ALIASES
    # ... and an alias always names a code the table also answers under its own name.
    assert set(ALIASES.values()) <= {reason for _, reason in TABLE}


def test_a_domain_error_becomes_the_documented_body() -> None:
    response = response_for_domain_error(xuc.errors.TokenExpired(), AUTH)
    assert response.status_code == 401
    assert json.loads(bytes(response.body)) == {"error": "TokenExpired", "message": "The token has expired"}


def test_a_server_error_never_carries_the_services_details() -> None:
    response = response_for_rpc_error(S.INTERNAL, "", "Traceback (most recent call last): secret", AUTH)
    body = json.loads(bytes(response.body))
    assert response.status_code == 500
    assert body["error"] == "UnhandledError"
    assert "secret" not in body["message"]
    assert isinstance(body["message"], str)
    assert body["message"]
