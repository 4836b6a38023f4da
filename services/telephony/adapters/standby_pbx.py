"""StandbyPbx: the Pbx port of an instance that may be a standby (XUC_TELEPHONY_FAILOVER).

While standing by it holds no PBX connection: every command fails at once with PbxUnreachable and
`connection()` says why. `activate()` builds a fresh adapter (an AmiPbx), gives it the known lines
and starts it with the service's event sink, so the usual login, resynchronisation and reapplied
user services follow; `deactivate()` closes it and reports the connection as lost, which makes the
service forget the PBX's calls as after any disconnection.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from services.telephony.domain.errors import PbxUnreachable
from services.telephony.domain.pbx import (
    AgentLine,
    CallIds,
    ConnectionChanged,
    EventSink,
    ForwardKind,
    Originate,
    Pbx,
    PbxConnection,
)


class StandbyPbx:
    def __init__(self, factory: Callable[[], Pbx], kind: str, standby_detail: Callable[[], str],
                 may_command: Callable[[], bool]) -> None:
        self._factory = factory
        self._may_command = may_command
        self._kind = kind
        self._standby_detail = standby_detail
        self._inner: Pbx | None = None
        self._sink: EventSink | None = None
        self._lines: tuple[str, ...] = ()

    async def start(self, on_event: EventSink) -> None:
        self._sink = on_event

    async def activate(self) -> None:
        if self._inner is not None or self._sink is None:
            return
        inner = self._factory()
        await inner.set_lines(self._lines)
        self._inner = inner
        await inner.start(self._sink)

    async def deactivate(self, detail: str) -> None:
        inner, self._inner = self._inner, None
        if inner is None:
            return
        await inner.close()
        if self._sink is not None:
            await self._sink(ConnectionChanged(False, detail))

    async def close(self) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.close()

    def connection(self) -> PbxConnection:
        if self._inner is not None:
            return self._inner.connection()
        return PbxConnection(kind=self._kind, connected=False, detail=self._standby_detail())

    def _active(self) -> Pbx:
        if self._inner is None:
            raise PbxUnreachable(f"This telephony instance is a standby ({self._standby_detail()})")
        if not self._may_command():
            raise PbxUnreachable("This telephony instance is stepping down: its PBX lease is not renewed")
        return self._inner

    async def set_lines(self, numbers: Collection[str]) -> None:
        self._lines = tuple(numbers)
        if self._inner is not None:
            await self._inner.set_lines(self._lines)

    async def originate(self, call: Originate) -> CallIds:
        return await self._active().originate(call)

    async def set_dnd(self, number: str, enabled: bool) -> None:
        await self._active().set_dnd(number, enabled)

    async def set_forward(self, number: str, kind: ForwardKind, enabled: bool, destination: str) -> None:
        await self._active().set_forward(number, kind, enabled, destination)

    async def agent_login(self, agent: AgentLine) -> None:
        await self._active().agent_login(agent)

    async def agent_logout(self, agent: AgentLine) -> None:
        await self._active().agent_logout(agent)

    async def agent_pause(self, agent: AgentLine, paused: bool) -> None:
        await self._active().agent_pause(agent, paused)

    async def answer_channel(self, number: str, unique_id: str) -> None:
        await self._active().answer_channel(number, unique_id)

    async def hold_channel(self, number: str, unique_id: str, on_hold: bool) -> None:
        await self._active().hold_channel(number, unique_id, on_hold)

    async def hangup_channel(self, number: str, unique_id: str) -> None:
        await self._active().hangup_channel(number, unique_id)

    async def send_dtmf(self, number: str, unique_id: str, key: str) -> None:
        await self._active().send_dtmf(number, unique_id, key)

    async def direct_transfer(self, number: str, unique_id: str, destination: str) -> None:
        await self._active().direct_transfer(number, unique_id, destination)

    async def attended_transfer(self, number: str, unique_id: str, destination: str) -> None:
        await self._active().attended_transfer(number, unique_id, destination)

    async def complete_transfer(self, number: str) -> CallIds:
        return await self._active().complete_transfer(number)

    async def cancel_transfer(self, number: str) -> CallIds:
        return await self._active().cancel_transfer(number)

    async def set_call_data(self, number: str, unique_id: str, variables: Mapping[str, str]) -> None:
        await self._active().set_call_data(number, unique_id, variables)
