from __future__ import annotations

from xuc.errors import DomainError, ErrorKind


class InvalidCredentials(DomainError):
    reason = "InvalidCredentials"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "Invalid username or password"


class UserNotFound(DomainError):
    reason = "UserNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No such user"


class UserAlreadyExists(DomainError):
    reason = "UserAlreadyExists"
    kind = ErrorKind.CONFLICT
    default_message = "A user with this login already exists"


class InvalidUser(DomainError):
    reason = "InvalidUser"
    kind = ErrorKind.INVALID
    default_message = "The user is not valid"


class SigningKeyFileInUse(DomainError):
    """XUC_SIGNING_KEY_FILE names the key: it alone signs, the keys of the database are not used."""

    reason = "SigningKeyFileInUse"
    kind = ErrorKind.NOT_CONFIGURED
    default_message = "XUC_SIGNING_KEY_FILE is set: that key signs, and it does not rotate"


# --- single sign-on (the codes of the REST documentation) -------------------------------------------
class CasServerUrlNotSet(DomainError):
    reason = "CasServerUrlNotSet"
    kind = ErrorKind.NOT_CONFIGURED
    default_message = "CAS authentication is not configured (XUC_CAS_SERVER_URL)"


class CasServerInvalidParameter(DomainError):
    reason = "CasServerInvalidParameter"
    kind = ErrorKind.INVALID
    default_message = "The service and ticket parameters are required"


class CasServerInvalidResponse(DomainError):
    """Not XML, the wrong shape, a 5xx, a timeout, or the server unreachable."""

    reason = "CasServerInvalidResponse"
    kind = ErrorKind.UNAVAILABLE
    default_message = "The CAS server returned an invalid response"


class CasServerRefused(DomainError):
    """The CAS server's own failure codes, one documented reason each (see CAS_FAILURES)."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# CAS protocol failure codes -> the documented reasons. INVALID_REQUEST and INVALID_TICKET_SPEC say
# the request was malformed; the others that the ticket or service was refused; INTERNAL_ERROR is
# the server's own failure.
CAS_FAILURES: dict[str, str] = {
    "INVALID_REQUEST": "CasServerInvalidRequest",
    "INVALID_TICKET_SPEC": "CasServerInvalidTicketSpec",
    "UNAUTHORIZED_SERVICE_PROXY": "CasServerUnauthorizedServiceProxy",
    "INVALID_PROXY_CALLBACK": "CasServerInvalidProxyCallback",
    "INVALID_TICKET": "CasServerInvalidTicket",
    "INVALID_SERVICE": "CasServerInvalidService",
    "INTERNAL_ERROR": "CasServerInternalError",
}


class OidcNotEnabled(DomainError):
    reason = "OidcNotEnabled"
    kind = ErrorKind.NOT_CONFIGURED
    default_message = "OpenID Connect authentication is not enabled (XUC_OIDC_ISSUER)"


class OidcInvalidParameter(DomainError):
    reason = "OidcInvalidParameter"
    kind = ErrorKind.INVALID
    default_message = "Missing access token"


class OidcAuthenticationFailed(DomainError):
    reason = "OidcAuthenticationFailed"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "The access token is not valid"
