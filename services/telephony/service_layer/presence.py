"""Presence: the configured statuses (stored, the defaults until provisioned), each user's chosen
status (stored: it survives restarts), and what choosing one does (DND, agents). Rules live in
domain/presence.py; this applies them through the user services and the agents."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from services.telephony.domain.model import UserStatusChanged
from services.telephony.domain.pbx import AgentStatus
from services.telephony.domain.presence import Effect, StatusTable, UserStatus, check_statuses
from services.telephony.service_layer.agents import AgentService
from services.telephony.service_layer.dependencies import Dependencies
from services.telephony.service_layer.user_services import UserServicesService

log = logging.getLogger(__name__)

# Which agents an effect acts on: those in one of these states.
_AGENTS_CONCERNED = {
    Effect.AGENT_LOGOUT: (AgentStatus.READY, AgentStatus.PAUSED),
    Effect.AGENT_PAUSE: (AgentStatus.READY,),
    Effect.AGENT_UNPAUSE: (AgentStatus.PAUSED,),
}


class PresenceService:
    def __init__(self, deps: Dependencies, user_services: UserServicesService, agents: AgentService) -> None:
        self._uow = deps.uow
        self._publisher = deps.publisher
        self._directory = deps.directory
        self._clock = deps.clock
        self._user_services = user_services
        self._agents = agents
        self._table = StatusTable()
        # One choice at a time per user: the actions and the stored choice of two must not interleave.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def load(self) -> None:
        """Read the configured statuses (at start, and when a standby becomes active: the
        previous active may have changed them)."""
        async with self._uow() as uow:
            self._table = StatusTable.of(await uow.repository.user_status_table())

    def statuses(self) -> list[UserStatus]:
        return list(self._table.statuses)

    async def put(self, statuses: list[UserStatus], validate_only: bool = False) -> int:
        """Replace the configured statuses (all or nothing); `validate_only`: check them
        (InvalidUserStatuses listing every violation) and change nothing. How many are configured."""
        check_statuses(statuses)
        if validate_only:
            return 0
        async with self._uow() as uow:
            await uow.repository.replace_user_status_table(statuses)
            await uow.commit()
        self._table = StatusTable.of(statuses)
        return len(statuses)

    async def get(self, login: str) -> UserStatus:
        self._directory.require(login)
        async with self._uow() as uow:
            return self._table.current(await uow.repository.chosen_user_status(login))

    async def choose(self, login: str, name: str) -> UserStatus:
        """Apply the status's actions, then store the choice and announce it. An action that
        fails (the PBX unreachable) fails the choice: the actions before it stay applied, the
        choice is not stored."""
        self._directory.require(login)
        status = self._table.find(name)
        async with self._locks[login]:
            for effect in status.effects():
                await self._apply(login, effect)
            async with self._uow() as uow:
                await uow.repository.save_chosen_user_status(login, status.name, self._clock())
                await uow.commit()
            await self._publisher.publish([UserStatusChanged(login, status, self._clock())])
        return status

    async def _apply(self, login: str, effect: Effect) -> None:
        """One effect, skipped where it does not apply (DND without a line, agents not logged in)."""
        if effect in (Effect.DND_ON, Effect.DND_OFF):
            user = self._directory.by_login(login)
            if user is not None and user.number:  # DND is a line's: a user without one has none
                await self._user_services.set_dnd(login, effect is Effect.DND_ON)
            return
        for state in self._agents.agents_of(login):
            if state.status not in _AGENTS_CONCERNED[effect]:
                continue
            if effect is Effect.AGENT_LOGOUT:
                await self._agents.logout(state.phone_number)
            else:
                await self._agents.set_paused(state.phone_number, effect is Effect.AGENT_PAUSE)
