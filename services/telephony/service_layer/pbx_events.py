"""Where each PBX event goes: the one callback given to the PBX adapter's `start()`."""

from __future__ import annotations

import asyncio
import logging

from services.telephony.domain.pbx import AgentEvent, ChannelEvent, ConnectionChanged, LineAvailability, PbxEvent
from services.telephony.service_layer.agents import AgentService
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.user_services import UserServicesService
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class PbxEventRouter:
    def __init__(self, calls: CallService, agents: AgentService, user_services: UserServicesService) -> None:
        self._calls = calls
        self._agents = agents
        self._user_services = user_services
        self._applying: asyncio.Task[None] | None = None

    async def __call__(self, event: PbxEvent) -> None:
        try:
            await self._route(event)
        except Exception:
            # One event that cannot be handled must not stop the PBX's event stream.
            log.exception("PBX event not handled", extra={"event": type(event).__name__})

    def _reapply_user_services(self) -> None:
        """Give the (re)connected PBX the stored DND and forwards, in a task of its own: one command
        per user and service must not hold back the call events that follow."""
        if self._applying is not None:
            self._applying.cancel()
        self._applying = asyncio.create_task(self._user_services.apply_stored(), name="apply-user-services")

    async def close(self) -> None:
        await cancel_and_wait(self._applying)

    async def _route(self, event: PbxEvent) -> None:
        if isinstance(event, ChannelEvent):
            await self._calls.on_channel(event)
        elif isinstance(event, LineAvailability):
            await self._calls.on_availability(event)
        elif isinstance(event, AgentEvent):
            await self._agents.on_agent_event(event)
        elif isinstance(event, ConnectionChanged):
            log.log(logging.INFO if event.connected else logging.WARNING, "PBX %s: %s",
                    "connected" if event.connected else "disconnected", event.detail)
            if event.connected:
                self._reapply_user_services()
            else:
                await self._calls.on_disconnected()
