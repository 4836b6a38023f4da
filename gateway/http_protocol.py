"""The gateway's HTTP/1.1 connections: uvicorn's httptools protocol, with limits on request heads.

uvicorn bounds neither the size of a request's head (the request line and headers) nor the time
it takes to arrive: httptools buffers a header field until the next one starts, so one header of
256 MiB was held whole in memory, and a head that never ends held its connection open for good.
Nor does it time out a connection that sends nothing: its idle timer is armed only once an answer
has been sent, and any byte received disarms it for good (a CRLF after an answer, which RFC 9112
2.2 tells servers to ignore, left a keep-alive connection open without any timer at all).

- Size: the request line and headers over `max_bytes` (XUC_MAX_HEADER_BYTES) get 431
  `RequestHeaderFieldsTooLarge` and the connection is closed. While a head is awaited, bytes are
  handed to the parser no more than `max_bytes` in all, so that no more is ever buffered for a
  head however large it is. A head that begins in the middle of a read, after a pipelined request,
  is only counted from the next read on: its target and fields are added up once it is complete.
- Time: a head must be complete within `timeout_seconds` (XUC_HEADER_TIMEOUT_SECONDS) of its first
  byte, else 408 `RequestTimeout` (nothing but blank lines received: no answer) and the connection
  is closed.
- Idle: a connection with no request in progress is closed after `keep_alive_seconds`
  (XUC_KEEP_ALIVE_TIMEOUT_SECONDS), from its opening as well as after each answer.

A WebSocket upgrade is a GET whose head httptools parses here before uvicorn hands the connection
to its WebSocket protocol: the same limits apply to it. Refusals are written after any answer in
progress on the connection (pipelining), never in the middle of one: in that case the connection
is closed once that answer is sent, with no answer of its own.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.errors import response_for_domain_error
from gateway.requests import RequestHeaderFieldsTooLarge, RequestTimeout
from xuc.errors import DomainError
from xuc.runtime import request_ids

log = logging.getLogger(__name__)

FIELD_SEPARATORS = 4  # ": " and CRLF, counted with each header field's name and value
REQUEST_LINE_SEPARATORS = 12  # " ", " HTTP/1.1", CRLF, counted with the target (the method is not)
# After a refusal the connection is closed once the client has read the answer, or after this long:
# closing while its request is still arriving would make the kernel reset the connection, and the
# client would lose the answer.
LINGER_SECONDS = 2.0
_REQUEST_ID_HEADER = request_ids.HTTP_HEADER.lower().encode()


class _Stop(Exception):
    """Raised in a parser callback to stop the parser: the request is refused, nothing more of it
    may reach the request before it (pipelining), whose answer may still be in progress."""


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int = 16384
    timeout_seconds: float = 10.0
    keep_alive_seconds: float = 5.0


def limited_protocol(limits: HeadLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for uvicorn.Config(http=...), with these limits (uvicorn makes one
    instance per connection, with its own arguments: the limits travel on the class)."""

    class Limited(LimitedHttpToolsProtocol):
        pass

    Limited.limits = limits
    return Limited


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.limits.keep_alive_seconds  # type: ignore[assignment]  # uvicorn says int
        self._awaiting_head = True  # the next bytes belong to a request's head (or blank lines before it)
        self._fed = 0  # bytes handed to the parser since it began awaiting this head
        self._completed_in_read = False  # a request ended in the middle of the current read
        self._uncounted = False  # the head began after that: its first bytes are not in `_fed`
        self._head_begun = False  # a request line began (not just blank lines)
        self._head_started: float | None = None  # when the head's first byte came
        self._deadline: TimerHandle | None = None  # the head's timeout, or the end of lingering
        self._refused = False  # answered with a refusal: whatever else comes is dropped

    # --- connection -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._refused:
            return
        self._completed_in_read = False
        if self._awaiting_head:
            if self._head_started is None:
                self._head_started = self.loop.time()
            if len(data) < self.limits.max_bytes - self._fed:  # the usual case: a whole head, within bounds
                self._fed += len(data)
                if self._feed(data):
                    self._arm_timers()
                return
        view = memoryview(data)
        while view and not self._refused:
            # While a head is awaited, no more than the limit: a head still incomplete then is too large.
            size = max(self.limits.max_bytes - self._fed, 1) if self._awaiting_head else len(view)
            piece, view = view[:size], view[size:]
            if self._awaiting_head:
                self._fed += len(piece)  # reset by on_message_complete should the piece end a request
            if not self._feed(piece):
                return
            if self._awaiting_head and self._fed >= self.limits.max_bytes:
                self._refuse_head_too_large()
        self._arm_timers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._head_started is not None:  # the next head is arriving: its own clock runs, not the idle one
            self._unset_keepalive_if_required()

    # --- parser callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        self._uncounted = self._completed_in_read
        if self._head_started is None:  # a pipelined request, begun in the middle of a read
            self._head_started = self.loop.time()

    def on_headers_complete(self) -> None:
        if self._uncounted and self._head_size() > self.limits.max_bytes:
            self._refuse_head_too_large()
            raise _Stop()
        self._awaiting_head = self._head_begun = self._uncounted = False
        self._head_started = None
        self._cancel_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = self._completed_in_read = True
        self._fed = 0

    # --- the limits -----------------------------------------------------------------------------
    def _head_size(self) -> int:
        return len(self.url) + REQUEST_LINE_SEPARATORS + sum(
            len(name) + len(value) + FIELD_SEPARATORS for name, value in self.headers)

    def _feed(self, piece: bytes | memoryview) -> bool:
        """Parse `piece`, as uvicorn's data_received does; False once the connection is handed over
        (WebSocket) or answered."""
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserError:
            if self._refused:  # refused in a callback (on_headers_complete), which stopped the parser
                return False
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return True

    def _arm_timers(self) -> None:
        """After a read: a head in progress has its deadline; a connection left idle, its idle timer."""
        if self._refused or not self._awaiting_head:
            return
        if self._head_started is not None:
            if self._deadline is None:
                self._deadline = self.loop.call_at(self._head_started + self.limits.timeout_seconds,
                                                   self._head_timed_out)
        elif self.cycle is None or self.cycle.response_complete:
            # e.g. the end of a body whose answer was sent before it: uvicorn re-arms nothing then
            self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse_head_too_large(self) -> None:
        log.debug("request head too large", extra={"client": _peer(self.client), "limit": self.limits.max_bytes})
        self._refuse(RequestHeaderFieldsTooLarge(
            f"The request line and headers exceed {self.limits.max_bytes} bytes"))

    def _head_timed_out(self) -> None:
        self._deadline = None
        log.debug("request head timed out", extra={"client": _peer(self.client),
                                                    "seconds": self.limits.timeout_seconds})
        error = RequestTimeout(f"The request headers did not arrive within {self.limits.timeout_seconds:g} s")
        self._refuse(error if self._head_begun else None)

    def _refuse(self, error: DomainError | None) -> None:
        """Answer `error` (None: no answer) and close, dropping whatever else the client sends."""
        self._refused = True
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # closed once the answer being written is complete
            return
        if error is None or not self.transport.can_write_eof():
            if error is not None:
                self.transport.write(self._answer(error))
            self.transport.close()
            return
        self.transport.write(self._answer(error))
        self.transport.write_eof()  # the client reads the answer, then closes; or we close after lingering
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _answer(self, error: DomainError) -> bytes:
        """The error answer in the documented body shape, from the one error table."""
        response = response_for_domain_error(error, "")
        lines = [STATUS_LINE[response.status_code]]
        headers = [*self.server_state.default_headers, *response.raw_headers,
                   (b"connection", b"close"), (_REQUEST_ID_HEADER, request_ids.new().encode())]
        lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
        return b"".join([*lines, b"\r\n", bytes(response.body)])


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown"
