"""Phone events driven through a whole stack for the event-path fault tests, and the checks on
what reached the webhook receiver and the stream.

In every fault, every event reaches the receiver, in order per user, none lost. Stored once: the
publisher re-publishes unacknowledged events with the same `Nats-Msg-Id`, so the stream holds each
event once (checked by reading the stream). Posted: at least once; a POST whose JetStream ack was
lost in the crash is posted again (the forwarder cannot know it was acknowledged), so the receiver
may see a double, identical, with the same `X-Xuc-Event-Id` (docs/events.md, the event URL); the checks
deduplicate by that id, check the order of first arrivals and that a double is an exact copy.

Per call at the receiver, for the line's user: EventRinging and phone status 8, then EventReleased
and status 0; phone events are matched by uniqueId, statuses by order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import grpc
import nats
import pytest
from nats.js.api import DeliverPolicy

from tests.e2e.conftest import Stack
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.metrics import scrape_url
from tests.support.webhook_receiver import ReceivedRequest, ThreadedWebhookReceiver
from xuc import subjects
from xuc.runtime.grpc_client import service_metadata
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

# login -> line; none of them used by another test module
FAULT_USERS = {"faulta": "1201", "faultb": "1202", "faultc": "1203", "faultd": "1204"}


HOLD_SECONDS = 0.05  # from a call to its hang-up


GAP_SECONDS = 0.1  # between a line's calls: 4 lines, ~25 calls/s, ~100 events/s


RPC_TIMEOUT_SECONDS = 10.0


DELIVERY_TIMEOUT_SECONDS = 40.0


EVENT_ID = "x-xuc-event-id"


def phone_stack(make_stack: Callable[..., Stack], receiver: ThreadedWebhookReceiver, **env: str) -> Stack:
    stack = make_stack(**{"XUC_EVENT_URL": receiver.url, "XUC_EVENT_MAX_ATTEMPTS": "1000",
                          "XUC_EVENT_MAX_BACKOFF_MS": "500", "XUC_SIM_RING_TIMEOUT": "30", **env})
    path = stack.write_file("faults.yaml", {"users": [
        {"login": login, "password": f"{login}-secret", "line": line} for login, line in FAULT_USERS.items()]})
    stack.xuc("provision", str(path))
    return stack


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text page, parsed by prometheus_client: 0 for labels never observed,
    a failed assertion when the page has no such metric family at all (tests/support/metrics.py)."""
    return scrape_url(url).value(name, **labels)


def telephony_metrics(stack: Stack) -> str:
    return f"http://{stack.run_file('telephony')['metrics']}/metrics"


# --- driving phone calls ----------------------------------------------------------------------------
@dataclass
class PhoneDriver:
    """Calls from an outside number to each line in turn, in one task per line, until stopped."""

    stack: Stack
    lines: dict[str, str]  # login -> line
    calls: dict[str, list[str]] = field(default_factory=dict)  # login -> uniqueIds of its calls, in order
    errors: list[str] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _channel: grpc.aio.Channel | None = None

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.stack.run_file("telephony")["grpc"])
        simulator = telephony_pb2_grpc.SimulatorStub(self._channel)
        metadata = service_metadata(self.stack.service_token())
        for index, (login, line) in enumerate(self.lines.items()):
            self.calls[login] = []
            self._tasks.append(asyncio.create_task(self._line_loop(simulator, metadata, index, login, line)))

    async def _line_loop(self, simulator: telephony_pb2_grpc.SimulatorStub, metadata: Any, index: int,
                         login: str, line: str) -> None:
        while not self._stopping.is_set():
            try:
                placed = await simulator.PlaceCall(telephony_pb2.PlaceCallRequest(
                    caller=f"0698{index:06d}", callee=line), metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)
                unique_id = placed.unique_ids[-1]  # the line's channel
                self.calls[login].append(unique_id)
                await asyncio.sleep(HOLD_SECONDS)
                await simulator.Hangup(telephony_pb2.CallAction(number=line, unique_id=unique_id),
                                       metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as exc:
                self.errors.append(f"{login}: {exc.code().name} {exc.details()}")
                return
            await asyncio.sleep(GAP_SECONDS)

    async def place_marker_calls(self) -> None:
        """One more call to each line (placed, then hung up), on a channel of its own (after stop()):
        the last events of each user's lane, so that when they have arrived everything before has."""
        async with grpc.aio.insecure_channel(self.stack.run_file("telephony")["grpc"]) as channel:
            simulator = telephony_pb2_grpc.SimulatorStub(channel)
            metadata = service_metadata(self.stack.service_token())
            for index, (login, line) in enumerate(self.lines.items()):
                placed = await simulator.PlaceCall(telephony_pb2.PlaceCallRequest(
                    caller=f"0698{index:06d}", callee=line), metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)
                unique_id = placed.unique_ids[-1]
                self.calls[login].append(unique_id)
                await simulator.Hangup(telephony_pb2.CallAction(number=line, unique_id=unique_id),
                                       metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        assert not self.errors, self.errors

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        if self._channel is not None:
            await self._channel.close()
        assert not self.errors, self.errors

    @property
    def total_calls(self) -> int:
        return sum(len(ids) for ids in self.calls.values())


# --- checking what arrived ----------------------------------------------------------------------------
def deliveries_of(receiver: ThreadedWebhookReceiver, logins: set[str], after: int) -> list[ReceivedRequest]:
    return [request for request in list(receiver.receiver.deliveries)[after:]
            if isinstance(request.body, dict) and request.body.get("username") in logins]


def first_arrivals(requests: list[ReceivedRequest]) -> tuple[list[ReceivedRequest], int]:
    """The deliveries without doubles (by X-Xuc-Event-Id; a double must be an exact copy), and
    how many doubles there were."""
    seen: dict[str, Any] = {}
    firsts: list[ReceivedRequest] = []
    for request in requests:
        headers = {key.lower(): value for key, value in request.headers.items()}
        event_id = headers[EVENT_ID]
        if event_id in seen:
            assert seen[event_id] == request.body, f"two different bodies for event {event_id}"
            continue
        seen[event_id] = request.body
        firsts.append(request)
    return firsts, len(requests) - len(firsts)


def expected_of(unique_ids: list[str]) -> tuple[list[tuple[str, str]], list[int]]:
    phone = [(kind, unique_id) for unique_id in unique_ids for kind in ("EventRinging", "EventReleased")]
    return phone, [8, 0] * len(unique_ids)


def received_of(requests: list[ReceivedRequest], login: str) -> tuple[list[tuple[str, str]], list[int]]:
    bodies = [request.body for request in requests if request.body["username"] == login]
    phone = [(body["message"]["ctiMessage"]["eventType"], body["message"]["ctiMessage"]["uniqueId"])
             for body in bodies if "message" in body]
    statuses = [body["status"] for body in bodies if "status" in body]
    return phone, statuses


def wait_until_quiet(receiver: ThreadedWebhookReceiver, quiet: float = 1.0,
                     within: float = EVENT_DEADLINE_SECONDS) -> int:
    """Wait until nothing arrives for `quiet` s (provisioning's statuses are in); the count so far."""
    deadline = time.monotonic() + within
    count, since = len(receiver.receiver.requests), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the receiver never went quiet"
        time.sleep(0.1)
        if len(receiver.receiver.requests) != count:
            count, since = len(receiver.receiver.requests), time.monotonic()
    return len(receiver.receiver.deliveries)


async def assert_every_event_delivered_in_order(receiver: ThreadedWebhookReceiver, driver: PhoneDriver,
                                                after: int, within: float = DELIVERY_TIMEOUT_SECONDS) -> int:
    """Every call's four events at the receiver, in order per user; returns the doubles' count.

    Once they are in, one more call per user (driver.place_marker_calls) is waited for too: a user's
    events arrive in order, so an extra or late event would have come before that call's and is seen."""
    logins = set(driver.calls)

    async def all_arrived() -> None:
        expected = {login: expected_of(ids) for login, ids in driver.calls.items()}
        deadline = time.monotonic() + within
        while True:
            firsts, _ = first_arrivals(deliveries_of(receiver, logins, after))
            received = {login: received_of(firsts, login) for login in logins}
            if all(len(received[login][0]) >= len(expected[login][0])
                   and len(received[login][1]) >= len(expected[login][1]) for login in logins):
                return
            if time.monotonic() > deadline:
                missing = {login: (len(expected[login][0]) - len(received[login][0]),
                                   len(expected[login][1]) - len(received[login][1])) for login in logins}
                pytest.fail(f"events missing after {within} s (phone events, statuses) per user: {missing}")
            await asyncio.sleep(0.2)

    await all_arrived()
    await driver.place_marker_calls()
    await all_arrived()
    expected = {login: expected_of(ids) for login, ids in driver.calls.items()}
    firsts, doubles = first_arrivals(deliveries_of(receiver, logins, after))
    for login in logins:
        phone, statuses = received_of(firsts, login)
        assert phone == expected[login][0], f"{login}: phone events out of order, lost or extra"
        assert statuses == expected[login][1], f"{login}: statuses out of order, lost or extra"
    return doubles


async def stored_events(urls: str, stream: str = subjects.TELEPHONY_STREAM) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of every message of the stream's phone and status subjects, in stream order."""
    client = await nats.connect(urls.split(","), name="xuc-faults-reader")
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        out: list[tuple[str, str]] = []
        subscription = await js.subscribe("xuc.telephony.>", stream=stream, ordered_consumer=True,
                                          deliver_policy=DeliverPolicy.ALL)
        for _ in range(info.state.messages):
            message = await subscription.next_msg(timeout=EVENT_DEADLINE_SECONDS)
            if message.subject.startswith((subjects.PHONE_EVENT.prefix, subjects.PHONE_STATUS.prefix)):
                out.append((message.subject, (message.headers or {}).get("Nats-Msg-Id", "")))
        await subscription.unsubscribe()
        return out
    finally:
        await client.close()


def assert_stored_once_in_order(stored: list[tuple[str, str]], receiver: ThreadedWebhookReceiver,
                                driver: PhoneDriver, after: int) -> None:
    """Each event stored once (no Nats-Msg-Id twice), and per subject in the order it happened: the
    Nats-Msg-Ids of a user's phone events, and of its statuses, in stream order are the
    X-Xuc-Event-Ids of the first arrivals at the receiver (already checked against the calls' order
    by assert_every_event_delivered_in_order), every one of them stored."""
    ids = [msg_id for _, msg_id in stored]
    assert all(ids), "a stored event without Nats-Msg-Id"
    doubles = {msg_id for msg_id in ids if ids.count(msg_id) > 1}
    assert not doubles, f"stored twice: {sorted(doubles)[:5]}"
    firsts, _ = first_arrivals(deliveries_of(receiver, set(driver.calls), after))
    for login, unique_ids in driver.calls.items():
        bodies = [(request.body, {key.lower(): value for key, value in request.headers.items()}[EVENT_ID])
                  for request in firsts if request.body["username"] == login]
        for subject, kind, count in ((subjects.PHONE_EVENT.for_key(login), "message", 2 * len(unique_ids)),
                                     (subjects.PHONE_STATUS.for_key(login), "status", 2 * len(unique_ids))):
            delivered = [event_id for body, event_id in bodies if kind in body]
            assert len(delivered) == count, (subject, len(delivered), count)
            wanted = set(delivered)
            in_stream = [msg_id for stored_subject, msg_id in stored if stored_subject == subject and msg_id in wanted]
            assert in_stream == delivered, f"{subject}: stored out of order or missing " \
                                           f"({len(in_stream)} of {len(delivered)} stored)"


async def sample_while(seconds: float, sample: Callable[[], float]) -> float:
    """The highest value `sample` (blocking: run in a thread) gave during `seconds`."""
    highest, deadline = 0.0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        with suppress(OSError):
            highest = max(highest, await asyncio.to_thread(sample))
        await asyncio.sleep(0.2)
    return highest
