"""The personal contacts use cases (services/contacts/service_layer/personal_contacts.py) against
hand-written fakes of their ports: one contact (ownership, duplicates, events after commit), lists
with one status call per list, and the export.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.contacts.domain.contacts import (
    ContactFields,
)
from services.contacts.domain.errors import (
    ContactNotFound,
    DuplicateContact,
    InvalidContact,
)
from services.contacts.domain.events import ContactChanged, ContactsCleared
from services.contacts.service_layer.personal_contacts import NOT_A_LINE
from tests.unit.personal_contacts.fakes import ALICE, BOB, NOW, System


# --- one contact ---------------------------------------------------------------------------------------
async def test_create_validates_stores_and_then_publishes() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(firstname=" Ann ", number="1001"))

    assert contact.fields == ContactFields(firstname="Ann", number="1001")
    assert system.database.visible(ALICE) == [contact]
    assert system.publisher.published == [
        (ContactChanged(ALICE, contact.id, "created", datetime.fromtimestamp(NOW, UTC),
                        system.publisher.events[0].event_id), 1)
    ]


async def test_invalid_and_duplicate_contacts_change_nothing() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(firstname="Ann", number="01 23"))
    with pytest.raises(InvalidContact):
        await system.service.create_contact(ALICE, ContactFields(fax="1"))
    with pytest.raises(DuplicateContact):
        await system.service.create_contact(ALICE, ContactFields(firstname="ANN", number="0123", favorite=True))
    assert len(system.database.visible(ALICE)) == 1
    assert len(system.publisher.events) == 1
    # Another owner may have the same contact.
    await system.service.create_contact(BOB, ContactFields(firstname="Ann", number="01 23"))


async def test_another_users_contact_is_not_found() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(BOB, contact.id)
    with pytest.raises(ContactNotFound):
        await system.service.update_contact(BOB, contact.id, ContactFields(lastname="Hacked"))
    with pytest.raises(ContactNotFound):
        await system.service.delete_contact(BOB, contact.id)
    for not_an_id in ("", "42", "x" * 100):
        with pytest.raises(ContactNotFound):
            await system.service.get_contact(ALICE, not_an_id)
    assert system.database.visible(ALICE) == [contact]


async def test_update_replaces_fields_and_keeps_favorite_unless_given() -> None:
    system = System()
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe", email="d@x", favorite=True))

    kept = await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Doe"))
    assert kept.fields == ContactFields(lastname="Doe", favorite=True)  # email emptied, favorite kept
    unset = await system.service.update_contact(ALICE, contact.id.upper(), ContactFields(lastname="Doe"), False)
    assert unset.fields == ContactFields(lastname="Doe")
    assert [event.change for event in system.publisher.events if isinstance(event, ContactChanged)] \
        == ["created", "updated", "updated"]


async def test_an_update_may_not_make_a_duplicate() -> None:
    system = System()
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    other = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))
    with pytest.raises(DuplicateContact):
        await system.service.update_contact(ALICE, other.id, ContactFields(lastname="doe"))
    assert (await system.service.get_contact(ALICE, other.id)).fields.lastname == "Lee"


async def test_delete_one_and_all() -> None:
    system = System()
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))
    await system.service.create_contact(BOB, ContactFields(lastname="Kim"))

    assert await system.service.delete_contact(ALICE, first.id) == 1
    with pytest.raises(ContactNotFound):
        await system.service.delete_contact(ALICE, first.id)
    assert await system.service.delete_all_contacts(ALICE) == 1
    assert await system.service.delete_all_contacts(ALICE) == 0
    assert system.database.visible(ALICE) == []
    assert len(system.database.visible(BOB)) == 1
    cleared = [event for event in system.publisher.events if isinstance(event, ContactsCleared)]
    assert [(event.owner, event.deleted) for event in cleared] == [(ALICE, 1), (ALICE, 0)]


# --- lists and statuses --------------------------------------------------------------------------------
async def test_a_list_asks_statuses_once_for_its_distinct_numbers() -> None:
    system = System()
    system.phones.known = {"1001": 0, "1002": 8}
    for fields in (ContactFields(lastname="A", number="1001"), ContactFields(lastname="B", number="1002"),
                   ContactFields(lastname="C", number="1001", mobile="9"), ContactFields(lastname="D", mobile="1002"),
                   ContactFields(lastname="E", number="5555")):
        await system.service.create_contact(ALICE, fields)

    page = await system.service.list_contacts(ALICE)

    assert [(entry.contact.fields.lastname, entry.status) for entry in page.entries] == [
        ("A", 0), ("B", 8), ("C", 0), ("D", NOT_A_LINE), ("E", NOT_A_LINE)]
    assert system.phones.calls == [["1001", "1002", "5555"]]
    assert page.total == 5


async def test_search_limit_offset_and_no_status_call_for_an_empty_page() -> None:
    system = System()
    for lastname in ("Émile", "emilie", "Bob", "Zoé"):
        await system.service.create_contact(ALICE, ContactFields(lastname=lastname, number="1"))

    page = await system.service.list_contacts(ALICE, "EMI", limit=1, offset=1)
    assert ([entry.contact.fields.lastname for entry in page.entries], page.total) == (["emilie"], 2)
    empty = await system.service.list_contacts(ALICE, "nobody")
    assert (empty.entries, empty.total) == ([], 0)
    assert len(system.phones.calls) == 1
    with pytest.raises(InvalidContact):
        await system.service.list_contacts(ALICE, limit=10_001)


# --- export ---------------------------------------------------------------------------------------------
async def test_export_reads_every_page_in_list_order() -> None:
    system = System(page_size=2)
    for lastname in ("d", "b", "e", "a", "c"):
        await system.service.create_contact(ALICE, ContactFields(lastname=lastname))
    await system.service.create_contact(BOB, ContactFields(lastname="bob's"))

    data = b"".join([chunk async for chunk in system.service.export_contacts(ALICE)])
    assert data.decode().split("\r\n")[1:] == [",,,,a,,", ",,,,b,,", ",,,,c,,", ",,,,d,,", ",,,,e,,", ""]
