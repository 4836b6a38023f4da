"""One client's socket: a bounded queue of frames to send, written by a task of its own, so that a
client that does not read never holds up the events of the others, nor grows the gateway's memory.

When the queue is full the client is closed with 1013 (try again later) and counted: a browser tab
that was frozen reconnects and rebuilds its state (getCurrentCallsPhoneEvents), which is better
than an unbounded backlog. The socket also bounds how fast its client may send commands (a token
bucket); a command over the rate is answered `Error` `RateLimited`, the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from xuc.runtime.metrics import CTI_MESSAGES, CTI_SLOW_CLOSED
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013  # RFC 6455 section 7.4.1 (IANA registry): the server is overloaded
POLICY_VIOLATION = 1008
GOING_AWAY = 1001
CLOSE_TIMEOUT_SECONDS = 5.0

_SENT_BY_TYPE: dict[str, Callable[[], None]] = {}


def count_sent(msg_type: str) -> None:
    counter = _SENT_BY_TYPE.get(msg_type)
    if counter is None:
        counter = _SENT_BY_TYPE[msg_type] = CTI_MESSAGES.labels(msg_type, "out").inc
    counter()


class FrameSink(Protocol):
    """What the socket writes to: Starlette's WebSocket has these."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class RateLimit:
    """A token bucket: `rate` commands a second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class CtiSocket:
    def __init__(self, sink: FrameSink, login: str, queue_size: int) -> None:
        self.login = login
        self._sink = sink
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()  # set once the socket is closing: the session ends
        self.close_code: int | None = None
        # Frames offered while the state sent at logon is being read: sent after it (release()).
        self._held: list[tuple[str, str]] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"cti-writer-{self.login}")

    def hold(self) -> None:
        """From now on, events wait until `release`: the state sent at logon goes first."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for frame, msg_type in held:
            self.offer(frame, msg_type)

    def send_now(self, frame: str, msg_type: str) -> None:
        """Queue a frame ahead of the held ones (the state sent at logon)."""
        held, self._held = self._held, None
        self.offer(frame, msg_type)
        if held is not None and not self.closed.is_set():
            self._held = held

    def offer(self, frame: str, msg_type: str) -> None:
        """Queue a frame; never waits. A full queue closes the socket (1013)."""
        if self.closed.is_set():
            return
        if self._held is not None:
            self._held.append((frame, msg_type))
            if len(self._held) > self._queue.maxsize:
                self._held = None
                self._overflowed()
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._overflowed()
            return
        count_sent(msg_type)

    def _overflowed(self) -> None:
        """More frames wait than the queue holds (sent, or held during the logon): closed, counted."""
        CTI_SLOW_CLOSED.inc()
        log.warning("CTI client not reading: closed", extra={"login": self.login, "queued": self._queue.qsize()})
        self.close(TRY_AGAIN_LATER, "client too slow: send queue full")

    def close(self, code: int, reason: str) -> None:
        """Close the socket (once); what is queued and not written yet is dropped."""
        if self.closed.is_set():
            return
        self.close_code = code
        self.closed.set()
        self._closing = asyncio.create_task(self._close(code, reason), name=f"cti-close-{self.login}")

    async def wait_closed(self) -> None:
        await cancel_and_wait(self._writer)
        if self._closing is not None:
            await self._closing

    async def _close(self, code: int, reason: str) -> None:
        await cancel_and_wait(self._writer)
        with contextlib.suppress(Exception):  # the client may be gone already: nothing left to tell
            await asyncio.wait_for(self._sink.close(code, reason), CLOSE_TIMEOUT_SECONDS)

    async def _write(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                await self._sink.send_text(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection went away: the reading side ends the session
            self.close_code = self.close_code or GOING_AWAY
            self.closed.set()

