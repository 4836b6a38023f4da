"""The telephony service's errors; each reason is documented in docs/telephony.md and docs/rest-api.md
(the presence ones, UnknownUserStatus and InvalidUserStatuses, in docs/telephony.md and docs/grpc.md)."""

from __future__ import annotations

from xuc.errors import DomainError, ErrorKind


class UserNotFound(DomainError):
    reason = "UserNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No such user, or the user has no line"


class AgentNotFound(DomainError):
    reason = "AgentNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No such agent"


class QueueNotFound(DomainError):
    reason = "QueueNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No such queue"


class CallNotFound(DomainError):
    reason = "CallNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No such call"


class InvalidNumber(DomainError):
    reason = "InvalidNumber"
    kind = ErrorKind.INVALID
    default_message = "The number has no digit to dial"


class InvalidRequest(DomainError):
    reason = "InvalidRequest"
    kind = ErrorKind.INVALID
    default_message = "The request is not valid"


class InvalidQueues(DomainError):
    """Agents and queues to provision that contradict each other (unknown agent, duplicate...)."""

    reason = "InvalidQueues"
    kind = ErrorKind.INVALID
    default_message = "The agents and queues are not consistent"


class PushTokenMissing(DomainError):
    reason = "JsonBodyNotFound"
    kind = ErrorKind.INVALID
    default_message = "The push token is missing"


class PbxRefused(DomainError):
    """The PBX answered, and said no (an unknown extension, an interface not in the queue...)."""

    reason = "PbxRefused"
    kind = ErrorKind.INVALID
    default_message = "The PBX refused the request"


class PbxUnreachable(DomainError):
    reason = "PbxUnreachable"
    kind = ErrorKind.UNAVAILABLE
    default_message = "The PBX is not reachable"


class UnknownUserStatus(DomainError):
    """A presence status chosen that is not among the configured ones."""

    reason = "UnknownUserStatus"
    kind = ErrorKind.INVALID
    default_message = "No such user status"


class InvalidUserStatuses(DomainError):
    """Presence statuses to configure that break a rule (name, colour, action, duplicate...)."""

    reason = "InvalidUserStatuses"
    kind = ErrorKind.INVALID
    default_message = "The user statuses are not valid"
