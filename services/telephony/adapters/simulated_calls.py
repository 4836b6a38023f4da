"""The built-in PBX simulator's call state machine (pure: no asyncio, no clock, no I/O).

Why pure: every call scenario of docs/telephony.md ("Simulator") can then be unit-tested step by
step, and the asyncio adapter (adapters/simulator.py) only adds event delivery and ring timers.
Time enters only through the id generator given to the constructor.

Model. The simulator knows *lines* (the numbers given to `set_lines`). A call has two parties:
the *caller* (who dials) and the *callee* (who rings, after DND and forwards are applied). A
party that is a known line has a channel (an Asterisk-like unique id) and its state changes are
reported as `ChannelEvent`s; an external party has no channel: its state is kept (so that it can
answer, hold or hang up through the Simulator API) but only shows as the other party's
`other_number`. Every operation returns an `Outcome`: the events it produced, in order, and the
call it acted on as it is afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from types import MappingProxyType

from services.telephony.adapters.simulated_model import (
    AsteriskIds,
    Call,
    CallState,
    Outcome,
    Party,
    Phase,
    SimulatedCallView,
    state_of,
)
from services.telephony.domain.current_calls import checked_dtmf_key
from services.telephony.domain.errors import CallNotFound, InvalidRequest
from services.telephony.domain.pbx import CallIds, ChannelEvent, ChannelState, ForwardKind, Originate

__all__ = ["AsteriskIds", "CallState", "Outcome", "SimulatedCallView", "SimulatedCalls"]

_LIVE = (ChannelState.DIALING, ChannelState.RINGING, ChannelState.ESTABLISHED, ChannelState.ON_HOLD)
# A line with a channel in one of these states is "in a call" (busy forward); a line that only
# rings is not: a second call rings it too (call waiting).
_BUSY = (ChannelState.DIALING, ChannelState.ESTABLISHED, ChannelState.ON_HOLD)


class SimulatedCalls:
    """Lines, their services (DND, forwards) and the calls between them."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._lines: frozenset[str] = frozenset()
        self._dnd: set[str] = set()
        self._forwards: dict[tuple[str, ForwardKind], str] = {}
        self._calls: dict[str, Call] = {}  # live calls by linked id, oldest first

    # --- lines and their services ------------------------------------------------------------
    def set_lines(self, numbers: Collection[str]) -> None:
        """Only these numbers ring as lines; calls in progress go on whatever the change."""
        self._lines = frozenset(numbers)

    def set_dnd(self, number: str, enabled: bool) -> None:
        """Kept for any number (not only current lines): the service may restore stored services
        before it gives the lines, and the setting applies once the number is a line."""
        if enabled:
            self._dnd.add(number)
        else:
            self._dnd.discard(number)

    def set_forward(self, number: str, kind: ForwardKind, enabled: bool, destination: str) -> None:
        """A forward without a destination is no forward."""
        if enabled and destination:
            self._forwards[number, kind] = destination
        else:
            self._forwards.pop((number, kind), None)

    # --- placing calls ------------------------------------------------------------------------
    def originate(self, request: Originate, auto_answer: bool) -> Outcome:
        """Click-to-call (or a queue call when `request.from_queue`)."""
        if request.from_queue:
            return self._originate_from_queue(request)
        if request.external_source:
            return self._originate_from_outside(request, auto_answer)
        if request.source not in self._lines:
            raise CallNotFound(f"Cannot call from {request.source}: it is not a line of the simulator")
        self._refuse_self_call(request.source, request.destination)
        call = Call(Party(request.source, "", ChannelState.RINGING), request.destination,
                     request.caller_id_name, MappingProxyType(dict(request.variables)))
        call.caller.unique_id = self._channel_id(call)
        if auto_answer:
            events = self._set(call, call.caller, ChannelState.DIALING) + self._route(call)
        else:
            call.phase = Phase.SOURCE_RINGING
            call.ring_round += 1
            events = self._set(call, call.caller, ChannelState.RINGING)
        return self._settle(call, events, call.caller)

    def place_call(self, caller: str, callee: str) -> Outcome:
        """A call from `caller` (a line, which then dials at once, or an external number) to
        `callee` (a line or, when the caller is a line, an external number)."""
        if caller not in self._lines and callee not in self._lines:
            raise CallNotFound(f"Neither {caller} nor {callee} is a line of the simulator")
        self._refuse_self_call(caller, callee)
        call = Call(Party(caller, "", ChannelState.DIALING), callee, "", MappingProxyType({}))
        if caller in self._lines:
            call.caller.unique_id = self._channel_id(call)
        events = self._set(call, call.caller, ChannelState.DIALING) + self._route(call)
        return self._settle(call, events, call.caller)

    def _originate_from_queue(self, request: Originate) -> Outcome:
        """No channel for the queue: the destination rings, shown the caller id number."""
        caller = Party(request.caller_id_number or request.source, "", ChannelState.DIALING)
        call = Call(caller, request.destination, request.caller_id_name, MappingProxyType(dict(request.variables)))
        events = self._route(call)
        return self._settle(call, events, call.callee or caller)

    def _originate_from_outside(self, request: Originate, auto_answer: bool) -> Outcome:
        """The source is an external number (a user's mobile): it rings first, without a channel
        (no events: no line of ours rings), and once it answers (at once with auto-answer, else
        through the Simulator API's answer of that number) the destination is dialled."""
        self._refuse_self_call(request.source, request.destination)
        call = Call(Party(request.source, "", ChannelState.RINGING), request.destination,
                    request.caller_id_name, MappingProxyType(dict(request.variables)))
        if auto_answer:
            events = self._set(call, call.caller, ChannelState.DIALING) + self._route(call)
        else:
            call.phase = Phase.SOURCE_RINGING
            call.ring_round += 1
            events = []
        return self._settle(call, events, call.caller)

    @staticmethod
    def _refuse_self_call(caller: str, callee: str) -> None:
        if caller == callee:
            raise InvalidRequest(f"{caller} cannot call itself")

    # --- acting on calls ----------------------------------------------------------------------
    def answer(self, number: str, unique_id: str | None = None) -> Outcome:
        """`number` picks up the call ringing there. The source of a click-to-call without
        auto-answer then dials; a callee establishes the call (both parties' channels)."""
        call, party = self._find(number, unique_id, (ChannelState.RINGING,), "ringing")
        if call.phase is Phase.SOURCE_RINGING:
            events = self._set(call, party, ChannelState.DIALING) + self._route(call)
        else:
            call.phase = Phase.ESTABLISHED
            events = self._set(call, party, ChannelState.ESTABLISHED)
            events += self._set(call, call.caller, ChannelState.ESTABLISHED)
        return self._settle(call, events, party)

    def hold(self, number: str, unique_id: str | None = None) -> Outcome:
        call, party = self._find(number, unique_id, (ChannelState.ESTABLISHED,), "established")
        return self._settle(call, self._set(call, party, ChannelState.ON_HOLD), party)

    def resume(self, number: str, unique_id: str | None = None) -> Outcome:
        call, party = self._find(number, unique_id, (ChannelState.ON_HOLD,), "on hold")
        return self._settle(call, self._set(call, party, ChannelState.ESTABLISHED), party)

    def hangup(self, number: str, unique_id: str | None = None) -> Outcome:
        """Releases every channel of the call, the hanging-up party's first. Without a unique id,
        the call talking (or dialling) is preferred to one ringing, and that to one on hold: the
        red button of a phone ends the active call."""
        states = (ChannelState.ESTABLISHED, ChannelState.DIALING, ChannelState.RINGING, ChannelState.ON_HOLD)
        call, party = self._find(number, unique_id, states, "")
        return self._settle(call, self._release(call, callee_first=party is call.callee), party)

    def send_dtmf(self, number: str, unique_id: str | None, key: str) -> Outcome:
        """Recorded on the call (no event: a key press changes no channel's state)."""
        key = checked_dtmf_key(key)
        call, party = self._find(number, unique_id, (ChannelState.ESTABLISHED,), "established")
        call.dtmf += key
        return self._settle(call, [], party)

    def ring_timeout(self, linked_id: str) -> Outcome:
        """Nobody answered in time: the call moves to the callee's no-answer forward if it has
        one, else it is released (missed). Nothing happens to a call answered meanwhile."""
        call = self._calls.get(linked_id)
        if call is None:
            raise CallNotFound(f"No call {linked_id} in the simulator")
        if call.phase is Phase.SOURCE_RINGING:
            return self._settle(call, self._release(call), call.caller)
        callee = call.callee
        if call.phase is not Phase.RINGING or callee is None:
            return self._settle(call, [], call.caller)
        destination = self._forward(callee.number, ForwardKind.NO_ANSWER)
        target = None if destination is None or destination in call.visited else self._resolve(call, destination)
        if target is None:
            return self._settle(call, self._release(call, callee_first=True), callee)
        # Ring the destination before releasing the callee, so that the call never looks ended
        # (all its channels released) to whoever follows the events.
        events = self._alert(call, target) + self._set(call, callee, ChannelState.RELEASED)
        return self._settle(call, events, callee)

    def set_data(self, number: str, unique_id: str | None, variables: Mapping[str, str]) -> Outcome:
        """Attach variables to the call (both parties' later events carry them); no event now."""
        states = (ChannelState.ESTABLISHED, ChannelState.DIALING, ChannelState.RINGING, ChannelState.ON_HOLD)
        call, party = self._find(number, unique_id, states, "")
        call.user_data = MappingProxyType({**call.user_data, **variables})
        return self._settle(call, [], party)

    # --- queries ------------------------------------------------------------------------------
    def calls(self) -> list[SimulatedCallView]:
        """The calls in progress, oldest first."""
        return [self._view(call) for call in self._calls.values()]

    def ring_round(self, linked_id: str) -> int | None:
        """The ring round of this call if it rings (unanswered), else None (answered, ended or
        unknown): what `ringing()` says of one call, without looking at the others."""
        call = self._calls.get(linked_id)
        if call is None or call.phase not in (Phase.SOURCE_RINGING, Phase.RINGING):
            return None
        return call.ring_round

    def ringing(self) -> dict[str, int]:
        """Linked id -> ring round of every call that rings (unanswered): the adapter keeps one
        ring timer per (call, round), so a forward or a dialling source restarts the timer."""
        return {linked_id: call.ring_round for linked_id, call in self._calls.items()
                if call.phase in (Phase.SOURCE_RINGING, Phase.RINGING)}

    # --- routing ------------------------------------------------------------------------------
    def _route(self, call: Call) -> list[ChannelEvent]:
        """The caller dials: ring who `call.dialled` leads to, or release the call (DND)."""
        call.phase = Phase.RINGING
        call.visited.add(call.caller.number)
        target = self._resolve(call, call.dialled)
        if target is None:
            return self._release(call)
        return self._alert(call, target)

    def _alert(self, call: Call, target: str) -> list[ChannelEvent]:
        """`target` (already resolved) becomes the callee and rings."""
        party = Party(target, "", ChannelState.RINGING)
        call.callee = party
        if target in self._lines:
            party.unique_id = self._channel_id(call)
        call.ring_round += 1
        return self._set(call, party, ChannelState.RINGING)

    def _resolve(self, call: Call, number: str) -> str | None:
        """The number that actually rings for `number` (None: DND, nobody rings). Unconditional
        forwards, then busy forwards, are followed from line to line; a forward back to a number
        already tried is ignored (that number rings)."""
        while number in self._lines:
            call.visited.add(number)
            if number in self._dnd:
                return None
            destination = self._forward(number, ForwardKind.UNCONDITIONAL)
            if destination is None and self._busy(number, call):
                destination = self._forward(number, ForwardKind.BUSY)
            if destination is None or destination in call.visited:
                return number
            number = destination
        return number

    def _forward(self, number: str, kind: ForwardKind) -> str | None:
        return self._forwards.get((number, kind)) if number in self._lines else None

    def _busy(self, number: str, excluded: Call) -> bool:
        return any(party.number == number and party.unique_id and party.state in _BUSY
                   for call in self._calls.values() if call is not excluded for party in call.parties())

    # --- state changes ------------------------------------------------------------------------
    def _channel_id(self, call: Call) -> str:
        """A new channel's unique id; the call's first channel names the call (its linked id)."""
        unique_id = self._new_id()
        call.linked_id = call.linked_id or unique_id
        return unique_id

    def _set(self, call: Call, party: Party, state: ChannelState) -> list[ChannelEvent]:
        party.state = state
        if not party.unique_id:
            return []
        linked_id = party.linked_id or call.linked_id
        if party is not call.caller:  # the callee, or a callee forwarded away from
            return [ChannelEvent(party.number, call.caller.number, state, party.unique_id, linked_id,
                                 call.user_data, call.caller_name)]
        other = call.callee.number if call.callee else call.dialled
        return [ChannelEvent(party.number, other, state, party.unique_id, linked_id, call.user_data,
                             is_caller=True)]

    def _release(self, call: Call, callee_first: bool = False) -> list[ChannelEvent]:
        """Every party still in the call is released: the one who ends it first."""
        call.phase = Phase.RELEASED
        parties = call.parties()
        if callee_first:
            parties.reverse()
        return [event for party in parties if party.state in _LIVE
                for event in self._set(call, party, ChannelState.RELEASED)]

    def _settle(self, call: Call, events: list[ChannelEvent], actor: Party) -> Outcome:
        """Record the call's new state: a released call is forgotten, a new one is kept."""
        call.linked_id = call.linked_id or self._new_id()
        if call.phase is Phase.RELEASED:
            self._calls.pop(call.linked_id, None)
        else:
            self._calls.setdefault(call.linked_id, call)
        return Outcome(events, self._view(call), CallIds(actor.unique_id or call.linked_id, call.linked_id))

    # --- lookups ------------------------------------------------------------------------------
    def _find(self, number: str, unique_id: str | None, states: tuple[ChannelState, ...],
              wanted: str) -> tuple[Call, Party]:
        """The call where `number` is in one of `states` (the earlier state preferred, then the
        older call), narrowed to `unique_id` (a channel's or the call's linked id) when given."""
        candidates = [(call, party) for call, party in self._parties_of(number)
                      if party.state in states
                      and unique_id in (None, "", party.unique_id, party.linked_id or call.linked_id)]
        if not candidates:
            which = f" {unique_id}" if unique_id else ""
            state = f"{wanted} " if wanted else ""
            raise CallNotFound(f"No {state}call{which} at {number} in the simulator")
        return min(candidates, key=lambda candidate: states.index(candidate[1].state))

    def _parties_of(self, number: str) -> Iterator[tuple[Call, Party]]:
        for call in self._calls.values():
            for party in call.parties():
                if party.number == number:
                    yield call, party

    @staticmethod
    def _view(call: Call) -> SimulatedCallView:
        unique_ids = tuple(party.unique_id for party in call.parties() if party.unique_id)
        callee = call.callee.number if call.callee else call.dialled
        return SimulatedCallView(call.linked_id, call.caller.number, callee, state_of(call), unique_ids, call.dtmf)


