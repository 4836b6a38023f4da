"""The contacts service's errors; each reason is the code the REST documentation uses or one we
added where it is silent (docs/contacts.md, "Decisions")."""

from __future__ import annotations

from xuc.errors import DomainError, ErrorKind, Unreachable


class InvalidContact(DomainError):
    reason = "InvalidContact"
    kind = ErrorKind.INVALID
    default_message = "Personal contact has bad format"


class ContactNotFound(DomainError):
    reason = "ContactNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "Personal contact does not exist"


class DuplicateContact(DomainError):
    reason = "DuplicateContact"
    kind = ErrorKind.CONFLICT
    default_message = "Personal contact already exists"


class InvalidImport(DomainError):
    """The file as a whole cannot be imported (charset, header, no valid line): nothing is created."""

    reason = "InvalidContact"
    kind = ErrorKind.INVALID
    default_message = "The file cannot be imported"


class UnknownSubQualification(DomainError):
    reason = "UnknownSubQualification"
    kind = ErrorKind.INVALID
    default_message = "No active sub-qualification has this id"


class UnknownQueue(DomainError):
    """An answer for a queue the telephony service does not know."""

    reason = "UnknownQueue"
    kind = ErrorKind.INVALID
    default_message = "No queue has this id"


class NotYourAgent(DomainError):
    """An answer in the name of an agent that is not one of the calling user's."""

    reason = "NotYourAgent"
    kind = ErrorKind.INVALID
    default_message = "The agent is not one of yours"


class AnswersNotConfigured(DomainError):
    """No telephony service is configured: answers cannot be checked, so none is recorded."""

    reason = "TelephonyNotConfigured"
    kind = ErrorKind.NOT_CONFIGURED
    default_message = "Call qualification answers need the telephony service (XUC_TELEPHONY_ADDRESS)"


class InvalidQualificationAnswer(DomainError):
    reason = "InvalidQualificationAnswer"
    kind = ErrorKind.INVALID
    default_message = "The qualification answer is not valid"


class InvalidDate(DomainError):
    reason = "InvalidDate"
    kind = ErrorKind.INVALID
    default_message = "Dates are YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"


class InvalidQualification(DomainError):
    reason = "InvalidQualification"
    kind = ErrorKind.INVALID
    default_message = "The qualification is not valid"


class InvalidIdempotencyKey(DomainError):
    reason = "InvalidIdempotencyKey"
    kind = ErrorKind.INVALID
    default_message = "An Idempotency-Key is 1 to 128 printable ASCII characters"


class IdempotencyKeyReused(DomainError):
    """The key already made a contact with other fields: a client bug, never a retry."""

    reason = "IdempotencyKeyReused"
    kind = ErrorKind.CONFLICT
    default_message = "This Idempotency-Key was already used to create another contact"


class ImportInterrupted(Unreachable):
    """The import's lease expired (this process could not renew it in time) and another process
    deleted its pending rows: nothing of it is imported, the file can be sent again."""

    default_message = "The import was interrupted; nothing was imported, send the file again"


class InvalidDirectorySearch(DomainError):
    """A directory search term that is empty, too short or too long, or holds control characters."""

    reason = "InvalidDirectorySearch"
    kind = ErrorKind.INVALID
    default_message = "A directory search term is 2 to 128 characters"


class InvalidFavorite(DomainError):
    """A favorite named by a source that is not "internal" or "personal", or without a contact id."""

    reason = "InvalidFavorite"
    kind = ErrorKind.INVALID
    default_message = "A favorite is named by its source (internal or personal) and its contact id"


class UnknownUser(DomainError):
    """A service asked for the directory of a login that no user has."""

    reason = "UserNotFound"
    kind = ErrorKind.NOT_FOUND
    default_message = "No user has this login"
