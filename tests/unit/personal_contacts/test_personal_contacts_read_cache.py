"""The read cache of personal contacts: loads, evictions after each write's commit, loads racing
writes, its limits, and lists that are the same with and without it (hypothesis).
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contacts.domain.contacts import (
    Contact,
    ContactFields,
    Owner,
)
from services.contacts.domain.errors import (
    ContactNotFound,
    DuplicateContact,
    InvalidImport,
)
from services.contacts.service_layer.contacts_cache import ContactsCache
from tests.unit.personal_contacts.fakes import ALICE, BOB, Row, System, csv_file, file_chunks


# --- the read cache -------------------------------------------------------------------------------------
async def test_reads_are_served_from_the_cache_after_one_load() -> None:
    system = System(cache_owners=10)
    first = await system.service.create_contact(ALICE, ContactFields(lastname="Doe", number="1"))
    second = await system.service.create_contact(ALICE, ContactFields(lastname="Lee"))

    assert await system.service.get_contact(ALICE, first.id) == first
    assert await system.service.get_contact(ALICE, second.id.upper()) == second
    assert [entry.contact for entry in (await system.service.list_contacts(ALICE)).entries] == [first, second]
    assert [entry.contact for entry in (await system.service.list_contacts(ALICE, "le")).entries] == [second]
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(ALICE, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ContactNotFound):  # another owner's contact: that owner's (empty) entry
        await system.service.get_contact(BOB, first.id)
    assert system.database.reads == ["all_visible", "all_visible"]  # one load per owner
    assert system.phones.calls == [["1"]]  # still one status call per list with numbers


async def test_without_the_cache_every_read_goes_to_the_repository() -> None:
    system = System(cache_owners=0)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await system.service.get_contact(ALICE, contact.id)
    await system.service.get_contact(ALICE, contact.id)
    await system.service.list_contacts(ALICE)
    assert system.database.reads == ["get", "get", "search"]


async def test_every_write_evicts_the_owners_contacts_after_its_commit() -> None:
    system = System(cache_owners=10)

    async def lastnames(owner: Owner = ALICE) -> list[str]:
        return [entry.contact.fields.lastname for entry in (await system.service.list_contacts(owner)).entries]

    def loads() -> int:
        return system.database.reads.count("all_visible")

    assert await lastnames() == []
    assert await lastnames(BOB) == []
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    assert await lastnames() == ["Doe"]
    await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Dee"))
    assert await lastnames() == ["Dee"]
    assert (await system.service.get_contact(ALICE, contact.id)).fields.lastname == "Dee"
    await system.service.delete_contact(ALICE, contact.id)
    with pytest.raises(ContactNotFound):
        await system.service.get_contact(ALICE, contact.id)
    await system.import_contacts(ALICE, file_chunks(csv_file("lastname", "Kim", "Ray")))
    assert await lastnames() == ["Kim", "Ray"]
    await system.service.delete_all_contacts(ALICE)
    assert await lastnames() == []
    assert loads() == 7  # the first two lists, then one after each of the five writes
    assert await lastnames(BOB) == []
    assert loads() == 7  # another owner's entry stays

    # A write that fails evicts too (a failed commit may have been applied); so does a failed import.
    await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    await lastnames()
    with pytest.raises(DuplicateContact):
        await system.service.create_contact(ALICE, ContactFields(lastname="doe"))
    await lastnames()
    with pytest.raises(InvalidImport):
        await system.import_contacts(ALICE, file_chunks(csv_file("lastname", "doe")))
    await lastnames()
    assert loads() == 10
    await system.service.discard_unfinished_imports()
    await lastnames(BOB)
    assert loads() == 11


async def test_a_load_that_read_before_a_write_is_not_kept() -> None:
    system = System(cache_owners=10)
    loading, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        loading.set()
        await release.wait()

    system.database.during_load = hold
    stale_read = asyncio.create_task(system.service.list_contacts(ALICE))
    await loading.wait()  # the load has its snapshot: no contact yet
    system.database.during_load = None
    created = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))  # commits, evicts
    release.set()
    assert (await stale_read).total == 0  # a read concurrent with the write: either answer is right

    assert await system.service.get_contact(ALICE, created.id) == created  # the stale load was not kept
    assert system.database.reads == ["all_visible", "all_visible"]
    assert (await system.service.list_contacts(ALICE)).total == 1
    assert system.database.reads == ["all_visible", "all_visible"]  # the fresh load was


async def test_a_load_that_ends_between_a_commit_and_its_eviction_is_evicted() -> None:
    system = System(cache_owners=10)
    contact = await system.service.create_contact(ALICE, ContactFields(lastname="Doe"))
    loading, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        loading.set()
        await release.wait()

    system.database.during_load = hold
    stale_read = asyncio.create_task(system.service.get_contact(ALICE, contact.id))
    await loading.wait()
    system.database.during_load = None

    async def finish_the_load() -> None:  # after the update's commit, before its eviction
        system.database.after_commit = None
        release.set()
        assert (await stale_read).fields.lastname == "Doe"  # stored: no eviction yet

    system.database.after_commit = finish_the_load
    await system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Dee"))
    assert (await system.service.get_contact(ALICE, contact.id)).fields.lastname == "Dee"
    assert system.database.reads == ["all_visible", "get", "all_visible"]  # the update's own read: "get"


async def test_the_cache_keeps_at_most_its_number_of_owners() -> None:
    system = System(cache_owners=2)
    carol = Owner(user_id="user-carol", login="carol")
    for owner in (ALICE, BOB, carol):
        await system.service.list_contacts(owner)
    await system.service.list_contacts(BOB)
    await system.service.list_contacts(carol)
    assert system.database.reads.count("all_visible") == 3
    await system.service.list_contacts(ALICE)  # the least recently used was dropped
    assert system.database.reads.count("all_visible") == 4
    await system.service.list_contacts(carol)  # ALICE took BOB's place, carol stayed
    assert system.database.reads.count("all_visible") == 4


async def test_the_cache_holds_at_most_its_number_of_contacts_in_all() -> None:
    cache = ContactsCache(max_owners=10, max_contacts=5, max_total=5)

    async def three(limit: int) -> list[Contact]:
        return [Contact(f"id-{i}", "owner", ContactFields(lastname=str(i))) for i in range(3)]

    for owner in ("a", "b", "c"):
        assert await cache.contacts(owner, three) is not None
    assert len(cache) == 1  # 3 + 3 > 5: the older owners were dropped, the newest kept


async def test_an_owner_with_too_many_contacts_is_read_from_the_database() -> None:
    system = System(cache_owners=10, cache_max_contacts=2)
    contacts = [await system.service.create_contact(ALICE, ContactFields(lastname=name)) for name in "abc"]

    assert await system.service.get_contact(ALICE, contacts[0].id) == contacts[0]
    page = await system.service.list_contacts(ALICE, limit=2)
    assert ([entry.contact for entry in page.entries], page.total) == (contacts[:2], 3)
    assert system.database.reads == ["all_visible", "get", "search"]  # one load: its marker is kept

    await system.service.delete_contact(ALICE, contacts[2].id)  # now small enough
    assert (await system.service.list_contacts(ALICE)).total == 2
    assert await system.service.get_contact(ALICE, contacts[1].id) == contacts[1]
    # The delete reads the contact first (was it a favorite?), then one load.
    assert system.database.reads == ["all_visible", "get", "search", "get", "all_visible"]


_SEARCH_ALPHABET = "aAeÉéèbDd0123 .-+#*()/"
_texts = st.text(alphabet=_SEARCH_ALPHABET, max_size=8)


# The autouse fixture only sets the default this test overrides: running it once per example is fine.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contacts=st.lists(st.builds(ContactFields, firstname=_texts, lastname=_texts, number=_texts, mobile=_texts,
                                email=_texts, company=_texts, favorite=st.booleans()), max_size=25),
    searches=st.lists(st.text(alphabet=_SEARCH_ALPHABET, max_size=5), min_size=1, max_size=4),
    limit=st.integers(0, 8),
    offset=st.integers(0, 30),
)
def test_lists_are_the_same_with_and_without_the_cache(
    contacts: list[ContactFields], searches: list[str], limit: int, offset: int
) -> None:
    systems = [System(cache_owners=1000), System(cache_owners=0)]
    for index, fields in enumerate(contacts):
        contact = Contact(f"{index % 7:02}-{index:04}", ALICE.user_id, fields)  # ids in no sort key's order
        for system in systems:
            system.database.rows[contact.id] = Row(contact)
    for system in systems:
        system.phones.known = {"1": 0, "0123": 8}

    async def pages(system: System) -> list[tuple[list[tuple[Contact, int]], int]]:
        answers = []
        for search in ["", *searches]:
            page = await system.service.list_contacts(ALICE, search, limit, offset)
            answers.append(([(entry.contact, entry.status) for entry in page.entries], page.total))
        return answers

    cached, uncached = (asyncio.run(pages(system)) for system in systems)
    assert cached == uncached
    assert systems[0].database.reads == ["all_visible"]
    assert systems[0].phones.calls == systems[1].phones.calls
