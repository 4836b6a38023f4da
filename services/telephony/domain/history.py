"""Call history rules (pure): which calls are recorded, and how a user sees them.

A call is every channel sharing a `linked_id`. It is recorded once its last channel is released:
start = its first event, end = its last, answered = some channel was established. The source is
the line that dialled (for an incoming external call, the other number of the line that rang);
the destination is the line that rang (for a call out, the number dialled). From a user's side the
call is `emitted` (the user is the source), else `answered` or `missed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.telephony.domain.pbx import ChannelEvent, ChannelState


@dataclass(frozen=True)
class EndedCall:
    linked_id: str
    src_number: str
    dst_number: str
    start: datetime
    end: datetime
    answered: bool


@dataclass(frozen=True)
class HistoryEntry:
    """One call as a user sees it (the 1.0 historyByUsername item)."""

    start: datetime
    duration: timedelta
    src: str  # a login, or the number of a party that is no user
    dst: str
    status: str  # "emitted", "answered" or "missed"


@dataclass
class _LiveCall:
    start: datetime
    src: str = ""
    dst: str = ""
    answered: bool = False
    channels: set[str] = field(default_factory=set)


class CallTracker:
    """Follows live calls from channel events; `apply` answers the call when it has just ended."""

    def __init__(self) -> None:
        self._live: dict[str, _LiveCall] = {}
        self._dialled: set[str] = set()  # channels that dialled: the calling side of their call

    def apply(self, event: ChannelEvent, now: datetime) -> EndedCall | None:
        call = self._live.setdefault(event.linked_id, _LiveCall(start=now))
        if event.state is ChannelState.DIALING or (event.is_caller and event.state is ChannelState.RINGING):
            self._dialled.add(event.unique_id)
            call.src, call.dst = event.number, event.other_number or call.dst
        elif event.state is ChannelState.RINGING and event.unique_id not in self._dialled:
            call.dst = event.number
            call.src = call.src or event.other_number
        elif event.state is ChannelState.ESTABLISHED:
            call.answered = True
        if event.state is ChannelState.RELEASED:
            call.channels.discard(event.unique_id)
            self._dialled.discard(event.unique_id)
        else:
            call.channels.add(event.unique_id)
        if call.channels:
            return None
        del self._live[event.linked_id]
        return EndedCall(event.linked_id, call.src, call.dst, call.start, now, call.answered)

    def forget_all(self) -> None:
        """The PBX connection was lost: live calls can no longer be followed."""
        self._live.clear()
        self._dialled.clear()


def entry_for(call: EndedCall, src: str, dst: str, viewer: str) -> HistoryEntry:
    """The call as `viewer` (a login) sees it; `src`/`dst` are the parties' logins or numbers."""
    status = "emitted" if viewer == src else "answered" if call.answered else "missed"
    return HistoryEntry(call.start, call.end - call.start, src, dst, status)


def format_start(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(duration: timedelta) -> str:
    seconds = max(0, int(duration.total_seconds()))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
