"""Idempotent creation against fakes of the ports: one contact per key and owner, refused and expired
keys, retries racing the first attempt, and maintenance forgetting expired keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.contacts.domain.contacts import (
    ContactFields,
)
from services.contacts.domain.errors import (
    DuplicateContact,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from services.contacts.domain.events import ContactChanged, Event
from services.contacts.domain.idempotency import IDEMPOTENCY_WINDOW_SECONDS, IdempotentCreation, creation_fingerprint
from tests.unit.personal_contacts.fakes import ALICE, BOB, NOW, FakeIdempotencyKeys, System


# --- idempotent creation -------------------------------------------------------------------------------
async def test_the_same_key_gives_the_same_contact_once() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(firstname=" Ann", number="1"), "key-1")
    again = await system.service.create_contact(ALICE, ContactFields(firstname="Ann ", number="1"), "key-1")

    assert again == first
    assert system.database.visible(ALICE) == [first]
    assert [type(event) for event in system.publisher.events] == [ContactChanged]  # no second event
    assert system.database.keys[(ALICE.user_id, "key-1")].contact_id == first.id


async def test_the_same_key_with_other_fields_is_refused() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    for other in (ContactFields(lastname="Dee"), ContactFields(lastname="Doe", favorite=True)):
        with pytest.raises(IdempotencyKeyReused):
            await system.service.create_contact(ALICE, other, "key-1")
    assert system.database.visible(ALICE) == [first]
    assert len(system.publisher.events) == 1


@pytest.mark.parametrize("key", ["", " ", " lead", "trail ", "x" * 129, "é", "tab\there", "new\nline"])
async def test_invalid_keys_are_refused(key: str) -> None:
    system = System()
    with pytest.raises(InvalidIdempotencyKey):
        await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), key)
    assert system.database.rows == {}


async def test_keys_belong_to_their_owner_and_expire_after_a_day() -> None:
    system = System()
    alice_first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "k" * 128)
    bob_first = await system.service.create_contact(BOB, ContactFields(lastname="Doe"), "k" * 128)
    assert bob_first.id != alice_first.id

    system.now += IDEMPOTENCY_WINDOW_SECONDS - 1
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "k" * 128) == alice_first
    system.now += 2  # a day later, the key is new again
    later = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"), "k" * 128)
    assert later.id != alice_first.id
    assert system.database.keys[(ALICE.user_id, "k" * 128)].contact_id == later.id


async def test_a_retry_answers_the_first_answer_even_after_a_change() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    await system.service.update_contact(ALICE, first.id, ContactFields(lastname="Dee"))
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1") == first
    await system.service.delete_contact(ALICE, first.id)
    assert await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1") == first
    assert system.database.visible(ALICE) == []  # not created again


async def test_a_retry_after_the_commit_but_before_the_answer_gets_the_first_contact() -> None:
    system = System()
    committed, answer = asyncio.Event(), asyncio.Event()
    publish = system.publisher.publish

    async def slow_publish(events: Sequence[Event]) -> None:  # the first request, between commit and answer
        committed.set()
        await answer.wait()
        await publish(events)

    system.publisher.publish = slow_publish  # type: ignore[method-assign]
    first = asyncio.create_task(system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1"))
    await committed.wait()
    retried = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    answer.set()
    assert await first == retried
    assert len(system.database.visible(ALICE)) == 1
    assert len(system.publisher.events) == 1


async def test_a_key_taken_but_not_found_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim finds the key taken, the look-up misses its record (it expired or went meanwhile):
    the service tries again, and answers the record it then finds."""
    system = System()
    system.database.keys[(ALICE.user_id, "key-1")] = IdempotentCreation(
        "other-request-contact", creation_fingerprint(ContactFields(lastname="Doe")), NOW)
    find = FakeIdempotencyKeys.find
    calls: list[str] = []

    async def late_find(self: FakeIdempotencyKeys, owner_id: str, key: str, since: float) -> IdempotentCreation | None:
        calls.append(key)
        return None if len(calls) == 1 else await find(self, owner_id, key, since)

    monkeypatch.setattr(FakeIdempotencyKeys, "find", late_find)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "key-1")
    assert contact.id == "other-request-contact"
    assert calls == ["key-1", "key-1"]
    assert system.database.rows == {}  # our contact was not created
    assert system.publisher.events == []


async def test_a_key_does_not_bypass_duplicates() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    for _ in range(2):
        with pytest.raises(DuplicateContact):
            await system.service.create_contact(ALICE, ContactFields(lastname="doe"), "key-1")
    assert system.database.keys == {}  # nothing recorded with the refused creation


async def test_maintenance_forgets_expired_keys() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"), "old")
    system.now += IDEMPOTENCY_WINDOW_SECONDS / 2
    await system.service.create_contact(ALICE, ContactFields(lastname="Lee"), "new")
    system.now += IDEMPOTENCY_WINDOW_SECONDS / 2 + 1
    await system.service.maintain()
    assert set(system.database.keys) == {(ALICE.user_id, "new")}
