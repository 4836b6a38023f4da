"""The leases of imports in progress: rows of imports whose lease expired are discarded, a running
import renews its lease, and an import that lost its lease publishes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.contacts.domain.contacts import (
    Contact,
    ContactFields,
)
from services.contacts.domain.errors import (
    ImportInterrupted,
)
from tests.unit.personal_contacts.fakes import ALICE, LEASE, NOW, FakeDatabase, Lease, Row, System
from xuc.errors import ErrorKind, Unreachable


async def test_pending_rows_without_a_lease_are_discarded_at_start() -> None:
    system = System()
    system.database.rows["left"] = Row(Contact("left", ALICE.user_id, ContactFields(lastname="Doe")), "import-1")
    kept = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))

    assert await system.service.discard_unfinished_imports() == 1
    assert list(system.database.rows) == [kept.id]
    assert await system.service.discard_unfinished_imports() == 0


def pending_import(database: FakeDatabase, import_id: str, instance_id: str, renewed_at: float,
                   count: int = 2) -> None:
    """Rows an import of another process stored, and its lease."""
    database.leases[import_id] = Lease(ALICE.user_id, instance_id, renewed_at)
    for index in range(count):
        contact = Contact(f"{import_id}-{index}", ALICE.user_id, ContactFields(lastname=f"{import_id}{index}"))
        database.rows[contact.id] = Row(contact, import_id)


async def test_only_imports_whose_lease_expired_are_discarded() -> None:
    system = System()
    pending_import(system.database, "crashed", "instance-0", NOW - LEASE - 1)
    pending_import(system.database, "alive", "instance-2", NOW - LEASE + 5)

    assert await system.service.discard_unfinished_imports() == 2
    assert set(system.database.leases) == {"alive"}
    assert system.database.pending() == 2  # the live replica's import is untouched
    system.now += 10  # instance-2 died without renewing: its lease expires
    await system.service.maintain()
    assert system.database.leases == {}
    assert system.database.rows == {}


async def test_a_running_import_renews_its_lease_and_survives_another_process() -> None:
    database = FakeDatabase()
    mine, other = System(batch_size=1, database=database), System(database=database, instance_id="instance-2")
    stored, go_on = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        stored.set()
        await go_on.wait()  # a slow upload: no batch for longer than a lease
        yield "", b"Kim\n"

    task = asyncio.create_task(mine.import_contacts(ALICE, chunks()))
    await stored.wait()
    await asyncio.sleep(0)
    [import_id] = database.leases
    assert database.leases[import_id].instance_id == "instance-1"
    for _ in range(4):  # two minutes: mine renews its leases (maintain), the other one reaps
        mine.now = other.now = mine.now + LEASE / 2
        await mine.service.maintain()
        await other.service.maintain()
    assert await other.service.discard_unfinished_imports() == 0  # a restart of the other process
    assert database.pending() == 2
    go_on.set()
    report = await task
    assert len(report.created) == 3
    assert database.leases == {}  # released with the publication
    assert [contact.fields.lastname for contact in database.visible(ALICE)] == ["Doe", "Kim", "Lee"]


async def test_an_import_that_lost_its_lease_publishes_nothing() -> None:
    database = FakeDatabase()
    mine, other = System(batch_size=1, database=database), System(database=database, instance_id="instance-2")
    stored, go_on = asyncio.Event(), asyncio.Event()

    async def chunks() -> AsyncIterator[tuple[str, bytes]]:
        yield "", b"lastname\nDoe\nLee\n"
        stored.set()
        await go_on.wait()
        yield "", b"Kim\n"

    task = asyncio.create_task(mine.import_contacts(ALICE, chunks()))
    await stored.wait()
    await asyncio.sleep(0)
    other.now += LEASE + 1  # mine could not renew (say its database link was down): reaped
    await other.service.maintain()
    assert database.rows == {}
    go_on.set()
    with pytest.raises(ImportInterrupted) as interrupted:
        await task
    # Answered as any unreachable dependency: UNAVAILABLE (503) "Unreachable", worth sending again.
    assert isinstance(interrupted.value, Unreachable)
    assert (interrupted.value.reason, interrupted.value.kind) == ("Unreachable", ErrorKind.UNAVAILABLE)
    assert interrupted.value.message == ImportInterrupted.default_message
    assert database.rows == {}
    assert database.leases == {}
    assert [type(event) for event in mine.publisher.events] == []
