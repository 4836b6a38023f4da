"""Publishing domain events as protobuf messages on NATS JetStream: the one way events leave a
service. Each service says how its events become messages (`to_message`); this does the rest:
headers (the type, the id JetStream deduplicates on, the request id that caused the event),
the counts of events published and lost (`xuc_nats_published_total`, ..._failures_total), and
holding events through a NATS outage.

No event is lost to a NATS restart or a cluster node failure: an event JetStream did not
acknowledge (NATS down, a publish error, no ack in time) is kept in a bounded in-process buffer
and published again, in order, once NATS answers; every event published after it waits behind it
in the buffer, so the events of a subject (of a user) are stored in the order they happened.
A retried event carries the same `Nats-Msg-Id` (the event id), so one that JetStream stored but
whose ack was lost is dropped as a duplicate (within the streams' 2-minute duplicate window).
When the buffer is full the *oldest* held event is dropped (counted in ..._failures_total and
logged): the newest events carry the current state (a phone's status, a contact's last change)
that subscribers act on. Events still held when the process stops are given a few seconds to go
out; what remains is lost (counted, logged)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js import JetStreamContext

from xuc import subjects
from xuc.runtime import request_ids
from xuc.runtime.metrics import NATS_PUBLISH_BUFFERED, NATS_PUBLISHING, PublishMetrics
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 2.0
RETRY_MIN_SECONDS = 0.1  # the first wait before publishing held events again; doubled up to the max
RETRY_MAX_SECONDS = 2.0
DEFAULT_BUFFER_SIZE = 10_000  # XUC_NATS_PUBLISH_BUFFER's default: the roots pass settings.publish_buffer
CLOSE_FLUSH_SECONDS = 5.0  # at stop, how long held events may take to go out before they are given up


class DomainEvent(Protocol):
    @property
    def event_id(self) -> str: ...


E = TypeVar("E", bound=DomainEvent, contravariant=True)


# An event encoded once (its request id captured when it happened), ready to be (re)sent:
# (subject, payload, headers, the message type's name: the metrics' label). A plain tuple: it is
# made for every event on the hot path, where a NamedTuple costs several times as much.
Outgoing = tuple[str, bytes, dict[str, str], str]


class NatsEventPublisher(Generic[E]):
    """Publishes events in the order given. With `confirm` (the default) each publish waits for
    JetStream's ack before the next; without it, messages are written in order at once and their
    acks are checked in the background, so that a hot event path (the telephony service's phone
    events) does not wait a round trip per event.

    Either way, an event not acknowledged is held (see the module's docstring): from then on
    new events join the buffer instead of being sent, the acks still awaited are collected, the
    unacknowledged events go back in their original order at the head of the buffer, and one task
    publishes the buffer one event at a time, each confirmed, until it is empty; then publishing
    goes straight to NATS again. `buffer_size`: XUC_NATS_PUBLISH_BUFFER (settings.publish_buffer)."""

    def __init__(self, connection: Client, to_message: Callable[[E], tuple[str, Message]],
                 confirm: bool = True, metrics: PublishMetrics = NATS_PUBLISHING,
                 buffer_size: int = DEFAULT_BUFFER_SIZE, close_timeout: float = CLOSE_FLUSH_SECONDS) -> None:
        self._connection = connection
        self._metrics = metrics
        self._js: JetStreamContext = connection.jetstream()
        self._to_message = to_message
        self._confirm = confirm
        self._buffer_size = buffer_size
        self._watchers: set[asyncio.Task[None]] = set()
        self._sent = itertools.count()  # the order events were written in (pipelined mode)
        self._held: deque[Outgoing] = deque()  # waiting for NATS, oldest first
        self._unacknowledged: list[tuple[int, Outgoing]] = []  # pipelined, not acked: back to the head
        self._holding = False  # an outage is being ridden out: new events join the buffer
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._close_timeout = close_timeout

    @property
    def held(self) -> int:
        """Events waiting for NATS (in the buffer, or written and found unacknowledged)."""
        return len(self._held) + len(self._unacknowledged)

    async def publish(self, events: Sequence[E]) -> None:
        if not events:
            return
        if self._holding or not self._connection.is_connected:
            # Fail fast (no caller waits out a publish timeout during an outage), and keep order.
            self._hold([self._encode(event) for event in events])
            return
        if self._confirm:
            for index, event in enumerate(events):
                outgoing = self._encode(event)
                # Held events (another caller's failure meanwhile) go out before this one.
                if self._holding or not await self._publish_confirmed(outgoing):
                    self._hold([outgoing, *(self._encode(later) for later in events[index + 1:])])
                    return
            return
        pending: list[tuple[int, Outgoing, asyncio.Future[Any]]] = []
        for index, event in enumerate(events):
            outgoing = self._encode(event)
            if self._is_holding():  # an earlier event failed while this batch was being written
                self._hold([outgoing, *(self._encode(later) for later in events[index + 1:])])
                break
            subject, payload, headers, name = outgoing
            try:
                # No stall timeout (it would cost a task per event): a slot is held at most
                # PUBLISH_TIMEOUT_SECONDS, after which _check_acks cancels the late ack.
                ack = await self._js.publish_async(subject, payload, wait_stall=None, headers=headers)
            except Exception as exc:  # the connection went away under us
                log.warning("event held: %s", exc, extra={"subject": subject, "event": name})
                self._hold([outgoing, *(self._encode(later) for later in events[index + 1:])])
                break
            pending.append((next(self._sent), outgoing, ack))
        if pending:
            watcher = asyncio.create_task(self._check_acks(pending))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def close(self) -> None:
        """Wait for the acks still being checked and give held events a few seconds to go out
        (before the NATS connection is closed); count and log what could not."""
        self._closing = True
        if self._watchers:
            await asyncio.wait(set(self._watchers), timeout=PUBLISH_TIMEOUT_SECONDS + 1)
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher}, timeout=self._close_timeout)
            await cancel_and_wait(self._flusher)
        lost = [*(outgoing for _, outgoing in self._unacknowledged), *self._held]
        if lost:
            log.error("events lost at stop: NATS did not take them in time", extra={"count": len(lost)})
            for outgoing in lost:
                self._metrics.failed(outgoing[3])
            NATS_PUBLISH_BUFFERED.dec(len(lost))
            self._unacknowledged.clear()
            self._held.clear()

    def _encode(self, event: E) -> Outgoing:
        subject, message = self._to_message(event)
        headers = {
            subjects.EVENT_TYPE_HEADER: message.DESCRIPTOR.full_name,
            "Nats-Msg-Id": event.event_id,  # JetStream drops a retried duplicate
        }
        request_id = request_ids.current()
        if request_id is not None:
            headers[request_ids.NATS_HEADER] = request_id
        return subject, message.SerializeToString(), headers, message.DESCRIPTOR.name

    async def _publish_confirmed(self, outgoing: Outgoing) -> bool:
        subject, payload, headers, name = outgoing
        try:
            await self._js.publish(subject, payload, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers)
        except Exception as exc:
            log.warning("event held: %s", exc, extra={"subject": subject, "event": name})
            return False
        self._metrics.published(name)
        return True

    async def _check_acks(self, pending: list[tuple[int, Outgoing, asyncio.Future[Any]]]) -> None:
        _, late = await asyncio.wait([ack for _, _, ack in pending], timeout=PUBLISH_TIMEOUT_SECONDS)
        failed: list[tuple[int, Outgoing]] = []
        reason: object = None
        for sent, outgoing, ack in pending:
            if ack in late:
                ack.cancel()  # frees its slot among the connection's pending publishes
                failed.append((sent, outgoing))
                reason = reason or "no ack in time"
            elif ack.exception() is not None:
                failed.append((sent, outgoing))
                reason = reason or ack.exception()
            else:
                self._metrics.published(outgoing[3])
        if failed:
            first = failed[0][1]
            log.warning("events held: not confirmed by JetStream (%s)", reason,
                        extra={"count": len(failed), "subject": first[0], "event": first[3]})
            self._unacknowledged.extend(failed)
            NATS_PUBLISH_BUFFERED.inc(len(failed))
            self._start_holding()

    # --- holding and publishing again -------------------------------------------------------------
    def _is_holding(self) -> bool:
        """Read anew after an await (a watcher may have started holding meanwhile)."""
        return self._holding

    def _hold(self, outgoing: Sequence[Outgoing]) -> None:
        self._held.extend(outgoing)
        NATS_PUBLISH_BUFFERED.inc(len(outgoing))
        self._drop_overflow()
        self._start_holding()

    def _drop_overflow(self) -> None:
        excess = self.held - self._buffer_size
        if excess <= 0:
            return
        dropped: dict[str, int] = {}
        for _ in range(excess):  # the oldest first: the unacknowledged ones, then the buffer's head
            outgoing = self._unacknowledged.pop(0)[1] if self._unacknowledged else self._held.popleft()
            dropped[outgoing[3]] = dropped.get(outgoing[3], 0) + 1
        NATS_PUBLISH_BUFFERED.dec(excess)
        for name, count in dropped.items():
            self._metrics.failed(name, count)
        log.error("events lost: the publish buffer is full, the oldest were dropped",
                  extra={"count": excess, "buffer_size": self._buffer_size})

    def _start_holding(self) -> None:
        self._holding = True
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Publish the held events in order, each confirmed, until none is left."""
        delay, outage_started = RETRY_MIN_SECONDS, time.monotonic()
        log.warning("NATS not taking events: holding them until it does", extra={"buffer_size": self._buffer_size})
        while True:
            if self._watchers:  # every ack still awaited decides first: the unacknowledged go first
                await asyncio.wait(set(self._watchers))
                continue
            if self._unacknowledged:
                self._unacknowledged.sort(key=lambda item: item[0])
                self._held.extendleft(outgoing for _, outgoing in reversed(self._unacknowledged))
                self._unacknowledged.clear()
            if not self._held:
                self._holding = False  # no await since the last check: nothing can slip in between
                log.info("NATS takes events again: held events published",
                         extra={"outage_s": round(time.monotonic() - outage_started, 3)})
                return
            if not self._connection.is_connected:
                await asyncio.sleep(RETRY_MIN_SECONDS if self._closing else delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            outgoing = self._held[0]
            subject, payload, headers, name = outgoing
            try:
                await self._js.publish(subject, payload, timeout=PUBLISH_TIMEOUT_SECONDS, headers=headers)
            except Exception as exc:
                log.debug("held event not published yet: %s", exc, extra={"subject": subject})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_MIN_SECONDS
            if self._held and self._held[0] is outgoing:  # not dropped by an overflow meanwhile
                self._held.popleft()
                NATS_PUBLISH_BUFFERED.dec()
            self._metrics.published(name)
