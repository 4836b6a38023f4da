"""The event URL forwarder: phone events and phone status changes POSTed to `XUC_EVENT_URL`.

Runs in the gateway process. Design (docs/telephony.md, "Event URL forwarder"):

- One durable JetStream *push* consumer (`xuc-webhook`) with a deliver group shared by every
  gateway process: the server pushes each event to one member as soon as it is stored (no fetch
  loop, so no polling delay on the publish-to-POST path), and `max_ack_pending` bounds what all
  members hold together.
- In a process, one sequential lane per user (events of a user are posted one after the other, in
  stream order) and lanes run in parallel: a receiver that stalls or fails for one user does not
  hold back the others. A semaphore (and the HTTP connection pool) bounds concurrent posts. A
  user whose backlog reaches `max_user_backlog` (the receiver failing for that user only) has
  their newer events dead-lettered at once, so that they cannot fill `max_ack_pending`, which
  every user shares; when the receiver is down for everyone, every lane waits and nothing is set
  aside.
- A 2xx acks. A timeout, a connection error, a 5xx (or 408/429, "try again later") is retried with
  exponential back-off up to `max_attempts`; a 3xx/4xx is final. An event that cannot be delivered
  is set aside in the XUC_WEBHOOK_DEAD stream (`UndeliveredEvent`, with why) and then acked, so one
  poison event cannot block its user forever.
- At least once: a message is acked only once its outcome is decided. Every held message (being
  posted, backing off, or waiting in its lane) is kept alive with `in_progress()` well within
  `ack_wait`, so JetStream does not redeliver it to another member while this one holds it; a
  redelivery that still reaches this process for a held message is recognised by its stream
  sequence and not posted twice.
- `stop()` drains: no new message is taken, posts in flight finish (and are acked if delivered),
  then everything still held is nak'd (not acked) so that another member, or the next start,
  takes it at once.

Events of one user may still be reordered when *several* gateway processes forward: the deliver
group spreads one user's events over the members. Order per user is guaranteed within a process.

Metrics (xuc/runtime/metrics.py): POSTs by outcome and their duration, dead letters by cause,
messages received, the dead letters' publishing, and the consumer's lag (JetStream's
num_pending and num_ack_pending, sampled every `lag_interval_seconds`).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from xuc import subjects
from xuc.runtime import metrics
from xuc.runtime.nats import ensure_stream, wait_for_stream
from xuc.runtime.settings import Settings
from xuc.tasks import cancel_all
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent, PhoneStatusChanged, UndeliveredEvent

log = logging.getLogger(__name__)

MAX_CRASHES = 3  # unexpected errors on one event before it is set aside
PHONE_EVENT_TYPE = PhoneEvent.DESCRIPTOR.full_name  # "xuc.events.v1.PhoneEvent"
PHONE_STATUS_TYPE = PhoneStatusChanged.DESCRIPTOR.full_name
UNDELIVERED_TYPE = UndeliveredEvent.DESCRIPTOR.full_name
# Answers that mean "try again later" although they are 4xx.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
EVENT_ID_HEADER = "X-Xuc-Event-Id"  # lets a receiver drop the rare duplicate of at-least-once delivery
DEAD_LETTER_PUBLISH_TIMEOUT_SECONDS = 2.0
DRAIN_GRACE_SECONDS = 5.0  # on top of the HTTP timeout, for acks and dead letters at stop
LAG_TIMEOUT_SECONDS = 2.0
DeadLetterCause = Literal["attempts", "refused", "backlog", "invalid", "error"]
# The outcome label of a POST (xuc_webhook_deliveries_total) for each outcome of an attempt.
POST_OUTCOMES = {"delivered": "delivered", "retry": "failed", "final": "refused"}


# --- the pure part: what is posted ------------------------------------------------------------------
class EventBody(NamedTuple):
    """What one event becomes at the event URL: the user it is for (its lane) and the JSON text."""

    username: str
    body: str


def _subject_key(subject: str) -> str:
    """The login a subject ends with; the raw token if it is not one `encode_token` made."""
    token = subject.rpartition(".")[2]
    try:
        return subjects.decode_token(token)
    except ValueError:
        return token


def _event_type_of_subject(subject: str) -> str:
    """For a message published without the type header (by a tool, say): the subject tells."""
    prefix = subject.rpartition(".")[0]
    if prefix == subjects.PHONE_EVENT.prefix:
        return PHONE_EVENT_TYPE
    if prefix == subjects.PHONE_STATUS.prefix:
        return PHONE_STATUS_TYPE
    return ""


def _parse(message: Message, payload: bytes) -> None:
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise ValueError(f"undecodable {message.DESCRIPTOR.full_name}: {exc}") from exc


def _dumps(document: dict[str, Any]) -> str:
    # Compact, like the original's Play JSON; UTF-8 as is (the body is sent as UTF-8).
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def event_body(subject: str, payload: bytes, event_type: str | None) -> EventBody | None:
    """The user and JSON body the event URL receives for a telephony message.

    `event_type` is the `Xuc-Event-Type` header (a protobuf full name); without it the subject
    decides. None for a type the event URL does not receive (the forwarder acks and skips it).
    ValueError for a payload that is not the message its type says: it can never be posted.
    """
    kind = event_type or _event_type_of_subject(subject)
    if kind == PHONE_EVENT_TYPE:
        event = PhoneEvent()
        _parse(event, payload)
        username = event.username or _subject_key(subject)
        return EventBody(username, _dumps({
            "username": username,
            "message": {
                "msgType": "PhoneEvent",
                "ctiMessage": {
                    "eventType": event.event_type,
                    "DN": event.dn,
                    "otherDN": event.other_dn,
                    "linkedId": event.linked_id,
                    "uniqueId": event.unique_id,
                    "userData": dict(sorted(event.user_data.items())),  # one event, one body
                },
            },
        }))
    if kind == PHONE_STATUS_TYPE:
        status = PhoneStatusChanged()
        _parse(status, payload)
        username = status.username or _subject_key(subject)
        return EventBody(username, _dumps({"username": username, "status": status.status}))
    return None


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): doubling from `initial`,
    capped at `maximum`, less up to a quarter (`jitter` in [0, 1)) so that lanes failing together
    do not all come back at the same instant."""
    base = min(maximum, initial * 2.0 ** min(attempt - 1, 32))
    return base * (1.0 - 0.25 * jitter)


# --- the forwarder ----------------------------------------------------------------------------------
def loggable_url(url: str) -> str:
    """The URL without what may be a secret (user:password@, the query): webhook URLs often carry
    a token, and logs are read by more people than the configuration."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class ForwarderStats:
    """Counters of this forwarder since start (the process's Prometheus metrics count the same)."""

    received: int = 0  # messages taken from JetStream, redeliveries included
    attempts: int = 0  # HTTP posts tried
    delivered: int = 0  # events the receiver accepted (2xx), then acked
    failures: int = 0  # attempts that failed: timeout, connection error, non-2xx answer
    dead_lettered: int = 0  # events set aside in XUC_WEBHOOK_DEAD
    skipped: int = 0  # messages of other types, acked without a post
    duplicates: int = 0  # redeliveries of a message this process already held: not posted again
    overflowed: int = 0  # events dead-lettered at once: their user's backlog was full


@dataclass
class _Held:
    """A message this process is responsible for until it is acked (or nak'd at stop)."""

    msg: Msg  # the latest delivery: acks and progress go to its reply subject
    sequence: int  # stream sequence: the identity of the event across redeliveries
    username: str
    body: str
    error: str  # set for an undecodable payload: dead-lettered without a post
    event_type: str
    progressed_at: float
    crashes: int = 0  # unexpected errors while processing it (bugs, not receiver failures)


@dataclass(frozen=True)
class _Outcome:
    kind: Literal["delivered", "retry", "final", "stopped"]
    error: str = ""


class EventForwarder:
    """Posts phone events and phone status changes from JetStream to the event URL.

    Build it in the composition root, `await start()` once NATS is connected, `await stop()`
    before the NATS connection is closed. Counters are in `stats`.
    """

    def __init__(
        self,
        connection: Client,
        event_url: str,
        *,
        max_attempts: int = 10,
        timeout_seconds: float = 5.0,
        initial_backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        max_ack_pending: int = 10_000,
        max_user_backlog: int = 1000,
        max_concurrent_posts: int = 64,
        ack_wait_seconds: float = 30.0,
        lag_interval_seconds: float = 5.0,
        consumer: str = subjects.WEBHOOK_CONSUMER,
        deliver_group: str = subjects.WEBHOOK_DELIVER_GROUP,
    ) -> None:
        if not event_url:
            raise ValueError("event_url is required")
        if min(max_attempts, max_ack_pending, max_user_backlog, max_concurrent_posts) < 1:
            raise ValueError("max_attempts, max_ack_pending, max_user_backlog and max_concurrent_posts "
                             "must be at least 1")
        if min(timeout_seconds, initial_backoff_seconds, max_backoff_seconds, ack_wait_seconds,
               lag_interval_seconds) <= 0:
            raise ValueError("timeouts, back-off, ack_wait and the lag interval must be positive")
        self._connection = connection
        self._js: JetStreamContext = connection.jetstream()
        self._url = event_url
        self._max_attempts = max_attempts
        self._timeout = timeout_seconds
        self._initial_backoff = initial_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._max_ack_pending = max_ack_pending
        self._max_user_backlog = max_user_backlog
        self._max_concurrent_posts = max_concurrent_posts
        self._ack_wait = ack_wait_seconds
        # A held message reports progress once it is this old; checked twice as often, so reports
        # are at most half of ack_wait apart: JetStream never sees one time out.
        self._progress_interval = ack_wait_seconds / 3
        self._consumer = consumer
        self._deliver_group = deliver_group
        self._lag_interval = lag_interval_seconds
        self.stats = ForwarderStats()
        # Prometheus children, looked up once: recording is an increment.
        self._count_received = metrics.WEBHOOK_RECEIVED.labels(consumer).inc
        self._record_post = {kind: (metrics.WEBHOOK_DELIVERIES.labels(outcome).inc,
                                    metrics.WEBHOOK_DELIVERY_DURATION.labels(outcome).observe)
                             for kind, outcome in POST_OUTCOMES.items()}
        self._count_dead = {cause: metrics.WEBHOOK_DEAD_LETTERED.labels(cause).inc
                            for cause in ("attempts", "refused", "backlog", "invalid", "error")}
        self._pending_gauge = metrics.EVENT_CONSUMER_PENDING.labels(consumer)
        self._ack_pending_gauge = metrics.EVENT_CONSUMER_ACK_PENDING.labels(consumer)

        self._session: aiohttp.ClientSession | None = None
        self._subscription: JetStreamContext.PushSubscription | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._lag_sampler: asyncio.Task[None] | None = None
        self._posts = asyncio.Semaphore(max_concurrent_posts)
        self._stopping = asyncio.Event()
        self._held: dict[int, _Held] = {}
        self._lanes: dict[str, deque[_Held]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._refused: list[Msg] = []  # delivered while stopping: nak'd with the rest

    @classmethod
    def from_settings(cls, connection: Client, settings: Settings) -> EventForwarder:
        """XUC_EVENT_URL, XUC_EVENT_MAX_ATTEMPTS, XUC_EVENT_TIMEOUT_MS, XUC_EVENT_MAX_BACKOFF_MS."""
        return cls(connection, settings.event_url, max_attempts=settings.event_max_attempts,
                   timeout_seconds=settings.event_timeout_seconds,
                   max_backoff_seconds=settings.event_max_backoff_seconds)

    @property
    def held(self) -> int:
        """Messages taken and not yet acked: posting, backing off, or waiting behind their user's."""
        return len(self._held)

    # --- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the streams and the consumer if needed (idempotent), then take events."""
        if self._session is not None:
            raise RuntimeError("the forwarder is already started")
        await ensure_stream(self._js, subjects.webhook_dead_stream())
        # The telephony service creates the stream. When it did after we started, every event in it
        # is newer than this start: a new consumer takes them all, not only those after its creation.
        created_meanwhile = await wait_for_stream(self._js, subjects.TELEPHONY_STREAM)
        config = await self._ensure_consumer(DeliverPolicy.ALL if created_meanwhile else DeliverPolicy.NEW)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_concurrent_posts),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"Content-Type": "application/json", "User-Agent": "xuc-event-forwarder"},
        )
        try:
            self._subscription = await self._js.subscribe_bind(
                stream=subjects.TELEPHONY_STREAM, config=config, consumer=self._consumer,
                cb=self._on_message, manual_ack=True,
            )
        except BaseException:
            await self._session.close()
            self._session = None
            raise
        self._heartbeat = asyncio.create_task(self._keep_alive())
        self._lag_sampler = asyncio.create_task(self._sample_lag_periodically())
        log.info("forwarding events to the event URL",
                 extra={"url": loggable_url(self._url), "consumer": self._consumer, "max_attempts": self._max_attempts})

    async def stop(self) -> None:
        """Drain: take no new message, let posts in flight finish, nak what was not delivered."""
        if self._session is None or self._stopping.is_set():
            return
        self._stopping.set()  # wakes lanes backing off; lanes stop after their current post
        if self._subscription is not None:
            try:
                # Messages already received go to _refused. (nats-py leaves drain unannotated.)
                await self._subscription.drain()  # type: ignore[no-untyped-call]
            except Exception as exc:
                log.warning("event forwarder: could not drain the subscription: %s", exc)
        if self._lane_tasks:
            _, late = await asyncio.wait(set(self._lane_tasks), timeout=self._timeout + DRAIN_GRACE_SECONDS)
            await cancel_all(late)
        await self._nak_everything_held()
        await cancel_all([self._heartbeat, self._lag_sampler])
        await self._flush()
        await self._session.close()
        log.info("event forwarder stopped", extra={"delivered": self.stats.delivered,
                                                   "dead_lettered": self.stats.dead_lettered})

    async def _ensure_consumer(self, first_events: DeliverPolicy) -> ConsumerConfig:
        """The shared durable push consumer, created at the first start (from new events on: a
        newly set event URL does not receive a week of history; from the stream's start when the
        stream is younger than this start), kept at later starts."""
        stream = subjects.TELEPHONY_STREAM
        filters = sorted(subjects.WEBHOOK_SUBJECTS)
        try:
            info = await self._js.consumer_info(stream, self._consumer)
        except NotFoundError:
            config = ConsumerConfig(
                name=self._consumer, durable_name=self._consumer,
                description="xuc gateways: events POSTed to the event URL",
                deliver_subject=subjects.webhook_deliver_subject(self._consumer), deliver_group=self._deliver_group,
                deliver_policy=first_events, ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self._ack_wait, max_ack_pending=self._max_ack_pending, max_deliver=-1,
                filter_subjects=filters,
            )
            created = await self._js.add_consumer(stream, config)
            log.info("created consumer", extra={"stream": stream, "consumer": self._consumer})
            return created.config
        existing: ConsumerConfig = info.config
        if not existing.deliver_subject or existing.deliver_group != self._deliver_group:
            raise RuntimeError(f"consumer {self._consumer} of {stream} is not a push consumer with deliver group "
                               f"{self._deliver_group}: delete it (nats consumer rm) to let the gateway create it")
        current_filters = sorted(existing.filter_subjects or ([existing.filter_subject] if existing.filter_subject
                                                              else []))
        if (existing.ack_wait, existing.max_ack_pending, current_filters) == (self._ack_wait, self._max_ack_pending,
                                                                              filters):
            return existing
        updated = await self._js.add_consumer(stream, existing.evolve(
            ack_wait=self._ack_wait, max_ack_pending=self._max_ack_pending, filter_subject=None,
            filter_subjects=filters,
        ))
        log.info("updated consumer", extra={"stream": stream, "consumer": self._consumer})
        return updated.config

    # --- taking messages --------------------------------------------------------------------------
    async def _on_message(self, msg: Msg) -> None:
        """Called for each delivery, one at a time: must not wait on HTTP; hands over to a lane."""
        self.stats.received += 1
        self._count_received()
        if self._stopping.is_set():
            self._refused.append(msg)
            return
        try:
            metadata = msg.metadata
            sequence = metadata.sequence.stream
        except Exception:
            log.warning("event forwarder: not a JetStream message, ignored", extra={"subject": msg.subject})
            return
        if (metadata.stream, metadata.consumer) != (subjects.TELEPHONY_STREAM, self._consumer):
            # Pushed to our delivery subject by another consumer (one a NATS user made to deliver
            # there): not an event of ours to post, nor to ack (the ack would go to that consumer).
            log.warning("event forwarder: a message from another consumer, ignored",
                        extra={"stream": metadata.stream, "consumer": metadata.consumer})
            return
        held = self._held.get(sequence)
        if held is not None:
            # JetStream redelivered a message a lane holds (progress reached the server late):
            # answer on the newest delivery, post it once.
            held.msg = msg
            self.stats.duplicates += 1
            return
        event_type = (msg.headers or {}).get(subjects.EVENT_TYPE_HEADER, "")
        try:
            mapped = event_body(msg.subject, msg.data, event_type)
        except ValueError as exc:
            mapped, error = EventBody(_subject_key(msg.subject), ""), str(exc)
        else:
            error = ""
            if mapped is None:
                self.stats.skipped += 1
                log.debug("event forwarder: skipped", extra={"subject": msg.subject, "event_type": event_type})
                await self._ack(msg)
                return
        held = _Held(msg, sequence, mapped.username, mapped.body, error,
                     event_type or _event_type_of_subject(msg.subject), time.monotonic())
        waiting = len(self._lanes.get(held.username, ()))
        if waiting >= self._max_user_backlog:
            # The receiver has been failing for this user for a long while. Every held event counts
            # against the consumer's max_ack_pending, shared by all users: past this backlog, the
            # user's new events are set aside at once, so that the others keep flowing.
            self.stats.overflowed += 1
            await self._dead_letter(held, 0, f"backlog: {waiting} earlier events of this user wait for the event URL",
                                    "backlog")
            return
        self._enqueue(held)

    def _enqueue(self, held: _Held) -> None:
        self._held[held.sequence] = held
        lane = self._lanes.get(held.username)
        if lane is None:
            lane = self._lanes[held.username] = deque()
            task = asyncio.create_task(self._run_lane(held.username, lane))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        lane.append(held)

    async def _run_lane(self, username: str, lane: deque[_Held]) -> None:
        """A user's events, one after the other; the lane ends when it is empty (or at stop)."""
        while lane and not self._stopping.is_set():
            held = lane[0]
            try:
                decided = await self._process(held)
            except Exception as exc:
                # A bug, not a receiver failure. The event stays first in its lane (the user's later
                # events must not overtake it) and is tried again after a pause; one that keeps
                # failing is set aside, so that it cannot block its user forever.
                held.crashes += 1
                log.exception("event forwarder: unexpected error", extra={"username": username,
                                                                          "crashes": held.crashes})
                if held.crashes < MAX_CRASHES:
                    if await self._stopped_within(self._initial_backoff):
                        break
                    continue
                decided = await self._dead_letter(held, 0, f"unexpected error: {exc!r}"[:500], "error")
            if not decided:
                break  # stopping: the event stays held and is nak'd by stop()
            lane.popleft()
            self._held.pop(held.sequence, None)
        if not lane:
            self._lanes.pop(username, None)

    # --- delivering one event ---------------------------------------------------------------------
    async def _process(self, held: _Held) -> bool:
        """Post until the outcome is decided (True: acked) or the forwarder stops (False)."""
        if held.error:
            return await self._dead_letter(held, 0, held.error, "invalid")
        attempt = 0
        while True:
            outcome = await self._post(held)
            if outcome.kind == "stopped":
                return False
            attempt += 1
            if outcome.kind == "delivered":
                self.stats.delivered += 1
                await self._ack(held.msg)
                return True
            self.stats.failures += 1
            if outcome.kind == "final" or attempt >= self._max_attempts:
                return await self._dead_letter(held, attempt, outcome.error,
                                               "refused" if outcome.kind == "final" else "attempts")
            delay = backoff_delay(attempt, self._initial_backoff, self._max_backoff, random.random())
            log.warning("event URL: attempt failed, retrying", extra={
                "username": held.username, "sequence": held.sequence, "attempt": attempt,
                "error": outcome.error, "next_delay_seconds": round(delay, 3)})
            await self._progress(held)
            if await self._stopped_within(delay):
                return False

    async def _post(self, held: _Held) -> _Outcome:
        async with self._posts:
            if self._stopping.is_set():
                return _Outcome("stopped")
            self.stats.attempts += 1
            started = time.perf_counter()
            outcome = await self._send(held)
            count, observe = self._record_post[outcome.kind]
            count()
            observe(time.perf_counter() - started)
        return outcome

    async def _send(self, held: _Held) -> _Outcome:
        """One POST of the event, and what its answer (or its failure) means."""
        assert self._session is not None
        headers: dict[str, str] = {}
        event_id = (held.msg.headers or {}).get("Nats-Msg-Id")
        if event_id:
            headers[EVENT_ID_HEADER] = event_id
        try:
            async with self._session.post(self._url, data=held.body.encode(), headers=headers,
                                          allow_redirects=False) as response:
                await response.read()  # so that the connection goes back to the pool
                status = response.status
        except TimeoutError:
            return _Outcome("retry", "timeout")
        except aiohttp.ClientConnectorError as exc:
            refused = exc.os_error.errno == errno.ECONNREFUSED
            return _Outcome("retry", "connection refused" if refused else f"connection error: {exc.os_error}")
        except aiohttp.ClientError as exc:
            return _Outcome("retry", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if 200 <= status < 300:
            return _Outcome("delivered")
        if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
            return _Outcome("retry", f"HTTP {status}")
        return _Outcome("final", f"HTTP {status}")

    async def _dead_letter(self, held: _Held, attempts: int, last_error: str, cause: DeadLetterCause) -> bool:
        """Set the event aside in XUC_WEBHOOK_DEAD, then ack it. Until the dead letter is stored
        (NATS trouble) the event is not acked: it is retried here, or nak'd at stop."""
        failed_at = Timestamp()
        failed_at.GetCurrentTime()
        record = UndeliveredEvent(subject=held.msg.subject, payload=held.msg.data, event_type=held.event_type,
                                  body=held.body, attempts=attempts, last_error=last_error, failed_at=failed_at)
        headers = {subjects.EVENT_TYPE_HEADER: UNDELIVERED_TYPE,
                   # A second dead letter for the same event (a crash before the ack) is dropped.
                   "Nats-Msg-Id": f"{subjects.TELEPHONY_STREAM}:{held.sequence}"}
        while True:
            try:
                await self._js.publish(subjects.WEBHOOK_DEAD.for_key(held.username), record.SerializeToString(),
                                       timeout=DEAD_LETTER_PUBLISH_TIMEOUT_SECONDS, headers=headers)
                metrics.NATS_PUBLISHING.published(UndeliveredEvent.DESCRIPTOR.name)
                break
            except Exception as exc:
                metrics.NATS_PUBLISHING.failed(UndeliveredEvent.DESCRIPTOR.name)
                log.error("event forwarder: could not store a dead letter, retrying: %s", exc,
                          extra={"username": held.username, "sequence": held.sequence})
                await self._progress(held)
                if await self._stopped_within(min(self._max_backoff, self._progress_interval)):
                    return False
        self.stats.dead_lettered += 1
        self._count_dead[cause]()
        log.error("event URL: event set aside in %s", subjects.WEBHOOK_DEAD_STREAM, extra={
            "username": held.username, "sequence": held.sequence, "subject": held.msg.subject,
            "attempts": attempts, "error": last_error})
        await self._ack(held.msg)
        return True

    # --- acks, progress and stop ------------------------------------------------------------------
    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep `seconds`, cut short by stop(); True if the forwarder is stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _keep_alive(self) -> None:
        """Report progress on every held message before ack_wait runs out, so that JetStream
        redelivers none of them (to this process or to another gateway) while it is held."""
        while True:
            await asyncio.sleep(self._progress_interval / 2)
            now = time.monotonic()
            for held in list(self._held.values()):
                if now - held.progressed_at >= self._progress_interval:
                    await self._progress(held)

    async def sample_lag(self) -> None:
        """Read the consumer's backlog from JetStream into the lag gauges; a failure (NATS down) is
        logged at debug level and leaves the last values."""
        try:
            info = await self._js.consumer_info(subjects.TELEPHONY_STREAM, self._consumer,
                                                timeout=LAG_TIMEOUT_SECONDS)
        except Exception as exc:
            log.debug("event forwarder: consumer lag not sampled: %s", exc)
            return
        self._pending_gauge.set(info.num_pending or 0)
        self._ack_pending_gauge.set(info.num_ack_pending or 0)

    async def _sample_lag_periodically(self) -> None:
        while True:
            await self.sample_lag()
            await asyncio.sleep(self._lag_interval)

    async def _progress(self, held: _Held) -> None:
        held.progressed_at = time.monotonic()
        try:
            await held.msg.in_progress()
        except Exception as exc:  # NATS closed: the message will be redelivered, nothing to do
            log.debug("event forwarder: progress not reported: %s", exc)

    async def _ack(self, msg: Msg) -> None:
        try:
            await msg.ack()
        except Exception as exc:  # the event may be posted again after a redelivery: at least once
            log.warning("event forwarder: ack failed: %s", exc, extra={"subject": msg.subject})

    async def _nak(self, msg: Msg, delay: float | None = None) -> None:
        try:
            await msg.nak(delay=delay)
        except Exception as exc:  # redelivered after ack_wait instead
            log.debug("event forwarder: nak failed: %s", exc)

    async def _nak_everything_held(self) -> None:
        """At stop, give back what was not delivered, oldest first, for another member to post."""
        pending = sorted(self._held.values(), key=lambda held: held.sequence)
        for held in pending:
            await self._nak(held.msg)
        for msg in self._refused:
            await self._nak(msg)
        self._held.clear()
        self._lanes.clear()
        self._refused.clear()

    async def _flush(self) -> None:
        """Acks and naks are buffered publishes: make sure they reached the server."""
        if not self._connection.is_connected:
            return
        try:
            await self._connection.flush(timeout=2)
        except Exception as exc:
            log.warning("event forwarder: flush failed: %s", exc)
