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
