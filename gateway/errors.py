"""The one table from errors to documented HTTP answers `{"error": <code>, "message": <text>}`.

Errors reach the gateway two ways: from a service, as a gRPC status with an ErrorInfo reason, and
locally (token verification, request parsing) as domain errors, which go through the same table
after their kind is turned into the status a service would have sent.
"""

from __future__ import annotations

import grpc
from starlette.responses import JSONResponse

from xuc.errors import DomainError
from xuc.runtime.grpc_errors import STATUS_OF_KIND

S = grpc.StatusCode

# (gRPC status, reason) -> (HTTP status, documented error code)
TABLE: dict[tuple[grpc.StatusCode, str], tuple[int, str]] = {
    # auth (login, check)
    (S.UNAUTHENTICATED, "InvalidCredentials"): (401, "InvalidCredentials"),
    (S.UNAUTHENTICATED, "InvalidToken"): (401, "InvalidToken"),
    (S.UNAUTHENTICATED, "TokenExpired"): (401, "TokenExpired"),
    (S.UNAUTHENTICATED, "AuthorizationHeaderNotFound"): (401, "AuthorizationHeaderNotFound"),
    (S.UNAUTHENTICATED, "BearerNotFound"): (401, "BearerNotFound"),
    (S.INVALID_ARGUMENT, "InvalidJson"): (400, "InvalidJson"),
    (S.RESOURCE_EXHAUSTED, "TooManyAttempts"): (429, "TooManyAttempts"),
    # single sign-on (the codes of the three SSO sections; statuses where the documentation is silent)
    (S.UNAUTHENTICATED, "SsoAuthenticationFailed"): (401, "SsoAuthenticationFailed"),
    (S.FAILED_PRECONDITION, "CasServerUrlNotSet"): (501, "CasServerUrlNotSet"),
    (S.INVALID_ARGUMENT, "CasServerInvalidParameter"): (400, "CasServerInvalidParameter"),
    (S.UNAVAILABLE, "CasServerInvalidResponse"): (502, "CasServerInvalidResponse"),
    (S.UNAUTHENTICATED, "CasServerInvalidRequest"): (400, "CasServerInvalidRequest"),
    (S.UNAUTHENTICATED, "CasServerInvalidTicketSpec"): (400, "CasServerInvalidTicketSpec"),
    (S.UNAUTHENTICATED, "CasServerUnauthorizedServiceProxy"): (401, "CasServerUnauthorizedServiceProxy"),
    (S.UNAUTHENTICATED, "CasServerInvalidProxyCallback"): (401, "CasServerInvalidProxyCallback"),
    (S.UNAUTHENTICATED, "CasServerInvalidTicket"): (401, "CasServerInvalidTicket"),
    (S.UNAUTHENTICATED, "CasServerInvalidService"): (401, "CasServerInvalidService"),
    (S.UNAUTHENTICATED, "CasServerInternalError"): (502, "CasServerInternalError"),
    (S.FAILED_PRECONDITION, "OidcNotEnabled"): (501, "OidcNotEnabled"),
    (S.INVALID_ARGUMENT, "OidcInvalidParameter"): (400, "OidcInvalidParameter"),
    (S.UNAUTHENTICATED, "OidcAuthenticationFailed"): (401, "OidcAuthenticationFailed"),
    # user administration (gRPC only today; listed so the gateway answers them well later)
    (S.NOT_FOUND, "UserNotFound"): (404, "UserNotFound"),
    (S.ALREADY_EXISTS, "UserAlreadyExists"): (409, "UserAlreadyExists"),
    (S.INVALID_ARGUMENT, "InvalidUser"): (400, "InvalidUser"),
    # personal contacts
    (S.INVALID_ARGUMENT, "InvalidContact"): (400, "InvalidContact"),
    (S.NOT_FOUND, "ContactNotFound"): (404, "ContactNotFound"),
    (S.ALREADY_EXISTS, "DuplicateContact"): (409, "DuplicateContact"),
    # an Idempotency-Key that is not 1-128 printable ASCII characters; one already used for a
    # creation with other fields (422, as the IETF Idempotency-Key draft answers it)
    (S.INVALID_ARGUMENT, "InvalidIdempotencyKey"): (400, "InvalidIdempotencyKey"),
    (S.ALREADY_EXISTS, "IdempotencyKeyReused"): (422, "IdempotencyKeyReused"),
    # documented as a 500; answered 400, since a body that is not JSON is the client's doing
    (S.INVALID_ARGUMENT, "JsonParsingError"): (400, "JsonParsingError"),
    # qualifications; the documentation knows only two 400 codes, so the service's more precise
    # reasons about an answer are told to clients as the documented JsonErrorDecoding (the message
    # keeps the detail)
    (S.INVALID_ARGUMENT, "JsonBodyNotFound"): (400, "JsonBodyNotFound"),
    (S.INVALID_ARGUMENT, "JsonErrorDecoding"): (400, "JsonErrorDecoding"),
    (S.INVALID_ARGUMENT, "UnknownSubQualification"): (400, "JsonErrorDecoding"),
    (S.INVALID_ARGUMENT, "InvalidQualificationAnswer"): (400, "JsonErrorDecoding"),
    (S.INVALID_ARGUMENT, "UnknownQueue"): (400, "JsonErrorDecoding"),
    (S.INVALID_ARGUMENT, "NotYourAgent"): (400, "JsonErrorDecoding"),
    # no telephony service configured: answers cannot be checked, so none is recorded
    (S.FAILED_PRECONDITION, "TelephonyNotConfigured"): (501, "TelephonyNotConfigured"),
    (S.INVALID_ARGUMENT, "InvalidDate"): (400, "InvalidDate"),
    # telephony (the 1.0 API, mobile push registration); a missing push token is JsonBodyNotFound
    (S.NOT_FOUND, "AgentNotFound"): (404, "AgentNotFound"),
    (S.NOT_FOUND, "QueueNotFound"): (404, "QueueNotFound"),
    (S.NOT_FOUND, "CallNotFound"): (404, "CallNotFound"),
    (S.INVALID_ARGUMENT, "InvalidNumber"): (400, "InvalidNumber"),
    (S.INVALID_ARGUMENT, "InvalidRequest"): (400, "InvalidRequest"),
    (S.INVALID_ARGUMENT, "InvalidQueues"): (400, "InvalidQueues"),
    # a PBX that is down is, to clients, one more dependency that cannot be reached
    (S.UNAVAILABLE, "PbxUnreachable"): (503, "Unreachable"),
    (S.INVALID_ARGUMENT, "PbxRefused"): (400, "PbxRefused"),
    (S.UNAVAILABLE, "Unreachable"): (503, "Unreachable"),
    # edge-only answers
    (S.INVALID_ARGUMENT, "PayloadTooLarge"): (413, "PayloadTooLarge"),
    (S.INVALID_ARGUMENT, "RequestTimeout"): (408, "RequestTimeout"),
    (S.INVALID_ARGUMENT, "RequestHeaderFieldsTooLarge"): (431, "RequestHeaderFieldsTooLarge"),
    # a state-changing request from a web page of another origin (cross-site request forgery)
    (S.PERMISSION_DENIED, "OriginNotAllowed"): (403, "OriginNotAllowed"),
}

# When no (status, reason) row matches: by status alone.
BY_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    S.UNAUTHENTICATED: (401, "InvalidToken"),
    S.PERMISSION_DENIED: (403, "Forbidden"),
    S.NOT_FOUND: (404, "NotFound"),
    S.INVALID_ARGUMENT: (400, "InvalidRequest"),
    S.ALREADY_EXISTS: (409, "Conflict"),
    S.UNAVAILABLE: (503, "Unreachable"),
    S.DEADLINE_EXCEEDED: (503, "Unreachable"),
    S.RESOURCE_EXHAUSTED: (429, "TooManyRequests"),
    S.FAILED_PRECONDITION: (501, "NotConfigured"),
}

# The documented code for "anything else" differs by section of the REST API.
UNHANDLED_CODE_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/xuc/api/2.0/auth/", "UnhandledError"),
    ("/xuc/api/2.0/contact/", "NotHandledError"),
    ("/xuc/api/2.0/call_qualification", "NotHandledError"),
    ("/xuc/api/api/2.0/call_qualification", "NotHandledError"),  # the documented (typo) export path
    ("/xuc/api/1.0/", "NotHandledError"),
    ("/xuc/api/2.0/config/mobile/", "NotHandledError"),
    ("/xuc/api/2.0/mobile/", "NotHandledError"),
)
DEFAULT_UNHANDLED_CODE = "UnhandledError"

MESSAGES: dict[str, str] = {
    "Unreachable": "A service needed to answer is not reachable, try again later",
}


def unhandled_code(path: str) -> str:
    return next((code for prefix, code in UNHANDLED_CODE_BY_PREFIX if path.startswith(prefix)),
                DEFAULT_UNHANDLED_CODE)


def http_answer(status: grpc.StatusCode, reason: str, path: str) -> tuple[int, str]:
    found = TABLE.get((status, reason)) or BY_STATUS.get(status)
    return found if found is not None else (500, unhandled_code(path))


def error_response(http_status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=http_status)


def response_for_domain_error(error: DomainError, path: str) -> JSONResponse:
    http_status, code = http_answer(STATUS_OF_KIND[error.kind], error.reason, path)
    return error_response(http_status, code, error.message)


def response_for_rpc_error(status: grpc.StatusCode, reason: str, details: str, path: str) -> JSONResponse:
    http_status, code = http_answer(status, reason, path)
    if http_status >= 500:
        # Internals stay in the logs; the client gets a message that is safe to show.
        details = MESSAGES.get(code, "The request could not be handled")
    return error_response(http_status, code, details or code)
