"""The one table from an error's reason to the documented HTTP answer (gateway/errors.py)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import grpc
import pytest

import gateway
import services
import xuc
import xuc.errors
from gateway.errors import (
    TABLE,
    http_answer,
    response_for_domain_error,
    response_for_http_error,
    response_for_reason,
    response_for_rpc_error,
    response_for_unhandled_error,
)
from services.auth.domain.errors import CAS_FAILURES, CasServerRefused
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


# Reasons answered 500 though not internal: the REST page documents them so (README "Where we
# answer differently from the REST page" lists where we do not follow it).
DOCUMENTED_AS_500 = {"JsonParsingError"}
PACKAGES: tuple[ModuleType, ...] = (xuc, services, gateway)
# Errors whose instances carry their reason (one class for a family of documented codes).
REASONS_OF_INSTANCES: dict[type[DomainError], tuple[str, ...]] = {
    CasServerRefused: tuple(CAS_FAILURES.values()),
}


def _subclasses(error: type[DomainError]) -> list[type[DomainError]]:
    return [found for sub in error.__subclasses__() for found in (sub, *_subclasses(sub))]


def all_domain_errors() -> list[type[DomainError]]:
    """Every DomainError subclass of the project, wherever it is defined: every module of the
    packages is imported (importing connects nothing), then the class tree is walked."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith(".__main__"):
                importlib.import_module(module.name)
    ours = tuple(package.__name__ + "." for package in PACKAGES)
    found = {error for error in _subclasses(DomainError) if error.__module__.startswith(ours)}
    return sorted(found, key=lambda error: (error.__module__, error.__name__))


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
        (S.INVALID_ARGUMENT, "JsonParsingError", (500, "JsonParsingError")),  # as the REST page says
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


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    names = {error.__name__ for error in all_domain_errors()}
    # one of each: the shared ones, each service's domain, an adapter's, the gateway's own
    assert {"TokenExpired", "UserNotFound", "ContactNotFound", "AgentNotFound", "JsonParsingError",
            "SsoAuthenticationFailed"} <= names


def test_an_error_both_the_gateway_and_a_service_raise_is_defined_once() -> None:
    assert [error.__module__ for error in all_domain_errors() if error.__name__ == "SsoAuthenticationFailed"] == [
        "xuc.errors"]


@pytest.mark.parametrize("error", all_domain_errors(), ids=lambda error: f"{error.__module__}.{error.__name__}")
def test_every_domain_error_is_a_row_with_a_non_500_answer_unless_internal(error: type[DomainError]) -> None:
    for reason in REASONS_OF_INSTANCES.get(error, (error.reason,)):
        http_status, code = http_answer(STATUS_OF_KIND[error.kind], reason, AUTH)
        if error.kind is ErrorKind.INTERNAL:
            assert http_status == 500
            continue
        assert reason in TABLE, f"{reason}: add it to gateway/errors.py TABLE"
        assert code == ALIASES.get(reason, reason)
        if reason in DOCUMENTED_AS_500:
            assert http_status == 500
        else:
            assert 400 <= http_status < 500 or http_status in (501, 502, 503)  # not configured, upstream, down


def test_a_reason_has_one_kind() -> None:
    # The reason alone decides the answer: two errors sharing a reason must be the same failure.
    kinds: dict[str, set[ErrorKind]] = {}
    for error in all_domain_errors():
        kinds.setdefault(error.reason, set()).add(error.kind)
    assert {reason: found for reason, found in kinds.items() if len(found) > 1} == {}


def test_the_reason_decides_whatever_the_status() -> None:
    assert http_answer(S.INVALID_ARGUMENT, "ContactNotFound", CONTACTS) == (404, "ContactNotFound")
    assert http_answer(S.NOT_FOUND, "NoSuchReason", CONTACTS) == (404, "NotFound")  # unknown: by status


def test_every_row_of_the_table_keeps_its_reason_as_the_code_but_the_listed_aliases() -> None:
    # The reasons are the documented codes: the table only chooses the HTTP status...
    assert {reason: code for reason, (_, code) in TABLE.items() if code != reason} == ALIASES
    # ... and an alias always names a code the table also answers under its own name.
    assert set(ALIASES.values()) <= set(TABLE)


ERROR_BODY = re.compile(r"""["']error["']\s*:.*["']message["']\s*:""")


def test_no_error_body_is_built_outside_the_table() -> None:
    root = Path(gateway.__file__).parent
    building = [str(path.relative_to(root)) for path in root.rglob("*.py")
                if path.name != "errors.py" and ERROR_BODY.search(path.read_text(encoding="utf-8"))]
    assert building == []


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


@pytest.mark.parametrize(("http_status", "path", "expected"), [
    (404, CONTACTS, (404, "NotFound")),
    (405, AUTH, (405, "MethodNotAllowed")),
    (400, CONTACTS, (400, "NotHandledError")),  # a status of the routing without a reason: the section's code
])
def test_the_routings_own_refusals_go_through_the_table(http_status: int, path: str,
                                                        expected: tuple[int, str]) -> None:
    response = response_for_http_error(http_status, "the detail", path)
    assert (response.status_code, json.loads(bytes(response.body))) == (
        expected[0], {"error": expected[1], "message": "the detail"})


def test_the_gateways_own_errors_are_answered_by_their_reason() -> None:
    refused = response_for_reason("CorsNotAllowed", "Disallowed CORS origin")
    assert (refused.status_code, json.loads(bytes(refused.body))) == (
        400, {"error": "CorsNotAllowed", "message": "Disallowed CORS origin"})
    unhandled = response_for_unhandled_error(V1)
    assert (unhandled.status_code, json.loads(bytes(unhandled.body))["error"]) == (500, "NotHandledError")

