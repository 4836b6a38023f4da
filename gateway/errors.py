"""The one table from errors to documented HTTP answers `{"error": <code>, "message": <text>}`.

Errors reach the gateway two ways: from a service, as a gRPC status with an ErrorInfo reason, and
locally (token verification, request parsing) as domain errors. Both are answered by their reason
(the documented code): the table decides the HTTP status and the code told to clients. Every error
body the gateway sends is built here; the places that find an error pass its reason.
"""

from __future__ import annotations

import grpc
from starlette.responses import JSONResponse

from xuc.errors import DomainError
from xuc.runtime.grpc_errors import STATUS_OF_KIND

S = grpc.StatusCode

# reason -> (HTTP status, documented error code). The reason alone decides: a service sends it
# (ErrorInfo) with the gRPC status of its kind, which matters only when the reason is not here.
TABLE: dict[str, tuple[int, str]] = {
    # auth (login, check)
    "InvalidCredentials": (401, "InvalidCredentials"),
    "InvalidToken": (401, "InvalidToken"),
    "TokenExpired": (401, "TokenExpired"),
    "AuthorizationHeaderNotFound": (401, "AuthorizationHeaderNotFound"),
    "BearerNotFound": (401, "BearerNotFound"),
    "InvalidJson": (400, "InvalidJson"),
    "TooManyAttempts": (429, "TooManyAttempts"),
    # single sign-on (the codes of the three SSO sections; statuses where the documentation is silent)
    "SsoAuthenticationFailed": (401, "SsoAuthenticationFailed"),
    "CasServerUrlNotSet": (501, "CasServerUrlNotSet"),
    "CasServerInvalidParameter": (400, "CasServerInvalidParameter"),
    "CasServerInvalidResponse": (502, "CasServerInvalidResponse"),
    "CasServerInvalidRequest": (400, "CasServerInvalidRequest"),
    "CasServerInvalidTicketSpec": (400, "CasServerInvalidTicketSpec"),
    "CasServerUnauthorizedServiceProxy": (401, "CasServerUnauthorizedServiceProxy"),
    "CasServerInvalidProxyCallback": (401, "CasServerInvalidProxyCallback"),
    "CasServerInvalidTicket": (401, "CasServerInvalidTicket"),
    "CasServerInvalidService": (401, "CasServerInvalidService"),
    "CasServerInternalError": (502, "CasServerInternalError"),
    "OidcNotEnabled": (501, "OidcNotEnabled"),
    "OidcInvalidParameter": (400, "OidcInvalidParameter"),
    "OidcAuthenticationFailed": (401, "OidcAuthenticationFailed"),
    # user administration (gRPC only today; listed so the gateway answers them well later)
    "UserNotFound": (404, "UserNotFound"),
    "UserAlreadyExists": (409, "UserAlreadyExists"),
    "InvalidUser": (400, "InvalidUser"),
    "InvalidQualification": (400, "InvalidQualification"),  # PutQualifications (provisioning)
    "SigningKeyFileInUse": (501, "SigningKeyFileInUse"),  # `xuc keys` while XUC_SIGNING_KEY_FILE names the key
    # personal contacts
    "InvalidContact": (400, "InvalidContact"),
    "ContactNotFound": (404, "ContactNotFound"),
    "DuplicateContact": (409, "DuplicateContact"),
    # the directory and favorites (gRPC only today: the CTI channel tells them in an Error message)
    "InvalidDirectorySearch": (400, "InvalidDirectorySearch"),
    "InvalidFavorite": (400, "InvalidFavorite"),
    # an Idempotency-Key that is not 1-128 printable ASCII characters; one already used for a
    # creation with other fields (422, as the IETF Idempotency-Key draft answers it)
    "InvalidIdempotencyKey": (400, "InvalidIdempotencyKey"),
    "IdempotencyKeyReused": (422, "IdempotencyKeyReused"),
    # a 500 as the REST page documents it (existing clients were written against it), though the
    # body that is not JSON is the client's doing
    "JsonParsingError": (500, "JsonParsingError"),
    # qualifications; the documentation knows only two 400 codes, so the service's more precise
    # reasons about an answer are told to clients as the documented JsonErrorDecoding (the message
    # keeps the detail)
    "JsonBodyNotFound": (400, "JsonBodyNotFound"),
    "JsonErrorDecoding": (400, "JsonErrorDecoding"),
    "UnknownSubQualification": (400, "JsonErrorDecoding"),
    "InvalidQualificationAnswer": (400, "JsonErrorDecoding"),
    "UnknownQueue": (400, "JsonErrorDecoding"),
    "NotYourAgent": (400, "JsonErrorDecoding"),
    # no telephony service configured: answers cannot be checked, so none is recorded
    "TelephonyNotConfigured": (501, "TelephonyNotConfigured"),
    "InvalidDate": (400, "InvalidDate"),
    # telephony (the 1.0 API, mobile push registration); a missing push token is JsonBodyNotFound
    "AgentNotFound": (404, "AgentNotFound"),
    "QueueNotFound": (404, "QueueNotFound"),
    "CallNotFound": (404, "CallNotFound"),
    "InvalidNumber": (400, "InvalidNumber"),
    "InvalidRequest": (400, "InvalidRequest"),
    "InvalidQueues": (400, "InvalidQueues"),
    # presence (the CTI channel's userStatusUpdate; PutUserStatuses of provisioning)
    "UnknownUserStatus": (400, "UnknownUserStatus"),
    "InvalidUserStatuses": (400, "InvalidUserStatuses"),
    # a PBX that is down is, to clients, one more dependency that cannot be reached
    "PbxUnreachable": (503, "Unreachable"),
    "PbxRefused": (400, "PbxRefused"),
    # call control: no call to act on; a call in the wrong state; what the PBX cannot do (AMI answer/hold)
    "NoCurrentCall": (404, "NoCurrentCall"),
    "CallStateConflict": (409, "CallStateConflict"),
    "NotSupportedByPbx": (501, "NotSupportedByPbx"),
    "TransferNotFound": (404, "TransferNotFound"),
    # call data (setData, dialFromMobile's variables) that break a rule; dial from a user without mobile
    "InvalidCallData": (400, "InvalidCallData"),
    "NoMobileNumber": (404, "NoMobileNumber"),
    "Unreachable": (503, "Unreachable"),
    # edge-only answers
    "PayloadTooLarge": (413, "PayloadTooLarge"),
    "RequestTimeout": (408, "RequestTimeout"),
    "RequestHeaderFieldsTooLarge": (431, "RequestHeaderFieldsTooLarge"),
    # a state-changing request from a web page of another origin (cross-site request forgery)
    "OriginNotAllowed": (403, "OriginNotAllowed"),
    # a CORS preflight refused (an origin, method or header not allowed)
    "CorsNotAllowed": (400, "CorsNotAllowed"),
    # the routing's own answers: no such route, or not with this method
    "NotFound": (404, "NotFound"),
    "MethodNotAllowed": (405, "MethodNotAllowed"),
    # a caller asking for what is not theirs (another user's agents)
    "Forbidden": (403, "Forbidden"),
}
# The reasons of the routing's HTTP errors (Starlette's HTTPException carries a status only).
REASON_OF_HTTP_STATUS: dict[int, str] = {404: "NotFound", 405: "MethodNotAllowed"}

# When the reason has no row (a reason this gateway does not know yet, or none): by status alone.
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
    found = TABLE.get(reason) or BY_STATUS.get(status)
    return found if found is not None else (500, unhandled_code(path))


def _error_response(http_status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=http_status)


def response_for_domain_error(error: DomainError, path: str) -> JSONResponse:
    http_status, code = http_answer(STATUS_OF_KIND[error.kind], error.reason, path)
    return _error_response(http_status, code, error.message)


def response_for_reason(reason: str, message: str) -> JSONResponse:
    """The answer to an error the gateway itself finds, by its reason (a row of TABLE)."""
    http_status, code = TABLE[reason]
    return _error_response(http_status, code, message)


def response_for_http_error(http_status: int, message: str, path: str) -> JSONResponse:
    """The answer to the routing's own refusals (no route 404, wrong method 405)."""
    reason = REASON_OF_HTTP_STATUS.get(http_status)
    if reason is None:
        return _error_response(http_status, unhandled_code(path), message)
    return response_for_reason(reason, message)


def response_for_unhandled_error(path: str) -> JSONResponse:
    """A 500 in the documented code of the path's section, saying nothing of the cause."""
    return _error_response(500, unhandled_code(path), "The request could not be handled")


def response_for_rpc_error(status: grpc.StatusCode, reason: str, details: str, path: str) -> JSONResponse:
    http_status, code = http_answer(status, reason, path)
    if http_status >= 500:
        # Internals stay in the logs; the client gets a message that is safe to show.
        details = MESSAGES.get(code, "The request could not be handled")
    return _error_response(http_status, code, details or code)
