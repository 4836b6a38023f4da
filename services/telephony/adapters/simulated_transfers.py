"""The PBX simulator's transfers (pure, like the rest of its state machine in simulated_calls.py).

Direct (blind) transfer: the line leaves its call and the other party is put through to the
destination, in the same call (same linked id). Events, in order: the line's channel released;
the other party (if a line) dialing the destination; the destination (if a line) ringing, shown
the other party. The destination answers as any callee does (both established); DND, forwards and
the ring timeout apply to it as to a new call.

Attended transfer: the line holds its call (EventOnHold) and calls the destination on a second
channel (EventDialing; the destination rings): the consultation call. Then, on the line:
- complete (the destination must have answered): both of the line's channels are released (the
  held call's first), and the other party and the destination are put through: each gets
  EventEstablished showing the other. The destination's channel keeps the consultation's linked id.
- cancel: the consultation call is released (the line's channel first, then the destination's)
  and the held call resumed (EventEstablished).
One attended transfer per line at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from services.telephony.adapters.simulated_calls import SimulatedCalls
from services.telephony.adapters.simulated_model import Call, Outcome, Party, Phase
from services.telephony.domain.errors import CallNotFound, CallStateConflict, TransferNotFound
from services.telephony.domain.pbx import ChannelState

_TRANSFERABLE = (ChannelState.ESTABLISHED, ChannelState.ON_HOLD)


@dataclass(eq=False)
class _Transfer:
    held: Call  # the call being transferred
    line: Party  # the line's channel in it
    consultation: Call  # the line's call to the destination
    held_by_transfer: bool  # the transfer put the call on hold (cancel resumes it)


class TransferringCalls(SimulatedCalls):
    """SimulatedCalls with direct and attended transfers."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        super().__init__(new_id)
        self._transfers: dict[str, _Transfer] = {}  # line number -> its attended transfer

    def direct_transfer(self, number: str, unique_id: str | None, destination: str) -> Outcome:
        call, line = self._find(number, unique_id, _TRANSFERABLE, "established")
        other = self._other(call, line)
        self._refuse_self_call(other.number, destination)
        events = self._set(call, line, ChannelState.RELEASED)
        call.caller, call.callee = other, None  # the other party now calls the destination
        call.dialled, call.caller_name, call.visited = destination, "", set()
        events += self._set(call, other, ChannelState.DIALING) + self._route(call)
        return self._settle(call, events, line)

    def attended_transfer(self, number: str, unique_id: str | None, destination: str) -> Outcome:
        pending = self._transfers.get(number)
        if pending is not None and self._live(pending.consultation):
            raise CallStateConflict(f"An attended transfer is already in progress on line {number}")
        call, line = self._find(number, unique_id, _TRANSFERABLE, "established")
        self._refuse_self_call(number, destination)
        held_now = line.state is ChannelState.ESTABLISHED
        events = self._set(call, line, ChannelState.ON_HOLD) if held_now else []
        consultation = Call(Party(number, "", ChannelState.DIALING), destination, "", MappingProxyType({}))
        consultation.caller.unique_id = self._channel_id(consultation)
        events += self._set(consultation, consultation.caller, ChannelState.DIALING) + self._route(consultation)
        self._transfers[number] = _Transfer(call, line, consultation, held_now)
        return self._settle(consultation, events, consultation.caller)

    def complete_transfer(self, number: str) -> Outcome:
        transfer = self._pending(number)
        held, line, consultation = transfer.held, transfer.line, transfer.consultation
        target = consultation.callee
        if not self._live(held) or line not in held.parties():
            raise CallNotFound(f"The call line {number} was transferring has ended: cancel the transfer")
        if consultation.phase is not Phase.ESTABLISHED or target is None:
            raise CallStateConflict(f"The transfer destination of line {number} has not answered: wait, or cancel")
        del self._transfers[number]
        other = self._other(held, line)
        events = self._set(held, line, ChannelState.RELEASED)
        events += self._set(consultation, consultation.caller, ChannelState.RELEASED)
        consultation.phase = Phase.RELEASED
        self._settle(consultation, [], consultation.caller)
        target.linked_id = target.linked_id or consultation.linked_id
        if line is held.caller:
            held.caller, held.caller_name = target, ""  # the name shown was the line's own
        else:
            held.callee = target
        held.phase = Phase.ESTABLISHED
        events += self._set(held, other, ChannelState.ESTABLISHED) + self._set(held, target, ChannelState.ESTABLISHED)
        return self._settle(held, events, line)

    def cancel_transfer(self, number: str) -> Outcome:
        transfer = self._pending(number)
        del self._transfers[number]
        consultation, held, line = transfer.consultation, transfer.held, transfer.line
        events = self._release(consultation) if self._live(consultation) else []
        self._settle(consultation, [], consultation.caller)
        if self._live(held) and transfer.held_by_transfer and line.state is ChannelState.ON_HOLD:
            events += self._set(held, line, ChannelState.ESTABLISHED)
        return self._settle(held, events, line) if self._live(held) else self._settle(consultation, events, line)

    def _pending(self, number: str) -> _Transfer:
        transfer = self._transfers.get(number)
        if transfer is None:
            raise TransferNotFound(f"No attended transfer in progress on line {number}")
        return transfer

    def _live(self, call: Call) -> bool:
        return self._calls.get(call.linked_id) is call

    @staticmethod
    def _other(call: Call, party: Party) -> Party:
        other = call.callee if party is call.caller else call.caller
        if other is None or call.phase is not Phase.ESTABLISHED:
            raise CallStateConflict("Only an answered call can be transferred")
        return other
