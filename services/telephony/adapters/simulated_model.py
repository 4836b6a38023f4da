"""The PBX simulator's data: calls, their parties and the views of them that the Simulator API
lists (pure; the rules that change them are in simulated_calls.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from services.telephony.domain.pbx import CallIds, ChannelEvent, ChannelState


class CallState(StrEnum):
    """A call as the Simulator API lists it (the `state` of a SimulatedCall)."""

    RINGING = "ringing"
    ESTABLISHED = "established"
    ON_HOLD = "on_hold"
    RELEASED = "released"


@dataclass(frozen=True)
class SimulatedCallView:
    """A snapshot of one call: the unique ids are the caller's channel's, then the callee's
    (a party without a channel, i.e. an external number, has none)."""

    linked_id: str
    caller: str
    callee: str
    state: CallState
    unique_ids: tuple[str, ...]
    dtmf: str = ""  # the DTMF keys the lines of the call sent, in order


@dataclass(frozen=True)
class Outcome:
    """What an operation did: its events in order, the call it acted on (after the operation),
    and the ids of the acting party's channel (the linked id when that party has no channel)."""

    events: list[ChannelEvent]
    call: SimulatedCallView
    ids: CallIds


class AsteriskIds:
    """Unique ids as Asterisk makes them, `<epoch seconds>.<sequence>`, the sequence growing for
    the whole life of the simulator so that two ids never collide."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sequence = 0

    def __call__(self) -> str:
        self._sequence += 1
        return f"{int(self._clock())}.{self._sequence}"


class Phase(Enum):
    SOURCE_RINGING = "source_ringing"  # click-to-call without auto-answer: the source line rings first
    RINGING = "ringing"  # the callee rings
    ESTABLISHED = "established"
    RELEASED = "released"


@dataclass(eq=False)  # parties and calls are compared by identity
class Party:
    number: str
    unique_id: str  # "" for an external number: no channel, no events
    state: ChannelState
    # Set when the channel was moved into another call (a completed attended transfer): a channel
    # keeps the linked id it was born with, as Asterisk's do, so each call's history is whole.
    linked_id: str = ""


@dataclass(eq=False)
class Call:
    caller: Party
    dialled: str  # what the caller dialled (before forwards)
    caller_name: str  # shown to the callee (other_name of its events)
    user_data: Mapping[str, str]
    linked_id: str = ""  # the first channel's unique id (or a fresh id when no party has a channel)
    callee: Party | None = None  # None until the callee is rung (or when nobody could be)
    phase: Phase = Phase.RINGING
    ring_round: int = 0  # +1 each time a party starts ringing: the adapter's ring timer follows it
    visited: set[str] = field(default_factory=set)  # numbers already tried: no forward loops
    dtmf: str = ""

    def parties(self) -> list[Party]:
        return [self.caller] if self.callee is None else [self.caller, self.callee]


def state_of(call: Call) -> CallState:
    if call.phase is Phase.RELEASED:
        return CallState.RELEASED
    if call.phase is not Phase.ESTABLISHED:
        return CallState.RINGING
    if any(party.state is ChannelState.ON_HOLD for party in call.parties()):
        return CallState.ON_HOLD
    return CallState.ESTABLISHED
