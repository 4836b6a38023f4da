"""Domain errors with a stable reason, shared by every service.

A domain error knows *what* went wrong (its `reason`, the code the REST documentation uses) and
*which kind* of failure it is. It knows nothing of gRPC or HTTP: the gRPC edge maps the kind to a
status code (xuc/runtime/grpc_errors.py) and the gateway maps the reason to the documented HTTP
answer (gateway/errors.py). An error both a service and the gateway raise is defined here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Self

Path = tuple[str | int, ...]


class ErrorKind(Enum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    NOT_CONFIGURED = "not_configured"  # the deployment does not offer this (e.g. an SSO method)
    THROTTLED = "throttled"  # too many attempts: try again later
    INTERNAL = "internal"


@dataclass(frozen=True)
class FieldViolation:
    """One rule a request breaks: where, as a path into the input (("users", 3, "login")), and why.

    The gRPC edge sends them as a google.rpc.BadRequest, so that a client (`xuc provision`) can
    point at each bad value rather than at the request as a whole.
    """

    path: Path
    message: str

    @property
    def field(self) -> str:
        """The path as text: "users[3].login"."""
        return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in self.path).lstrip(".")


class DomainError(Exception):
    reason: str = "NotHandledError"
    kind: ErrorKind = ErrorKind.INTERNAL
    default_message: str = "Error not covered by the implementation"

    def __init__(self, message: str | None = None, violations: Sequence[FieldViolation] = ()) -> None:
        self.message = message or self.default_message
        self.violations = tuple(violations)
        super().__init__(self.message)

    @classmethod
    def of_violations(cls, violations: Sequence[FieldViolation]) -> Self:
        """The error listing every violation (its message names the first few)."""
        shown = "; ".join(f"{violation.field}: {violation.message}" for violation in violations[:3])
        more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
        return cls(shown + more, violations)


class InvalidToken(DomainError):
    reason = "InvalidToken"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "The token is invalid"


class TokenExpired(DomainError):
    reason = "TokenExpired"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "The token has expired"


class MissingCredentials(DomainError):
    reason = "AuthorizationHeaderNotFound"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "No credentials were presented"


class SsoAuthenticationFailed(DomainError):
    """Kerberos: a bad, replayed or expired token, the wrong service, clock skew; or Kerberos is
    not configured. Raised by auth, and by the gateway when the Negotiate header is unusable."""

    reason = "SsoAuthenticationFailed"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "Single sign-on authentication failed"


class Forbidden(DomainError):
    reason = "Forbidden"
    kind = ErrorKind.FORBIDDEN
    default_message = "The caller may not do this"


class Unreachable(DomainError):
    reason = "Unreachable"
    kind = ErrorKind.UNAVAILABLE
    default_message = "A dependency is not reachable"
