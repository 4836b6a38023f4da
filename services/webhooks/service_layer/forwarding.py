"""The delivery of events to the event URL: per-user lanes, at least once, dead letters.

- One sequential lane per user (domain/lanes.py): events of a user are posted one after the
  other, in stream order, and lanes run in parallel; a semaphore (and the HTTP connection pool)
  bounds concurrent posts. A user whose backlog is full has their newer events dead-lettered at
  once; when the receiver is down for everyone, every lane waits and nothing is set aside.
- Retries with back-off and final answers follow domain/retries.py. An event that cannot be
  delivered is set aside (DeadLetterStore, with why) and then acked, so that one poison event
  cannot block its user forever; an unexpected error (a bug) keeps the event first in its lane
  and is tried again, MAX_CRASHES times at most.
- At least once: a delivery is acked only once its outcome is decided. Every held event (being
  posted, backing off, or waiting in its lane) reports progress well within `ack_wait`, so that
  JetStream redelivers none of them to another process meanwhile; a redelivery that still reaches
  this process for a held event is recognised by its stream sequence and not posted twice.
- `stop()` drains: posts in flight finish (and are acked if delivered), then everything still
  held is nak'd (not acked) so that another process, or the next start, takes it at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from services.webhooks.domain.bodies import EventBody
from services.webhooks.domain.lanes import UserLanes
from services.webhooks.domain.ports import DeadLetter, DeadLetterStore, Delivery, EventPoster
from services.webhooks.domain.retries import MAX_CRASHES, STOPPED, DeadLetterCause, Outcome, RetryPolicy
from xuc.runtime.metrics import WebhookMetrics
from xuc.tasks import cancel_all

log = logging.getLogger(__name__)
DRAIN_GRACE_SECONDS = 5.0  # on top of the HTTP timeout, for acks and dead letters at stop


@dataclass
class Held:
    """An event this process is responsible for until it is acked (or nak'd at stop)."""

    delivery: Delivery  # the latest delivery: acks and progress go to it
    event: EventBody
    event_type: str
    error: str  # set for an undecodable payload: dead-lettered without a post
    progressed_at: float
    crashes: int = 0  # unexpected errors while processing it (bugs, not receiver failures)


class Forwarder:
    """Build it in the composition root; hand it each delivery (`accept`), `stop()` before the
    NATS connection closes."""

    def __init__(self, poster: EventPoster, dead_letters: DeadLetterStore, policy: RetryPolicy,
                 metrics: WebhookMetrics, *, max_user_backlog: int = 1000, max_concurrent_posts: int = 64,
                 ack_wait_seconds: float = 30.0, timeout_seconds: float = 5.0) -> None:
        if max_concurrent_posts < 1:
            raise ValueError("max_concurrent_posts must be at least 1")
        self.poster = poster
        self._dead_letters = dead_letters
        self._policy = policy
        self._metrics = metrics
        self._timeout = timeout_seconds
        # A held event reports progress once it is this old; checked twice as often, so reports
        # are at most half of ack_wait apart: JetStream never sees one time out.
        self._progress_interval = ack_wait_seconds / 3
        self._posts = asyncio.Semaphore(max_concurrent_posts)
        self._stopping = asyncio.Event()
        self._held: dict[int, Held] = {}
        self._lanes: UserLanes[Held] = UserLanes(max_user_backlog)
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._refused: list[Delivery] = []  # delivered while stopping: nak'd with the rest
        self._heartbeat: asyncio.Task[None] | None = None
        metrics.held.set_function(lambda: len(self._held))
        metrics.lanes.set_function(lambda: len(self._lanes))

    @property
    def held(self) -> int:
        """Events taken and not yet acked: posting, backing off, or waiting behind their user's."""
        return len(self._held)

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._keep_alive())

    # --- taking deliveries ------------------------------------------------------------------------
    async def accept(self, delivery: Delivery, event: EventBody | None, event_type: str, error: str = "") -> None:
        """A delivery of the stream: `event` is what it becomes at the event URL, None for a type the
        URL does not receive (acked, skipped); `error` for a payload that cannot be read. Returns at
        once: the event is posted by its user's lane."""
        self._metrics.received()
        if self._stopping.is_set():
            self._refused.append(delivery)
            return
        held = self._held.get(delivery.sequence)
        if held is not None:
            # JetStream redelivered an event a lane holds (progress reached the server late):
            # answer on the newest delivery, post it once.
            held.delivery = delivery
            self._metrics.redelivered()
            return
        if event is None:
            self._metrics.skipped()
            log.debug("webhooks: skipped", extra={"subject": delivery.subject, "event_type": event_type})
            await _ack(delivery)
            return
        held = Held(delivery, event, event_type, error, time.monotonic())
        if self._lanes.is_full(event.username):
            # The receiver has been failing for this user for a long while: past this backlog the
            # user's new events are set aside at once, so that the others keep flowing.
            waiting = self._lanes.backlog(event.username)
            await self._dead_letter(held, 0, f"backlog: {waiting} earlier events of this user wait for the event URL",
                                    "backlog")
            return
        self._held[delivery.sequence] = held
        if self._lanes.push(event.username, held):
            task = asyncio.create_task(self._run_lane(event.username))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)

    async def _run_lane(self, username: str) -> None:
        """A user's events, one after the other; the lane ends when it is empty (or at stop)."""
        while (held := self._lanes.head(username)) is not None and not self._stopping.is_set():
            try:
                decided = await self._process(held)
            except Exception as exc:
                # A bug, not a receiver failure. The event stays first in its lane (the user's later
                # events must not overtake it) and is tried again after a pause.
                held.crashes += 1
                log.exception("webhooks: unexpected error", extra={"username": username, "crashes": held.crashes})
                if held.crashes < MAX_CRASHES:
                    if await self._stopped_within(self._policy.initial_backoff_seconds):
                        break
                    continue
                decided = await self._dead_letter(held, 0, f"unexpected error: {exc!r}"[:500], "error")
            if not decided:
                break  # stopping: the event stays held and is nak'd by stop()
            self._lanes.pop(username)
            self._held.pop(held.delivery.sequence, None)

    # --- delivering one event ---------------------------------------------------------------------
    async def _process(self, held: Held) -> bool:
        """Post until the outcome is decided (True: acked) or the delivery stops (False)."""
        if held.error:
            return await self._dead_letter(held, 0, held.error, "invalid")
        attempt = 0
        while True:
            outcome = await self._post(held)
            if outcome.kind == "stopped":
                return False
            attempt += 1
            if outcome.kind == "delivered":
                await _ack(held.delivery)
                return True
            cause = self._policy.gives_up(outcome, attempt)
            if cause is not None:
                return await self._dead_letter(held, attempt, outcome.error, cause)
            delay = self._policy.delay(attempt, random.random())
            self._metrics.retried()
            log.warning("event URL: attempt failed, retrying", extra={
                "username": held.event.username, "sequence": held.delivery.sequence, "attempt": attempt,
                "error": outcome.error, "next_delay_seconds": round(delay, 3)})
            await self._progress(held)
            if await self._stopped_within(delay):
                return False

    async def _post(self, held: Held) -> Outcome:
        async with self._posts:
            if self._stopping.is_set():
                return STOPPED
            started = time.perf_counter()
            outcome = await self.poster.post(held.event.body, held.delivery.event_id)
            self._metrics.posted(outcome.kind, time.perf_counter() - started)
        return outcome

    async def _dead_letter(self, held: Held, attempts: int, last_error: str, cause: DeadLetterCause) -> bool:
        """Set the event aside, then ack it. Until the dead letter is stored (NATS trouble) the event
        is not acked: it is tried again here, or nak'd at stop."""
        delivery = held.delivery
        letter = DeadLetter(held.event.username, delivery.sequence, delivery.subject, delivery.payload,
                            held.event_type, held.event.body, attempts, last_error)
        while True:
            try:
                await self._dead_letters.set_aside(letter)
                break
            except Exception as exc:
                log.error("webhooks: could not store a dead letter, retrying: %s", exc,
                          extra={"username": letter.username, "sequence": letter.sequence})
                await self._progress(held)
                if await self._stopped_within(min(self._policy.max_backoff_seconds, self._progress_interval)):
                    return False
        self._metrics.dead_lettered(cause)
        log.error("event URL: event set aside", extra={
            "username": letter.username, "sequence": letter.sequence, "subject": letter.subject,
            "attempts": attempts, "error": last_error, "cause": cause})
        await _ack(held.delivery)
        return True

    # --- progress and stop ------------------------------------------------------------------------
    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep `seconds`, cut short by stop(); True if the delivery is stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _keep_alive(self) -> None:
        """Report progress on every held event before ack_wait runs out, so that JetStream
        redelivers none of them (to this process or to another) while it is held."""
        while True:
            await asyncio.sleep(self._progress_interval / 2)
            now = time.monotonic()
            for held in list(self._held.values()):
                if now - held.progressed_at >= self._progress_interval:
                    await self._progress(held)

    async def _progress(self, held: Held) -> None:
        held.progressed_at = time.monotonic()
        try:
            await held.delivery.in_progress()
        except Exception as exc:  # NATS closed: the event will be redelivered, nothing to do
            log.debug("webhooks: progress not reported: %s", exc)

    def stop_taking(self) -> None:
        """Take no new delivery (they are nak'd at `stop`); wake the lanes backing off."""
        self._stopping.set()

    async def stop(self) -> None:
        """Drain: let posts in flight finish, then nak what was not delivered, oldest first."""
        self.stop_taking()
        if self._lane_tasks:
            _, late = await asyncio.wait(set(self._lane_tasks), timeout=self._timeout + DRAIN_GRACE_SECONDS)
            await cancel_all(late)
        for held in sorted(self._held.values(), key=lambda held: held.delivery.sequence):
            await _nak(held.delivery)
        for delivery in self._refused:
            await _nak(delivery)
        self._held.clear()
        self._lanes.clear()
        self._refused.clear()
        await cancel_all([self._heartbeat])


async def _ack(delivery: Delivery) -> None:
    try:
        await delivery.ack()
    except Exception as exc:  # the event may be posted again after a redelivery: at least once
        log.warning("webhooks: ack failed: %s", exc, extra={"subject": delivery.subject})


async def _nak(delivery: Delivery) -> None:
    try:
        await delivery.nak()
    except Exception as exc:  # redelivered after ack_wait instead
        log.debug("webhooks: nak failed: %s", exc)
