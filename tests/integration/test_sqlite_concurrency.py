"""Concurrent writes on the default SQLite database: each waits its turn, none fails.

A deferred transaction that reads then writes used to fail at once with "database is locked" when
another writer committed in between (168 of 200 concurrent updates); xuc.runtime.db now begins
every SQLite transaction IMMEDIATE, so writers queue on the lock (busy_timeout) instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from services.contacts.adapters.contact_repository import SqlContactsUnitOfWork
from services.contacts.domain.contacts import ContactFields, Owner
from services.contacts.service_layer.personal_contacts import PersonalContactsService
from xuc.runtime import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "contacts" / "adapters" / "migrations"


class DroppedEvents:
    async def publish(self, events: Sequence[object]) -> None:
        return None


class NoLines:
    async def statuses(self, numbers: Sequence[str]) -> dict[str, int]:
        return {}


async def test_concurrent_read_then_write_transactions_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'contacts.db'}"
    await db.migrate(url, MIGRATIONS, "contacts_alembic_version")
    engine = db.create_engine_for(url)
    try:
        service = PersonalContactsService(lambda: SqlContactsUnitOfWork(engine), DroppedEvents(), NoLines())
        owners = [Owner(f"user-{index}", f"login{index}") for index in range(8)]
        contacts = [await service.create_contact(owner, ContactFields(lastname="a", number="1")) for owner in owners]

        updates = [service.update_contact(owner, contact.id, ContactFields(lastname=f"b{round_}", number="1"))
                   for round_ in range(25) for owner, contact in zip(owners, contacts, strict=True)]
        results = await asyncio.gather(*updates, return_exceptions=True)

        assert [result for result in results if isinstance(result, BaseException)] == []
        for owner, contact in zip(owners, contacts, strict=True):
            assert (await service.get_contact(owner, contact.id)).fields.lastname.startswith("b")
    finally:
        await engine.dispose()
