"""The PBX simulator adapter (services/telephony/adapters/simulator.py) on a real event loop:
event delivery to the sink (in order, one at a time), ring timers, agents, and a clean close.

The call rules themselves are tested in tests/unit/test_simulated_calls.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.telephony.adapters.simulator import CallState, SimulatedCallView, SimulatedPbx
from services.telephony.domain.errors import CallNotFound, PbxUnreachable
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentLine,
    AgentStatus,
    CallIds,
    ChannelEvent,
    ChannelState,
    ConnectionChanged,
    ForwardKind,
    Originate,
    PbxConnection,
    PbxEvent,
)

EPOCH = 1_700_000_000
ALICE, BOB, CAROL = "1001", "1002", "1003"
# Long enough that a test answers a call before it ends on a loaded machine; the tests that wait
# for it pay it.
RING_TIMEOUT = 2.0

pytestmark = pytest.mark.timeout(60)  # a hung delivery fails sooner than the suite's 300 s
UP = ConnectionChanged(True, "built-in simulator")


class Recorder:
    """The service's sink: records events, and checks it is never entered twice at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[PbxEvent] = []
        self.received_at: list[float] = []  # the loop's time when each event reached the sink
        self.delay = delay
        self.busy = False
        self.overlapped = False
        self._changed = asyncio.Condition()

    async def __call__(self, event: PbxEvent) -> None:
        self.overlapped |= self.busy
        self.busy = True
        received_at = asyncio.get_running_loop().time()
        try:
            await asyncio.sleep(self.delay)
            async with self._changed:
                self.received_at.append(received_at)
                self.events.append(event)
                self._changed.notify_all()
        finally:
            self.busy = False

    def channels(self) -> list[tuple[str, ChannelState]]:
        return [(e.number, e.state) for e in self.events if isinstance(e, ChannelEvent)]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(30), self._changed:  # a generous wait, not a bound
            await self._changed.wait_for(condition)


def click(source: str = ALICE, destination: str = BOB) -> Originate:
    return Originate(source=source, destination=destination, caller_id_name="Alice", variables={"k": "v"})


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def pbx(recorder: Recorder) -> AsyncIterator[SimulatedPbx]:
    simulator = SimulatedPbx(ring_timeout_seconds=RING_TIMEOUT, clock=lambda: EPOCH)
    await simulator.set_lines([ALICE, BOB, CAROL])
    await simulator.start(recorder)
    try:
        yield simulator
    finally:
        await simulator.close()


async def test_events_reach_the_sink_in_order_one_at_a_time() -> None:
    slow = Recorder(delay=0.01)
    pbx = SimulatedPbx(clock=lambda: EPOCH)
    await pbx.set_lines([ALICE, BOB])
    await pbx.start(slow)
    try:
        ids = await pbx.originate(click())
        await pbx.answer(BOB)
        await pbx.hold(ALICE)
        await pbx.resume(ALICE)
        released = await pbx.hangup(BOB)
        await pbx.flush()
    finally:
        await pbx.close()

    assert ids == CallIds(f"{EPOCH}.1", f"{EPOCH}.1")
    assert released == SimulatedCallView(ids.linked_id, ALICE, BOB, CallState.RELEASED, (f"{EPOCH}.1", f"{EPOCH}.2"))
    assert slow.events[0] == UP
    assert slow.channels() == [
        (ALICE, ChannelState.DIALING), (BOB, ChannelState.RINGING),
        (BOB, ChannelState.ESTABLISHED), (ALICE, ChannelState.ESTABLISHED),
        (ALICE, ChannelState.ON_HOLD), (ALICE, ChannelState.ESTABLISHED),
        (BOB, ChannelState.RELEASED), (ALICE, ChannelState.RELEASED),
    ]
    assert not slow.overlapped
    assert all(e.user_data == {"k": "v"} for e in slow.events if isinstance(e, ChannelEvent))


async def test_an_unanswered_call_is_released_at_the_ring_timeout(pbx: SimulatedPbx, recorder: Recorder) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pbx.originate(click())

    await recorder.wait_for(lambda: (ALICE, ChannelState.RELEASED) in recorder.channels())

    assert loop.time() - started >= RING_TIMEOUT
    assert recorder.channels()[-2:] == [(BOB, ChannelState.RELEASED), (ALICE, ChannelState.RELEASED)]
    assert await pbx.list_calls() == []


async def test_answering_cancels_the_ring_timer(pbx: SimulatedPbx, recorder: Recorder) -> None:
    ids = await pbx.originate(click())
    await pbx.answer(BOB)
    # A later call nobody answers, waited for: its ring timer began after the first call's, so
    # that one, had it not been cancelled, would have fired first.
    await pbx.place_call("0611223344", CAROL)
    await recorder.wait_for(lambda: (CAROL, ChannelState.RELEASED) in recorder.channels())

    assert {number for number, state in recorder.channels() if state is ChannelState.RELEASED} == {CAROL}
    assert [call.state for call in await pbx.list_calls()] == [CallState.ESTABLISHED]
    assert (await pbx.hangup(ALICE, ids.unique_id)).state is CallState.RELEASED


async def test_without_auto_answer_the_source_rings_then_the_destination_gets_its_own_timer(
        recorder: Recorder) -> None:
    timeout = 4.0  # Alice must still ring when the test answers her: 3 s of margin for a slow machine
    pbx = SimulatedPbx(ring_timeout_seconds=timeout, auto_answer=False)
    await pbx.set_lines([ALICE, BOB])
    await pbx.start(recorder)
    try:
        await pbx.originate(click())
        await asyncio.sleep(timeout / 4)
        answered_at = asyncio.get_running_loop().time()
        await pbx.answer(ALICE)  # a quarter of the timeout gone (3/4 left for a slow machine): Bob gets a whole one

        await recorder.wait_for(lambda: (BOB, ChannelState.RELEASED) in recorder.channels())
    finally:
        await pbx.close()

    # Bob's own timer began when Alice answered: his release came a whole timeout after (a lower
    # bound only: a busy machine makes it later, never sooner).
    released_at = next(at for at, event in zip(recorder.received_at, recorder.events, strict=True)
                       if isinstance(event, ChannelEvent)
                       and (event.number, event.state) == (BOB, ChannelState.RELEASED))
    assert released_at - answered_at >= timeout

    assert recorder.channels()[:3] == [
        (ALICE, ChannelState.RINGING), (ALICE, ChannelState.DIALING), (BOB, ChannelState.RINGING)]


async def test_a_no_answer_forward_rings_the_destination_for_another_timeout(
        pbx: SimulatedPbx, recorder: Recorder) -> None:
    await pbx.set_forward(BOB, ForwardKind.NO_ANSWER, True, CAROL)
    await pbx.originate(click())

    await recorder.wait_for(lambda: (CAROL, ChannelState.RINGING) in recorder.channels())
    [call] = await pbx.list_calls()
    assert (call.callee, call.state) == (CAROL, CallState.RINGING)

    await recorder.wait_for(lambda: (ALICE, ChannelState.RELEASED) in recorder.channels())
    assert recorder.channels()[-2:] == [(CAROL, ChannelState.RELEASED), (ALICE, ChannelState.RELEASED)]


async def test_a_line_in_dnd_is_not_rung(pbx: SimulatedPbx, recorder: Recorder) -> None:
    await pbx.set_dnd(BOB, True)

    placed = await pbx.place_call("0611223344", BOB)
    await pbx.originate(click())
    await pbx.flush()

    assert placed.state is CallState.RELEASED
    assert recorder.channels() == [(ALICE, ChannelState.DIALING), (ALICE, ChannelState.RELEASED)]


async def test_agent_commands_report_agent_events(pbx: SimulatedPbx, recorder: Recorder) -> None:
    agent = AgentLine("2001", ALICE, ["support"])

    await pbx.agent_login(agent)
    await pbx.agent_pause(agent, True)
    await pbx.agent_pause(agent, False)
    await pbx.agent_logout(agent)
    await pbx.flush()

    assert recorder.events == [
        UP,
        AgentEvent("2001", ALICE, AgentStatus.READY),
        AgentEvent("2001", ALICE, AgentStatus.PAUSED),
        AgentEvent("2001", ALICE, AgentStatus.READY),
        AgentEvent("2001", "", AgentStatus.LOGGED_OUT),
    ]


async def test_events_of_commands_given_before_start_follow_the_connection_event(recorder: Recorder) -> None:
    pbx = SimulatedPbx()
    await pbx.set_lines([ALICE])
    await pbx.agent_login(AgentLine("2001", ALICE, []))
    await pbx.start(recorder)
    try:
        await pbx.flush()
    finally:
        await pbx.close()

    assert recorder.events == [UP, AgentEvent("2001", ALICE, AgentStatus.READY)]
    assert pbx.connection() == PbxConnection("sim", True, "built-in simulator")


async def test_a_failing_sink_loses_only_that_event(caplog: pytest.LogCaptureFixture) -> None:
    delivered: list[PbxEvent] = []

    async def sink(event: PbxEvent) -> None:
        if isinstance(event, ChannelEvent) and event.state is ChannelState.DIALING:
            raise RuntimeError("boom")
        delivered.append(event)

    pbx = SimulatedPbx()
    await pbx.set_lines([ALICE, BOB])
    await pbx.start(sink)
    try:
        with caplog.at_level(logging.ERROR):
            await pbx.originate(click())
            await pbx.flush()
    finally:
        await pbx.close()

    assert [type(e) for e in delivered] == [ConnectionChanged, ChannelEvent]  # Bob's ringing still came
    assert "the PBX event sink failed" in caplog.text


async def test_unknown_calls_raise(pbx: SimulatedPbx) -> None:
    with pytest.raises(CallNotFound):
        await pbx.answer(BOB)
    with pytest.raises(CallNotFound):
        await pbx.originate(click(source="5555"))


async def test_close_cancels_the_timers_and_the_delivery(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = asyncio.Event()
    # The ring timers, seen as the loop hands them out: cancelled after close, they can never fire.
    loop = asyncio.get_running_loop()
    schedule = loop.call_later
    ring_timers: list[asyncio.TimerHandle] = []

    def recording_call_later(delay: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        handle = schedule(delay, *args, **kwargs)
        if delay == RING_TIMEOUT:
            ring_timers.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_later", recording_call_later)

    async def blocking_sink(event: PbxEvent) -> None:
        await recorder(event)
        await stuck.wait()  # never set: the delivery task is blocked in the sink when closed

    pbx = SimulatedPbx(ring_timeout_seconds=RING_TIMEOUT)
    await pbx.set_lines([ALICE, BOB])
    await pbx.start(blocking_sink)
    await pbx.originate(click())  # a ring timer is pending, events are queued
    await recorder.wait_for(lambda: recorder.events == [UP])

    assert len(ring_timers) == 1
    assert not ring_timers[0].cancelled()

    await pbx.close()
    await pbx.close()  # idempotent

    assert ring_timers[0].cancelled()  # the timer cannot fire
    # and the delivery task is gone, so nothing more can reach the sink
    assert [task for task in asyncio.all_tasks() if task.get_name() == "pbx-simulator-events"] == []
    assert recorder.events == [UP]
    with pytest.raises(PbxUnreachable):
        await pbx.originate(click())
    with pytest.raises(PbxUnreachable):
        await pbx.list_calls()


async def test_close_before_start_is_fine() -> None:
    pbx = SimulatedPbx()
    await pbx.close()
    with pytest.raises(PbxUnreachable):
        await pbx.start(Recorder())


def test_the_ring_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SimulatedPbx(ring_timeout_seconds=0)
