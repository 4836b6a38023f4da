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


# --- call control (answer, hold, hang up, DTMF, transfers) -------------------------------------
class NoCurrentCall(DomainError):
    """A command without a unique id, and the user's line has no call it could act on."""

    reason = "NoCurrentCall"
    kind = ErrorKind.NOT_FOUND
    default_message = "The user has no call to act on"


class CallStateConflict(DomainError):
    """The call named is in progress, but not in a state the command applies to (answering a call
    already established, sending DTMF to one still ringing...)."""

    reason = "CallStateConflict"
    kind = ErrorKind.CONFLICT
    default_message = "The call is not in a state this command applies to"


class NotSupportedByPbx(DomainError):
    """The PBX behind cannot do this (Asterisk's AMI cannot make a SIP phone answer or hold);
    the message says why and what to do instead."""

    reason = "NotSupportedByPbx"
    kind = ErrorKind.NOT_CONFIGURED
    default_message = "The PBX cannot do this"


class TransferNotFound(DomainError):
    """Complete or cancel an attended transfer, and the user's line has none in progress."""

    reason = "TransferNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No attended transfer in progress"


class InvalidCallData(DomainError):
    """Variables to attach to a call that break a rule (key, value, size, count: docs/telephony.md)."""

    reason = "InvalidCallData"
    kind = ErrorKind.INVALID
    default_message = "The call variables are not valid"


class NoMobileNumber(DomainError):
    """Dial from the user's mobile, and the user has no mobile number (auth's `mobile` field)."""

    reason = "NoMobileNumber"
    kind = ErrorKind.NOT_FOUND
    default_message = "The user has no mobile number"
