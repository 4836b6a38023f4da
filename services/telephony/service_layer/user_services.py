"""Do not disturb and call forwards: stored (they survive restarts), applied to the PBX, published."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from services.telephony.domain.errors import PbxUnreachable
from services.telephony.domain.model import UserServices, UserServicesChanged, checked_forward
from services.telephony.domain.pbx import ForwardKind
from services.telephony.service_layer.dependencies import Dependencies

log = logging.getLogger(__name__)


class UserServicesService:
    def __init__(self, deps: Dependencies) -> None:
        self._uow = deps.uow
        self._pbx = deps.pbx
        self._publisher = deps.publisher
        self._directory = deps.directory
        self._clock = deps.clock
        # One change at a time per user: the PBX and the stored services must end up alike.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def apply_stored(self) -> None:
        """Give the PBX the stored services of every user with a line: at start (the simulator
        keeps them in memory only) and whenever the PBX connection comes back."""
        async with self._uow() as uow:
            stored = await uow.repository.all_user_services()
        try:
            for services in stored:
                user = self._directory.by_login(services.login)
                if user is not None and user.number:
                    await self._apply(user.number, services)
        except PbxUnreachable:
            log.warning("user services not applied: the PBX is not reachable (retried on reconnection)")

    async def get(self, login: str) -> UserServices:
        self._directory.require(login)
        async with self._uow() as uow:
            return await uow.repository.user_services(login) or UserServices(login)

    async def set_dnd(self, login: str, enabled: bool) -> UserServices:
        user = self._directory.with_line(login)
        async with self._locks[login]:
            await self._pbx.set_dnd(user.number, enabled)  # PBX first: unreachable -> nothing stored
            return await self._store(login, lambda services: UserServices(
                login, enabled, services.unconditional, services.no_answer, services.busy))

    async def set_forward(self, login: str, kind: ForwardKind, enabled: bool, destination: str) -> UserServices:
        user = self._directory.with_line(login)
        forward = checked_forward(enabled, destination)
        async with self._locks[login]:
            await self._pbx.set_forward(user.number, kind, forward.enabled, forward.destination)
            return await self._store(login, lambda services: services.with_forward(kind, forward))

    async def _store(self, login: str, change: Callable[[UserServices], UserServices]) -> UserServices:
        async with self._uow() as uow:
            current = await uow.repository.user_services(login) or UserServices(login)
            updated = change(current)
            await uow.repository.save_user_services(updated)
            await uow.commit()
        if updated != current:
            await self._publisher.publish([UserServicesChanged(updated, self._clock())])
        return updated

    async def _apply(self, number: str, services: UserServices) -> None:
        await self._pbx.set_dnd(number, services.dnd)
        for kind in ForwardKind:
            forward = getattr(services, kind.value)
            await self._pbx.set_forward(number, kind, forward.enabled, forward.destination)
