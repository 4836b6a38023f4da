"""What the AmiPbx tests (tests/integration/ami_adapter/) share: the adapter's event sink, which
keeps every event for the test to wait on, and an adapter started with back-off and timeouts
shortened so that every test takes well under 3 s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.domain.pbx import AgentLine, ChannelEvent, ConnectionChanged, PbxEvent

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.2, "action_timeout": 1.0, "connect_timeout": 1.0,
                        "originate_wait": 0.3, "ping_interval": None}
LINES = {"1001", "1002"}
AGENT = AgentLine("2001", "1002", ["support", "sales"])


class Sink:
    """The adapter's event sink: every event, in order, for the test to wait on."""

    def __init__(self) -> None:
        self.received: list[PbxEvent] = []
        self._queue: asyncio.Queue[PbxEvent] = asyncio.Queue()

    async def __call__(self, event: PbxEvent) -> None:
        self.received.append(event)
        await self._queue.put(event)

    async def next(self, within: float = 2.0) -> PbxEvent:
        return await asyncio.wait_for(self._queue.get(), within)

    async def until(self, wanted: Callable[[PbxEvent], bool], within: float = 2.0) -> PbxEvent:
        """The next event that is `wanted` (others are skipped)."""
        async with asyncio.timeout(within):
            while not wanted(event := await self._queue.get()):
                pass
        return event

    async def channel_events(self, count: int, within: float = 2.0) -> list[ChannelEvent]:
        events: list[ChannelEvent] = []
        async with asyncio.timeout(within):
            while len(events) < count:
                event = await self._queue.get()
                if isinstance(event, ChannelEvent):
                    events.append(event)
        return events


def connected(up: bool) -> Callable[[PbxEvent], bool]:
    return lambda event: isinstance(event, ConnectionChanged) and event.connected is up


async def started(url: str, sink: Sink, **options: Any) -> AmiPbx:
    pbx = AmiPbx(url, **{**FAST, **options})
    await pbx.set_lines(LINES)
    await pbx.start(sink)
    return pbx
