"""The phone status of each line, derived from its channels' states (a pure model).

Codes as XiVO clients know them (xuc.telephony.v1.PhoneStatus). The rule, for one line:
no channel -> AVAILABLE (UNAVAILABLE when the PBX says the line cannot take calls);
ringing while another channel is active -> BUSY_AND_RINGING; ringing -> RINGING;
every channel on hold -> ON_HOLD; a channel established -> BUSY; dialing -> CALLING.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from services.telephony.domain.pbx import ChannelEvent, ChannelState


class PhoneStatus(IntEnum):
    AVAILABLE = 0
    CALLING = 1
    BUSY = 2
    UNAVAILABLE = 4
    RINGING = 8
    BUSY_AND_RINGING = 9
    ON_HOLD = 16
    DEACTIVATED = -1
    NOT_A_LINE = -2
    ERROR = -99


def status_of(states: Iterable[ChannelState], available: bool = True) -> PhoneStatus:
    active = [state for state in states if state is not ChannelState.RELEASED]
    if not active:
        return PhoneStatus.AVAILABLE if available else PhoneStatus.UNAVAILABLE
    ringing = ChannelState.RINGING in active
    others = [state for state in active if state is not ChannelState.RINGING]
    if ringing:
        return PhoneStatus.BUSY_AND_RINGING if others else PhoneStatus.RINGING
    if all(state is ChannelState.ON_HOLD for state in others):
        return PhoneStatus.ON_HOLD
    if ChannelState.ESTABLISHED in others:
        return PhoneStatus.BUSY
    return PhoneStatus.CALLING


class LineStatuses:
    """Channels per line and the status they make. `apply` answers the line's new status when
    the event changes it, else None."""

    def __init__(self) -> None:
        self._channels: dict[str, dict[str, ChannelState]] = {}
        self._unavailable: set[str] = set()
        self._status: dict[str, PhoneStatus] = {}

    def status(self, number: str) -> PhoneStatus:
        return self._status.get(number, PhoneStatus.AVAILABLE)

    def apply(self, event: ChannelEvent) -> PhoneStatus | None:
        channels = self._channels.setdefault(event.number, {})
        if event.state is ChannelState.RELEASED:
            channels.pop(event.unique_id, None)
        else:
            channels[event.unique_id] = event.state
        if not channels:
            del self._channels[event.number]
        return self._update(event.number)

    def set_available(self, number: str, available: bool) -> PhoneStatus | None:
        if available:
            self._unavailable.discard(number)
        else:
            self._unavailable.add(number)
        return self._update(number)

    def reset(self) -> list[str]:
        """Forget every channel (the PBX connection was lost: its calls are unknown); the lines
        whose status changes back to available."""
        busy = list(self._channels)
        self._channels.clear()
        return [number for number in busy if self._update(number) is not None]

    def _update(self, number: str) -> PhoneStatus | None:
        new = status_of(self._channels.get(number, {}).values(), number not in self._unavailable)
        if self.status(number) is new:
            return None
        self._status[number] = new
        return new
