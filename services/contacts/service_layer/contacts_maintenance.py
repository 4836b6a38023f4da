"""The contacts service's upkeep: the import leases of this process renewed while its imports run,
the pending rows of imports no live process runs deleted (at start and every round), and the
idempotency keys older than their window forgotten. Several processes may serve one database:
each does its own rounds, and the database arbitrates which one reaps an expired import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.contacts.domain.idempotency import IDEMPOTENCY_WINDOW_SECONDS
from services.contacts.domain.ports import ContactsUnitOfWork
from services.contacts.service_layer.contacts_cache import ContactsCache

log = logging.getLogger(__name__)

IMPORT_LEASE_SECONDS = 60.0  # an import whose lease is this old is a dead process's: its rows go


class ContactsMaintenance:
    def __init__(self, unit_of_work: Callable[[], ContactsUnitOfWork], cache: ContactsCache,
                 clock: Callable[[], float], instance_id: str, imports_running: Callable[[], int],
                 lease_seconds: float = IMPORT_LEASE_SECONDS) -> None:
        self._uow = unit_of_work
        self._cache = cache
        self._clock = clock
        self._instance_id = instance_id
        self._imports_running = imports_running
        self.lease_seconds = lease_seconds

    async def discard_unfinished_imports(self) -> int:
        """Delete the pending rows of imports no live process runs; call at start.

        Those of an expired lease (a crashed process's; the imports of live processes, which renew
        theirs, are left alone), and those without a lease (left by a version without leases)."""
        discarded = await self._reap_expired_imports()
        async with self._uow() as uow:
            unregistered = await uow.contacts.discard_unregistered_pending()
            await uow.commit()
        if unregistered:
            log.warning("pending rows of unfinished imports deleted", extra={"rows": unregistered})
        self._cache.clear()  # pending rows are invisible: to be safe only
        return discarded + unregistered

    async def _reap_expired_imports(self) -> int:
        before = self._clock() - self.lease_seconds
        async with self._uow() as uow:
            expired = await uow.imports.expired(before)
        discarded = 0
        for import_id in expired:
            async with self._uow() as uow:
                if not await uow.imports.take_expired(import_id, before):
                    continue  # renewed (or finished) meanwhile
                rows = await uow.contacts.discard_import(import_id)
                await uow.commit()
            discarded += rows
            log.warning("pending rows of unfinished imports deleted",
                        extra={"import_id": import_id, "rows": rows})
        return discarded

    async def maintain(self) -> None:
        """One round of upkeep (run every `maintenance_interval` s): renew the leases of this
        process's imports in progress, delete the rows of expired imports, forget idempotency
        keys older than 24 h."""
        if self._imports_running():
            async with self._uow() as uow:
                await uow.imports.renew_all(self._instance_id, self._clock())
                await uow.commit()
        await self._reap_expired_imports()
        async with self._uow() as uow:
            forgotten = await uow.idempotency.delete_expired(self._clock() - IDEMPOTENCY_WINDOW_SECONDS)
            await uow.commit()
        if forgotten:
            log.info("expired idempotency keys deleted", extra={"rows": forgotten})

    @property
    def maintenance_interval(self) -> float:
        return self.lease_seconds / 4

    async def run_maintenance(self) -> None:
        """`maintain` every `maintenance_interval` s, until cancelled; a failed round is logged."""
        while True:
            await asyncio.sleep(self.maintenance_interval)
            try:
                await self.maintain()
            except Exception:
                log.exception("contacts maintenance failed (retried at the next round)")
