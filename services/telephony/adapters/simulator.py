"""The built-in PBX simulator (`XUC_PBX=sim`): the `Pbx` port without any PBX.

The call rules live in the pure state machine (adapters/simulated_calls.py); this adapter adds what
needs asyncio: it delivers the events the state machine produces to the service's sink, one at a
time and in order (one queue, one delivery task: a command never waits for the sink, and the sink
never sees two events at once), and it runs the ring timers (one per ringing call, restarted when
the call rings somewhere else, cancelled when it is answered or released).

Besides the port, it offers the commands of the Simulator gRPC API (`xuc pbx ...`): place a call,
answer, hold, resume, hang up at a number, and list the calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping

from services.telephony.adapters.simulated_calls import (
    AsteriskIds,
    CallState,
    Outcome,
    SimulatedCallView,
)
from services.telephony.adapters.simulated_transfers import TransferringCalls
from services.telephony.domain.errors import CallNotFound, PbxUnreachable
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentLine,
    AgentStatus,
    CallIds,
    ConnectionChanged,
    EventSink,
    ForwardKind,
    Originate,
    Pbx,
    PbxConnection,
    PbxEvent,
)

__all__ = ["CallState", "SimulatedCallView", "SimulatedPbx"]

log = logging.getLogger(__name__)

DETAIL = "built-in simulator"
DEFAULT_RING_TIMEOUT = 20.0


class SimulatedPbx:
    """A PBX in memory, always connected. Commands given before `start` are kept: their events
    are delivered once the sink is known."""

    def __init__(self, *, ring_timeout_seconds: float = DEFAULT_RING_TIMEOUT, auto_answer: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        if ring_timeout_seconds <= 0:
            raise ValueError(f"The ring timeout must be positive, not {ring_timeout_seconds}")
        self._calls = TransferringCalls(AsteriskIds(clock))
        self._ring_timeout = ring_timeout_seconds
        self._auto_answer = auto_answer
        self._queue: asyncio.Queue[PbxEvent] = asyncio.Queue()
        self._delivery: asyncio.Task[None] | None = None
        self._timers: dict[str, tuple[int, asyncio.TimerHandle]] = {}  # linked id -> (ring round, timer)
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self, on_event: EventSink) -> None:
        """Announce the (always up) connection first, then deliver events as they come."""
        self._check_open()
        if self._delivery is not None:
            raise RuntimeError("The simulator is already started")
        early = [self._take_nowait() for _ in range(self._queue.qsize())]
        for event in [ConnectionChanged(True, DETAIL), *early]:
            self._queue.put_nowait(event)
        self._delivery = asyncio.create_task(self._deliver(on_event), name="pbx-simulator-events")

    async def close(self) -> None:
        """Stop the ring timers and the delivery (events not yet delivered are dropped: the
        simulated calls end with the process). Idempotent."""
        self._closed = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        task, self._delivery = self._delivery, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # close() itself is being cancelled: let that through

    async def flush(self) -> None:
        """Wait until the sink has handled every event produced so far (at once if not started):
        for callers that want the events out before they answer."""
        if self._delivery is not None:
            await self._queue.join()

    def connection(self) -> PbxConnection:
        """Always up: there is nothing to connect to."""
        return PbxConnection("sim", True, DETAIL)

    # --- the Pbx port -------------------------------------------------------------------------
    async def set_lines(self, numbers: Collection[str]) -> None:
        self._check_open()
        self._calls.set_lines(numbers)

    async def originate(self, call: Originate) -> CallIds:
        """The source's channel ids (for a queue call: the destination's, or the call's id when
        the destination has no channel)."""
        self._check_open()
        return self._apply(self._calls.originate(call, self._auto_answer)).ids

    async def set_dnd(self, number: str, enabled: bool) -> None:
        self._check_open()
        self._calls.set_dnd(number, enabled)

    async def set_forward(self, number: str, kind: ForwardKind, enabled: bool, destination: str) -> None:
        self._check_open()
        self._calls.set_forward(number, kind, enabled, destination)

    async def agent_login(self, agent: AgentLine) -> None:
        self._emit_agent(agent.agent_number, agent.phone_number, AgentStatus.READY)

    async def agent_logout(self, agent: AgentLine) -> None:
        self._emit_agent(agent.agent_number, "", AgentStatus.LOGGED_OUT)

    async def agent_pause(self, agent: AgentLine, paused: bool) -> None:
        self._emit_agent(agent.agent_number, agent.phone_number, AgentStatus.PAUSED if paused else AgentStatus.READY)

    # Call control answers once the service has handled the events it produced (`flush`): the
    # caller's next command then finds the call as they left it (a second Hold resumes).
    async def answer_channel(self, number: str, unique_id: str) -> None:
        await self.answer(number, unique_id)
        await self.flush()

    async def hold_channel(self, number: str, unique_id: str, on_hold: bool) -> None:
        await (self.hold if on_hold else self.resume)(number, unique_id)
        await self.flush()

    async def hangup_channel(self, number: str, unique_id: str) -> None:
        await self.hangup(number, unique_id)
        await self.flush()

    async def send_dtmf(self, number: str, unique_id: str, key: str) -> None:
        """Recorded on the call (the Simulator API's ListCalls shows it): nothing else hears it."""
        self._check_open()
        self._apply(self._calls.send_dtmf(number, unique_id, key))

    async def direct_transfer(self, number: str, unique_id: str, destination: str) -> None:
        self._check_open()
        self._apply(self._calls.direct_transfer(number, unique_id, destination))
        await self.flush()

    async def attended_transfer(self, number: str, unique_id: str, destination: str) -> None:
        self._check_open()
        self._apply(self._calls.attended_transfer(number, unique_id, destination))
        await self.flush()

    async def complete_transfer(self, number: str) -> CallIds:
        self._check_open()
        ids = self._apply(self._calls.complete_transfer(number)).ids
        await self.flush()
        return ids

    async def cancel_transfer(self, number: str) -> CallIds:
        self._check_open()
        ids = self._apply(self._calls.cancel_transfer(number)).ids
        await self.flush()
        return ids

    async def set_call_data(self, number: str, unique_id: str, variables: Mapping[str, str]) -> None:
        self._check_open()
        self._apply(self._calls.set_data(number, unique_id, variables))

    # --- the Simulator API --------------------------------------------------------------------
    async def place_call(self, caller: str, callee: str) -> SimulatedCallView:
        """A call from `caller` (a line or an external number) to `callee`."""
        self._check_open()
        return self._apply(self._calls.place_call(caller, callee)).call

    async def answer(self, number: str, unique_id: str | None = None) -> SimulatedCallView:
        self._check_open()
        return self._apply(self._calls.answer(number, unique_id)).call

    async def hold(self, number: str, unique_id: str | None = None) -> SimulatedCallView:
        self._check_open()
        return self._apply(self._calls.hold(number, unique_id)).call

    async def resume(self, number: str, unique_id: str | None = None) -> SimulatedCallView:
        self._check_open()
        return self._apply(self._calls.resume(number, unique_id)).call

    async def hangup(self, number: str, unique_id: str | None = None) -> SimulatedCallView:
        self._check_open()
        return self._apply(self._calls.hangup(number, unique_id)).call

    async def list_calls(self) -> list[SimulatedCallView]:
        """The calls in progress, oldest first."""
        self._check_open()
        return self._calls.calls()

    # --- internals ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise PbxUnreachable("The PBX simulator is closed")

    def _take_nowait(self) -> PbxEvent:
        """Take a queued event back (to put it again behind another), keeping `join` exact."""
        event = self._queue.get_nowait()
        self._queue.task_done()
        return event

    def _emit_agent(self, agent_number: str, phone_number: str, status: AgentStatus) -> None:
        self._check_open()
        self._queue.put_nowait(AgentEvent(agent_number, phone_number, status))

    def _apply(self, outcome: Outcome) -> Outcome:
        """Queue the outcome's events, then make the ring timers follow: the call it acted on,
        and any other call that stopped ringing (a transfer acts on two calls)."""
        for event in outcome.events:
            self._queue.put_nowait(event)
        for linked_id in {outcome.call.linked_id, *self._timers}:
            self._sync_timer(linked_id)
        return outcome

    def _sync_timer(self, linked_id: str) -> None:
        """One timer per ringing call and ring round: a call that stopped ringing, or rings
        somewhere else (a new round), loses its old timer."""
        ring_round = self._calls.ring_round(linked_id)
        current = self._timers.get(linked_id)
        if current is not None and current[0] != ring_round:
            current[1].cancel()
            del self._timers[linked_id]
            current = None
        if ring_round is not None and current is None:
            timer = asyncio.get_running_loop().call_later(self._ring_timeout, self._on_ring_timeout, linked_id)
            self._timers[linked_id] = (ring_round, timer)

    def _on_ring_timeout(self, linked_id: str) -> None:
        del self._timers[linked_id]
        try:
            self._apply(self._calls.ring_timeout(linked_id))
        except CallNotFound:  # cannot happen (timers follow the calls); never let it kill the loop's callback
            log.exception("ring timeout of an unknown call", extra={"linked_id": linked_id})

    async def _deliver(self, on_event: EventSink) -> None:
        """The single consumer of the queue. A failing sink loses that event only: the
        following ones are still delivered."""
        while True:
            event = await self._queue.get()
            try:
                await on_event(event)
            except Exception:
                log.exception("the PBX event sink failed", extra={"event": type(event).__name__})
            finally:
                self._queue.task_done()


def _implements_the_port(pbx: SimulatedPbx) -> Pbx:
    """Never called: mypy checks here that SimulatedPbx is a `Pbx`."""
    return pbx
