"""A CTI socket's send queue and command rate: a client that does not read is closed with 1013,
never buffered without bound; events during the logon wait for the state."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from gateway.cti.connection import TRY_AGAIN_LATER, CtiSocket, RateLimit


def slow_consumers_closed() -> float:
    return REGISTRY.get_sample_value("xuc_cti_slow_consumers_closed_total") or 0.0


class StuckClient:
    """A client whose socket takes nothing (its first frame never finishes being written)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: list[int] = []
        self.first_write = asyncio.Event()

    async def send_text(self, data: str) -> None:
        self.sent.append(data)
        self.first_write.set()
        await asyncio.Event().wait()  # never returns

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with.append(code)


class ReadingClient(StuckClient):
    def __init__(self, expected: int = 0) -> None:
        super().__init__()
        self.expected = expected
        self.all_written = asyncio.Event()

    async def send_text(self, data: str) -> None:
        self.sent.append(data)
        if len(self.sent) >= self.expected:
            self.all_written.set()


async def test_a_client_that_does_not_read_is_closed_with_1013_once_its_queue_is_full() -> None:
    client, closed_before = StuckClient(), slow_consumers_closed()
    socket = CtiSocket(client, "alice", queue_size=3)
    socket.start()
    socket.offer("first", "PhoneEvent")
    await client.first_write.wait()  # the writer holds "first"; three more fill the queue
    for frame in ("2", "3", "4"):
        socket.offer(frame, "PhoneEvent")
    assert not socket.closed.is_set()
    socket.offer("one too many", "PhoneEvent")
    assert socket.closed.is_set()
    await socket.wait_closed()
    assert client.closed_with == [TRY_AGAIN_LATER]
    assert socket.close_code == TRY_AGAIN_LATER
    assert slow_consumers_closed() == closed_before + 1
    socket.offer("after", "PhoneEvent")  # ignored: the socket is closing
    assert client.sent == ["first"]


async def test_frames_go_out_in_order_and_held_events_follow_the_logon_state() -> None:
    client = ReadingClient(expected=5)
    socket = CtiSocket(client, "alice", queue_size=10)
    socket.start()
    socket.offer("LoggedOn", "LoggedOn")
    socket.hold()
    socket.offer("event during logon", "PhoneEvent")
    socket.send_now("state", "UserConfigUpdate")
    socket.offer("event 2", "PhoneStatusUpdate")  # an event: held too
    socket.release()
    socket.offer("later", "PhoneEvent")
    await client.all_written.wait()
    assert client.sent == ["LoggedOn", "state", "event during logon", "event 2", "later"]
    socket.close(1000, "")
    await socket.wait_closed()


async def test_events_held_during_a_logon_are_bounded_too() -> None:
    client, closed_before = ReadingClient(), slow_consumers_closed()
    socket = CtiSocket(client, "alice", queue_size=2)
    socket.hold()
    for index in range(3):
        socket.offer(str(index), "PhoneEvent")
    assert socket.closed.is_set()
    await socket.wait_closed()
    assert client.closed_with == [TRY_AGAIN_LATER]
    assert slow_consumers_closed() == closed_before + 1  # counted like any client that does not read


def test_the_command_rate_is_a_token_bucket() -> None:
    now = [0.0]
    limit = RateLimit(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [limit.allow(), limit.allow()] == [True, False]
    now[0] += 100.0  # never more than the burst
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]
