"""Which way a call goes, from a line's side: "Outgoing" or "Incoming" (the CTI channel's
callDirection). Decided by the first event of the line's channel and kept until it is released:
a channel that starts by dialling, or that our click-to-call rang first (its caller), is outgoing;
one that starts by ringing for someone else's call is incoming. A channel first seen established
(announced again after a PBX reconnection) is taken as incoming: nothing tells otherwise."""

from __future__ import annotations

from services.telephony.domain.pbx import ChannelEvent, ChannelState

OUTGOING = "Outgoing"
INCOMING = "Incoming"
MAX_TRACKED = 100_000  # channels whose release was never seen (a lost PBX event) are not kept forever


class CallDirections:
    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def apply(self, event: ChannelEvent) -> str:
        direction = self._known.get(event.unique_id)
        if direction is None:
            direction = OUTGOING if event.is_caller or event.state is ChannelState.DIALING else INCOMING
            if len(self._known) >= MAX_TRACKED:
                self._known.pop(next(iter(self._known)))
            self._known[event.unique_id] = direction
        if event.state is ChannelState.RELEASED:
            self._known.pop(event.unique_id, None)
        return direction

    def forget_all(self) -> None:
        self._known.clear()
