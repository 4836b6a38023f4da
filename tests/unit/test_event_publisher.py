"""NatsEventPublisher through a NATS outage (xuc/runtime/events.py), against a hand-written fake
JetStream that behaves as a stream does: it stores in arrival order, drops a message whose
`Nats-Msg-Id` it already stored, can be down (no answer: the publish times out), can lose the ack
of a message it stored, and can refuse a subject (an error answer).

The real thing (nats-server restarted, a cluster node killed) is tests/e2e/event_path_faults/test_faults_nats.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from xuc.runtime import events
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.metrics import PublishMetrics
from xucproto.events.v1.contacts_events_pb2 import ContactChanged

TIMEOUT = 0.05  # the publish timeout in these tests (2 s in production)


class Refused(Exception):
    pass


class FakeStream:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str]] = []  # (subject, Nats-Msg-Id) in storage order
        self.ids: set[str] = set()
        self.down = False  # no answer at all: publishes time out, nothing is stored
        self.lose_acks = 0  # the next N stored messages get no ack (stored all the same)
        self.refused: set[str] = set()  # subjects answered with an error
        self.attempts = 0

    def receive(self, subject: str, headers: dict[str, str]) -> bool | None:
        """True: acked; False: error answer; None: no answer."""
        self.attempts += 1
        if self.down:
            return None
        if subject in self.refused:
            return False
        msg_id = headers["Nats-Msg-Id"]
        if msg_id not in self.ids:  # the duplicate window: a retried event is stored once
            self.ids.add(msg_id)
            self.stored.append((subject, msg_id))
        if self.lose_acks:
            self.lose_acks -= 1
            return None
        return True

    def ids_of(self, subject: str) -> list[str]:
        return [msg_id for stored_subject, msg_id in self.stored if stored_subject == subject]


class FakeJetStream:
    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream

    async def publish(self, subject: str, payload: bytes, timeout: float,  # noqa: ASYNC109 (nats-py's signature)
                      headers: dict[str, str]) -> object:
        answer = self.stream.receive(subject, headers)
        if answer is None:
            await asyncio.sleep(timeout)
            raise TimeoutError("nats: timeout")
        if not answer:
            raise Refused(subject)
        return object()

    async def publish_async(self, subject: str, payload: bytes, wait_stall: Any, headers: dict[str, str]
                            ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answer = self.stream.receive(subject, headers)
        if answer:
            ack.set_result(object())
        elif answer is False:
            ack.set_exception(Refused(subject))
        return ack  # no answer: never resolved


class FakeConnection:
    def __init__(self) -> None:
        self.stream = FakeStream()
        self.js = FakeJetStream(self.stream)
        self.is_connected = True

    def jetstream(self) -> FakeJetStream:
        return self.js


@dataclass(frozen=True)
class Changed:
    event_id: str
    owner: str


def to_message(event: Changed) -> tuple[str, ContactChanged]:
    return f"test.contact.{event.owner}", ContactChanged(owner_login=event.owner, contact_id=event.event_id)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def lost() -> float:
    return sample("xuc_nats_publish_failures_total", event="ContactChanged")


def buffered() -> float:
    return sample("xuc_nats_publish_buffered")


def batch(owner: str, first: int, count: int) -> list[Changed]:
    return [Changed(f"{owner}-{n}", owner) for n in range(first, first + count)]


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "PUBLISH_TIMEOUT_SECONDS", TIMEOUT)
    monkeypatch.setattr(events, "RETRY_MIN_SECONDS", 0.01)
    monkeypatch.setattr(events, "RETRY_MAX_SECONDS", 0.02)


def publisher(connection: FakeConnection, confirm: bool, buffer_size: int = 100,
              close_timeout: float = 2.0) -> NatsEventPublisher[Changed]:
    return NatsEventPublisher(cast(Any, connection), to_message, confirm=confirm, metrics=PublishMetrics(),
                              buffer_size=buffer_size, close_timeout=close_timeout)


async def until(condition: Any, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# --- NATS down: held, then published in order -------------------------------------------------------------
@pytest.mark.parametrize("confirm", [True, False])
async def test_events_published_while_nats_is_down_are_held_and_published_in_order_once_it_is_back(
    confirm: bool,
) -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm)
    before_lost, before_buffered = lost(), buffered()
    connection.is_connected = False
    connection.stream.down = True
    attempts_before = connection.stream.attempts
    await events_out.publish(batch("alice", 0, 3))
    await events_out.publish(batch("bob", 0, 2))
    # the caller did not wait out a publish timeout: its events were held without an attempt
    assert connection.stream.attempts == attempts_before
    assert events_out.held == 5
    assert buffered() - before_buffered == 5

    connection.is_connected = True
    connection.stream.down = False
    await events_out.publish(batch("alice", 3, 1))  # after the outage: behind the held ones
    await until(lambda: events_out.held == 0)
    assert connection.stream.ids_of("test.contact.alice") == [f"alice-{n}" for n in range(4)]
    assert connection.stream.ids_of("test.contact.bob") == ["bob-0", "bob-1"]
    assert [msg_id for _, msg_id in connection.stream.stored][:5] == [
        "alice-0", "alice-1", "alice-2", "bob-0", "bob-1"]
    await events_out.close()
    assert lost() == before_lost
    assert buffered() == before_buffered


async def test_a_pipelined_event_without_an_ack_is_published_again_before_any_newer_one() -> None:
    """The hot path writes at once; an event whose ack never came goes out again, and every event
    published after it (not sent yet) waits behind it."""
    connection = FakeConnection()
    events_out = publisher(connection, confirm=False)
    await events_out.publish(batch("alice", 0, 2))
    connection.stream.down = True  # NATS stops answering: alice-2 and alice-3 are written into the void
    await events_out.publish(batch("alice", 2, 2))
    await until(lambda: events_out.held == 2)  # their acks timed out
    await events_out.publish(batch("alice", 4, 2))  # new events join the buffer, not the wire
    assert events_out.held == 4
    connection.stream.down = False
    await until(lambda: events_out.held == 0)
    assert connection.stream.ids_of("test.contact.alice") == [f"alice-{n}" for n in range(6)]
    await events_out.publish(batch("alice", 6, 1))  # straight to NATS again
    assert connection.stream.ids_of("test.contact.alice")[-1] == "alice-6"
    await events_out.close()


@pytest.mark.parametrize("confirm", [True, False])
async def test_an_event_stored_whose_ack_was_lost_is_not_stored_twice(confirm: bool) -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm)
    connection.stream.lose_acks = 1
    await events_out.publish(batch("alice", 0, 3))
    await until(lambda: events_out.held == 0 and connection.stream.attempts >= 4)
    assert connection.stream.ids_of("test.contact.alice") == ["alice-0", "alice-1", "alice-2"]
    assert connection.stream.attempts > 3, "alice-0 was sent again"
    await events_out.close()


async def test_a_confirmed_publish_failing_holds_the_rest_of_the_batch_and_what_follows() -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm=True)
    connection.stream.refused.add("test.contact.bob")  # e.g. no stream leader for a while
    await events_out.publish([Changed("a0", "alice"), Changed("b0", "bob"), Changed("a1", "alice")])
    await events_out.publish([Changed("a2", "alice")])
    assert connection.stream.ids_of("test.contact.alice") == ["a0"]  # a1 and a2 wait behind b0
    assert events_out.held == 3
    connection.stream.refused.clear()
    await until(lambda: events_out.held == 0)
    assert [msg_id for _, msg_id in connection.stream.stored] == ["a0", "b0", "a1", "a2"]
    await events_out.close()


# --- limits ---------------------------------------------------------------------------------------------
async def test_a_full_buffer_drops_the_oldest_events_and_counts_them_as_lost() -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm=True, buffer_size=5)
    before_lost, before_buffered = lost(), buffered()
    connection.is_connected = False
    await events_out.publish(batch("alice", 0, 4))
    await events_out.publish(batch("alice", 4, 4))
    assert events_out.held == 5
    assert lost() - before_lost == 3
    assert buffered() - before_buffered == 5
    connection.is_connected = True
    await until(lambda: events_out.held == 0)
    assert connection.stream.ids_of("test.contact.alice") == [f"alice-{n}" for n in range(3, 8)]
    await events_out.close()
    assert buffered() == before_buffered


async def test_events_still_held_at_stop_are_given_up_after_the_close_timeout_and_counted() -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm=False, close_timeout=0.2)
    before_lost, before_buffered = lost(), buffered()
    connection.is_connected = False
    await events_out.publish(batch("alice", 0, 3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(events_out.close(), 30.0)  # NATS never comes back: the close gives up on its own
    assert loop.time() - started >= 0.15  # not before its timeout (0.2 s)
    assert lost() - before_lost == 3
    assert buffered() == before_buffered
    assert events_out.held == 0


async def test_close_publishes_what_is_held_when_nats_comes_back_in_time() -> None:
    connection = FakeConnection()
    events_out = publisher(connection, confirm=True, close_timeout=2.0)
    before_lost = lost()
    connection.is_connected = False
    await events_out.publish(batch("alice", 0, 3))
    asyncio.get_running_loop().call_later(0.1, setattr, connection, "is_connected", True)
    await events_out.close()
    assert connection.stream.ids_of("test.contact.alice") == ["alice-0", "alice-1", "alice-2"]
    assert lost() == before_lost
