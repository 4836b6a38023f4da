"""Request ids: one per REST request, carried to every log line and event it causes.

The gateway takes the client's `X-Request-Id` when it is a sane token (or makes one), returns it
in the response, and passes it to services as the gRPC metadata `x-request-id`; a service's edge
binds it for the call. Whatever runs in the request's context then sees it: the logging filter
adds it to every record (`request_id`), the event publisher to every NATS message
(`Xuc-Request-Id`). Tasks created during the request inherit it (contextvars are copied).
"""

from __future__ import annotations

import contextvars
import logging
import random
import re

HTTP_HEADER = "X-Request-Id"
GRPC_METADATA = "x-request-id"  # gRPC metadata keys are lower case
NATS_HEADER = "Xuc-Request-Id"
LOG_FIELD = "request_id"
MAX_LENGTH = 64

Metadata = tuple[tuple[str, str], ...]

# A client's id is used as is only when it cannot disturb a log line, a header or a metric store.
_SANE = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LENGTH}}}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("xuc_request_id", default=None)


def accept(value: str | None) -> str | None:
    """`value` if it is a sane request id (1-64 characters of `A-Za-z0-9._-`), else None."""
    if value and _SANE.fullmatch(value):
        return value
    return None


def new() -> str:
    """A fresh request id: 32 hex digits (128 random bits). Not a secret: Python's generator
    (seeded from the OS, reseeded in a forked child) spares a system call per request."""
    return f"{random.getrandbits(128):032x}"


def current() -> str | None:
    """The request id of the request being handled, if any."""
    return _current.get()


def bind(request_id: str | None) -> contextvars.Token[str | None]:
    """Make `request_id` the current one (for this context); `reset` with the token undoes it."""
    return _current.set(request_id)


def reset(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)


def with_request_id(metadata: Metadata) -> Metadata:
    """Call metadata plus the current request id (the same metadata outside a request)."""
    request_id = _current.get()
    if request_id is None:
        return metadata
    return (*metadata, (GRPC_METADATA, request_id))


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record made while a request is handled (a handler's filter, so
    that the records of every logger get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id is not None and not hasattr(record, LOG_FIELD):
            setattr(record, LOG_FIELD, request_id)
        return True
