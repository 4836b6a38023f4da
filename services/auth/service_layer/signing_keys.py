"""Keeping the signing keys of every auth replica the same, and rotating them on schedule.

Each replica runs `refresh()` at start and then every few seconds (`keep_fresh`): one small
SELECT of the key table; when the schedule asks for a key (none yet, or the current one is old
enough) it creates it, and it deletes keys whose tokens have all expired. The key ring is then
given what the table holds, so all replicas sign with the same key at the same moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from services.auth.domain.errors import SigningKeyFileInUse
from services.auth.domain.ports import KeyMaterial, KeyRing, SigningKeyStore, StoredSigningKey
from services.auth.domain.signing_keys import KeyPeriod, KeySchedule, NewKeyPlan

log = logging.getLogger(__name__)


class SigningKeyManager:
    def __init__(
        self,
        store: SigningKeyStore,
        material: KeyMaterial,
        ring: KeyRing,
        schedule: KeySchedule,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._material = material
        self._ring = ring
        self._schedule = schedule
        self._clock = clock

    def _now(self) -> float:
        # Whole seconds: the dates round-trip exactly through every database's timestamp type.
        return float(int(self._clock()))

    async def start(self, legacy_key: bytes | None = None) -> list[KeyPeriod]:
        """Load (or create) the keys before serving. `legacy_key`: the PEM of the key file of a
        version that kept the key on disk; it becomes the first key when the table is empty, so
        the tokens it signed stay valid."""
        if legacy_key is not None and not await self._store.load():
            now = self._now()
            plan = NewKeyPlan(generation=1, created_at=now, active_from=now, retires=())
            kid, private_key = self._material.adopt(legacy_key)
            if await self._store.add(StoredSigningKey(plan.period(kid), private_key), (), now):
                log.info("signing key imported from the key file into the database", extra={"kid": kid})
        return await self.refresh()

    async def refresh(self) -> list[KeyPeriod]:
        """Reload the keys, create one if the schedule says so, drop expired ones; the key periods."""
        keys = list(await self._store.load())
        now = self._now()
        plan = self._schedule.plan([key.period for key in keys], now)
        if plan is not None:
            keys = await self._create(plan)
        droppable = self._schedule.droppable([key.period for key in keys], now)
        if droppable:
            await self._store.drop([key.kid for key in droppable])
            log.info("retired signing keys dropped", extra={"kids": ",".join(key.kid for key in droppable)})
            gone = {key.kid for key in droppable}
            keys = [key for key in keys if key.period.kid not in gone]
        self._ring.load(keys)
        return [key.period for key in keys]

    async def periods(self) -> list[KeyPeriod]:
        """The keys the database holds now."""
        return [key.period for key in await self._store.load()]

    async def rotate(self) -> KeyPeriod:
        """Create the next key now, whatever the current key's age (published now, signing after
        the pre-publication period); the key already pending, if a rotation is under way."""
        keys = list(await self._store.load())
        now = self._now()
        periods = [key.period for key in keys]
        pending = self._schedule.pending(periods, now)
        if pending is None:
            plan = self._schedule.plan(periods, now, force=True)
            assert plan is not None  # forced: always a plan when none is pending
            keys = await self._create(plan)
            pending = max((key.period for key in keys), key=lambda period: period.generation)
        self._ring.load(keys)
        return pending

    async def _create(self, plan: NewKeyPlan) -> list[StoredSigningKey]:
        kid, private_key = self._material.generate()
        if await self._store.add(StoredSigningKey(plan.period(kid), private_key), plan.retires, plan.active_from):
            log.info("signing key created", extra={"kid": kid, "generation": plan.generation,
                                                   "active_from": plan.active_from})
        # else another replica created this generation first: its key is the one we load.
        return list(await self._store.load())

    async def keep_fresh(self, interval: float) -> None:
        """Refresh every `interval` seconds until cancelled; a failed refresh keeps the keys loaded."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # the database away for a while: keep signing with what we have
                log.warning("could not reload the signing keys", exc_info=True)


class SigningKeyAdministration:
    """`xuc keys`: the keys with their states, and a rotation on demand. Without a manager (the key
    of XUC_SIGNING_KEY_FILE signs) both are refused."""

    def __init__(self, manager: SigningKeyManager | None, schedule: KeySchedule,
                 clock: Callable[[], float] = time.time) -> None:
        self._manager = manager
        self._schedule = schedule
        self._clock = clock

    def _managed(self) -> SigningKeyManager:
        if self._manager is None:
            raise SigningKeyFileInUse()
        return self._manager

    async def keys(self) -> list[tuple[KeyPeriod, str]]:
        return describe(await self._managed().periods(), self._schedule, self._clock())

    async def rotate(self) -> tuple[KeyPeriod, bool, list[tuple[KeyPeriod, str]]]:
        """The key that signs next, whether a rotation was already under way, and every key after."""
        manager = self._managed()
        under_way = self._schedule.pending(await manager.periods(), self._clock()) is not None
        new = await manager.rotate()
        return new, under_way, await self.keys()


def describe(periods: Sequence[KeyPeriod], schedule: KeySchedule, now: float) -> list[tuple[KeyPeriod, str]]:
    """Each key with its state at `now`: signing, pending, retired (still published)."""
    signing = schedule.signing(periods, now)
    states = []
    for period in sorted(periods, key=lambda key: key.generation):
        if signing is not None and period.kid == signing.kid:
            state = "signing"
        elif period.active_from > now:
            state = "pending"
        else:
            state = "retired"
        states.append((period, state))
    return states
