"""The calls in progress on each line, as the phone events published so far tell them, and which of
a line's calls a command acts on (pure: no I/O).

Why from the phone events: they are what clients see. A client that reconnects rebuilds its screen
from `of_line` (the latest phone event of each call), and a command without a unique id acts on the
call the client shows as current: the state is updated before each event is published, so whoever
has seen an event finds the call in that state here.

The *current* call of a line, for a command given no unique id, is its channel in the first state
of the command's preference list (`PREFERENCES`), the oldest call first among equals:
- answer: a ringing call;
- hold (a toggle): an established call (put on hold), else one on hold (resumed);
- hangup: established, then dialing, then ringing, then on hold (a phone's red button ends the
  active call, not the one waiting on hold);
- DTMF: an established call;
- transfers: an established call, else one on hold.
A unique id given names the call by the line's channel (`uniqueId` of its phone events) or by the
call (`linkedId`); it must be one of the line's calls in progress, in a state the command accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

from services.telephony.domain.errors import CallNotFound, CallStateConflict, InvalidRequest, NoCurrentCall
from services.telephony.domain.model import PhoneEventOccurred
from services.telephony.domain.pbx import ChannelEvent, ChannelState

_DTMF_KEY = re.compile(r"[0-9*#A-D]")


class CallCommand(Enum):
    ANSWER = "answer"
    HOLD = "hold"
    HANGUP = "hangup"
    DTMF = "send DTMF to"
    TRANSFER = "transfer"
    SET_DATA = "attach data to"


PREFERENCES: dict[CallCommand, tuple[ChannelState, ...]] = {
    CallCommand.ANSWER: (ChannelState.RINGING,),
    CallCommand.HOLD: (ChannelState.ESTABLISHED, ChannelState.ON_HOLD),
    CallCommand.HANGUP: (ChannelState.ESTABLISHED, ChannelState.DIALING, ChannelState.RINGING,
                         ChannelState.ON_HOLD),
    CallCommand.DTMF: (ChannelState.ESTABLISHED,),
    CallCommand.TRANSFER: (ChannelState.ESTABLISHED, ChannelState.ON_HOLD),
    # Data travels with the call whatever its state: the active call first, as for hang-up.
    CallCommand.SET_DATA: (ChannelState.ESTABLISHED, ChannelState.DIALING, ChannelState.RINGING,
                           ChannelState.ON_HOLD),
}


def checked_dtmf_key(key: str) -> str:
    """One DTMF key: 0-9, *, #, A-D (a lower-case letter is taken as its capital)."""
    upper = key.strip().upper()
    if not _DTMF_KEY.fullmatch(upper):
        raise InvalidRequest(f"a DTMF key is one of 0-9, *, #, A-D, got {key[:10]!r}")
    return upper


class CurrentCalls:
    """Line number -> unique id of each of its channels in a call -> the latest phone event of it."""

    def __init__(self) -> None:
        self._lines: dict[str, dict[str, PhoneEventOccurred]] = {}

    def apply(self, event: PhoneEventOccurred) -> None:
        channel = event.channel
        calls = self._lines.setdefault(channel.number, {})
        if channel.state is ChannelState.RELEASED:
            calls.pop(channel.unique_id, None)
        else:
            calls[channel.unique_id] = event  # an update keeps the call's place (oldest first)
        if not calls:
            del self._lines[channel.number]

    def forget_all(self) -> None:
        """The PBX connection was lost: its calls are unknown (the resynchronisation re-announces
        those still up)."""
        self._lines.clear()

    def of_line(self, number: str) -> list[PhoneEventOccurred]:
        """The latest phone event of each call in progress on the line, oldest call first."""
        return list(self._lines.get(number, {}).values())

    def choose(self, number: str, command: CallCommand, unique_id: str = "") -> ChannelEvent:
        """The line's channel the command acts on (see the module's docstring)."""
        states = PREFERENCES[command]
        channels = [event.channel for event in self.of_line(number)]
        if unique_id:
            named = [channel for channel in channels if unique_id in (channel.unique_id, channel.linked_id)]
            if not named:
                raise CallNotFound(f"No call {unique_id[:40]!r} in progress on line {number}")
            return _in_state(named, states, command, unique_id)
        if not channels:
            raise NoCurrentCall(f"No call in progress on line {number}")
        candidates = [channel for channel in channels if channel.state in states]
        if not candidates:
            raise NoCurrentCall(f"No call to {command.value} on line {number}: its calls are "
                                f"{_states(channels)}")
        return min(candidates, key=lambda channel: states.index(channel.state))


def _in_state(named: Sequence[ChannelEvent], states: tuple[ChannelState, ...], command: CallCommand,
              unique_id: str) -> ChannelEvent:
    fitting = [channel for channel in named if channel.state in states]
    if not fitting:
        raise CallStateConflict(f"Cannot {command.value} call {unique_id[:40]!r}: it is {_states(named)}")
    return min(fitting, key=lambda channel: states.index(channel.state))


def _states(channels: Sequence[ChannelEvent]) -> str:
    names = {ChannelState.DIALING: "dialing", ChannelState.RINGING: "ringing",
             ChannelState.ESTABLISHED: "established", ChannelState.ON_HOLD: "on hold"}
    return ", ".join(names.get(channel.state, channel.state.value) for channel in channels)
