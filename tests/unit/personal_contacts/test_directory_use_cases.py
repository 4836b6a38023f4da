"""The directory use cases (services/contacts/service_layer/directory.py and users.py) against
hand-written fakes: search over users and the owner's personal contacts only, statuses in one call,
favorites of both sources with their events, and the users loaded then followed. (Every test runs
with and without the personal contacts' read cache: see conftest.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.contacts.domain.contacts import ContactFields
from services.contacts.domain.directory import INTERNAL, MAX_RESULTS, PERSONAL, DirectoryUser
from services.contacts.domain.errors import ContactNotFound, InvalidDirectorySearch, InvalidFavorite, UnknownUser
from services.contacts.domain.events import ContactChanged, FavoriteChanged
from services.contacts.domain.ports import OnUserChange
from services.contacts.service_layer.directory import DirectoryService
from services.contacts.service_layer.users import Users, load_and_follow
from tests.unit.personal_contacts.fakes import ALICE, BOB, System

ALICE_USER = DirectoryUser(ALICE.user_id, ALICE.login, "Alice", "Jones", "1001", "0611")
BOB_USER = DirectoryUser(BOB.user_id, BOB.login, "Bob", "Ross", "1002")
CAROL_USER = DirectoryUser("user-carol", "carol", "Carol", "Rossi", "")


@dataclass
class FakeUserSource:
    """auth as the directory sees it: `users` by login; `on_change` once followed."""

    users: dict[str, DirectoryUser] = field(default_factory=dict)
    on_change: OnUserChange | None = None
    reads: list[str] = field(default_factory=list)

    async def follow(self, on_change: OnUserChange) -> None:
        self.on_change = on_change

    async def read(self, login: str) -> DirectoryUser | None:
        self.reads.append(login)
        return self.users.get(login)

    async def read_all(self) -> list[DirectoryUser]:
        return list(self.users.values())


@dataclass
class FakeFavorites:
    rows: set[tuple[str, str, str]] = field(default_factory=set)

    async def add(self, owner_id: str, source: str, contact_id: str) -> bool:
        added = (owner_id, source, contact_id) not in self.rows
        self.rows.add((owner_id, source, contact_id))
        return added

    async def remove(self, owner_id: str, source: str, contact_id: str) -> bool:
        removed = (owner_id, source, contact_id) in self.rows
        self.rows.discard((owner_id, source, contact_id))
        return removed

    async def contact_ids(self, owner_id: str, source: str) -> set[str]:
        return {contact_id for owner, kind, contact_id in self.rows if (owner, kind) == (owner_id, source)}


class Directory:
    def __init__(self, *users: DirectoryUser) -> None:
        self.system = System()
        self.source = FakeUserSource({user.login: user for user in users})
        self.users = Users(users)
        self.favorites = FakeFavorites()
        self.service = DirectoryService(self.users, self.source, self.system.service, self.favorites,
                                        self.system.phones, self.system.publisher, clock=lambda: self.system.now)

    def favorite_events(self) -> list[tuple[str, str, str, str]]:
        return [(event.owner.login, event.action, event.source, event.contact_id)
                for event in self.system.publisher.events if isinstance(event, FavoriteChanged)]


async def test_a_search_finds_users_and_the_owners_personal_contacts_only_with_their_statuses() -> None:
    directory = Directory(ALICE_USER, BOB_USER, CAROL_USER)
    mine = await directory.system.service.create_contact(ALICE, ContactFields("Rosa", "Ross", number="0123"))
    await directory.system.service.create_contact(BOB, ContactFields("Secret", "Ross", number="0999"))
    directory.system.phones.known = {"1002": 0, "0123": 1}

    result = await directory.service.search(ALICE, " ross ")

    assert [(entry.source, entry.contact_id, entry.firstname, entry.number, entry.status, entry.username)
            for entry in result.entries] == [
        (INTERNAL, BOB.user_id, "Bob", "1002", 0, BOB.login),
        (PERSONAL, mine.id, "Rosa", "0123", 1, ""),
        (INTERNAL, "user-carol", "Carol", "", -2, "carol"),  # no line: not a line
    ]
    assert not result.truncated
    assert directory.system.phones.calls[-1] == ["0123", "1002"]  # one call for every number


async def test_a_bad_term_is_refused_before_anything_is_read() -> None:
    directory = Directory(ALICE_USER)
    with pytest.raises(InvalidDirectorySearch):
        await directory.service.search(ALICE, "r")
    assert directory.system.database.reads == []


async def test_a_search_answers_at_most_max_results_and_says_more_matched() -> None:
    users = [DirectoryUser(f"u{index}", f"user{index}", "Sam", f"Smith{index:03}") for index in range(60)]
    directory = Directory(*users)
    for index in range(60):
        await directory.system.service.create_contact(ALICE, ContactFields("Sam", f"Smith{index:03}b"))

    result = await directory.service.search(ALICE, "smith")

    assert len(result.entries) == MAX_RESULTS
    assert result.truncated
    assert [entry.lastname for entry in result.entries[:3]] == ["Smith000", "Smith000b", "Smith001"]


async def test_a_user_favorite_is_added_once_listed_flagged_and_removed_with_events() -> None:
    directory = Directory(ALICE_USER, BOB_USER)

    assert await directory.service.add_favorite(ALICE, INTERNAL, BOB.user_id)
    assert not await directory.service.add_favorite(ALICE, INTERNAL, BOB.user_id)  # idempotent: no event
    favorites = await directory.service.list_favorites(ALICE)
    assert [(entry.source, entry.contact_id, entry.favorite) for entry in favorites.entries] == [
        (INTERNAL, BOB.user_id, True)]
    assert [entry.favorite for entry in (await directory.service.search(ALICE, "bob")).entries] == [True]
    assert (await directory.service.list_favorites(BOB)).entries == []  # favorites are per user

    assert await directory.service.remove_favorite(ALICE, INTERNAL, BOB.user_id)
    assert not await directory.service.remove_favorite(ALICE, INTERNAL, BOB.user_id)
    assert directory.favorite_events() == [(ALICE.login, "Added", INTERNAL, BOB.user_id),
                                           (ALICE.login, "Removed", INTERNAL, BOB.user_id)]


async def test_a_favorite_of_no_one_or_of_another_users_contact_is_not_found() -> None:
    directory = Directory(ALICE_USER, BOB_USER)
    bobs = await directory.system.service.create_contact(BOB, ContactFields(lastname="Private"))
    for source, contact_id in [(INTERNAL, "user-nobody"), (PERSONAL, bobs.id), (PERSONAL, "not-an-id")]:
        with pytest.raises(ContactNotFound):
            await directory.service.add_favorite(ALICE, source, contact_id)
        with pytest.raises(ContactNotFound):
            await directory.service.remove_favorite(ALICE, source, contact_id)
    with pytest.raises(InvalidFavorite):
        await directory.service.add_favorite(ALICE, "xivo", BOB.user_id)
    assert directory.favorite_events() == []
    assert directory.favorites.rows == set()


async def test_a_personal_favorite_is_the_contacts_own_flag_and_goes_with_the_contact() -> None:
    directory = Directory(ALICE_USER)
    contact = await directory.system.service.create_contact(ALICE, ContactFields("Ann", "Lee", number="0123"))

    assert await directory.service.add_favorite(ALICE, PERSONAL, contact.id)
    assert not await directory.service.add_favorite(ALICE, PERSONAL, contact.id)
    assert (await directory.system.service.get_contact(ALICE, contact.id)).fields.favorite  # the REST field
    assert [entry.contact_id for entry in (await directory.service.list_favorites(ALICE)).entries] == [contact.id]
    # The contact changed (other replicas' caches follow ContactChanged), then the favorite.
    assert [type(event) for event in directory.system.publisher.events[-2:]] == [ContactChanged, FavoriteChanged]

    await directory.system.service.delete_contact(ALICE, contact.id)
    assert (await directory.service.list_favorites(ALICE)).entries == []
    assert directory.favorite_events() == [(ALICE.login, "Added", PERSONAL, contact.id),
                                           (ALICE.login, "Removed", PERSONAL, contact.id)]


async def test_the_rest_favorite_field_publishes_favorite_changes_too() -> None:
    directory = Directory(ALICE_USER)
    contact = await directory.system.service.create_contact(ALICE, ContactFields(lastname="Lee", favorite=True))
    await directory.system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Lee"))  # kept
    await directory.system.service.update_contact(ALICE, contact.id, ContactFields(lastname="Lee"), favorite=False)
    assert directory.favorite_events() == [(ALICE.login, "Added", PERSONAL, contact.id),
                                           (ALICE.login, "Removed", PERSONAL, contact.id)]


async def test_a_favorite_user_deleted_since_is_not_listed_and_can_be_removed() -> None:
    directory = Directory(ALICE_USER, BOB_USER)
    await directory.service.add_favorite(ALICE, INTERNAL, BOB.user_id)
    directory.users.remove(BOB.login)

    assert (await directory.service.list_favorites(ALICE)).entries == []
    assert await directory.service.remove_favorite(ALICE, INTERNAL, BOB.user_id)


async def test_a_service_names_the_owner_by_login_known_or_asked_of_auth() -> None:
    directory = Directory(ALICE_USER)
    assert await directory.service.owner_named(ALICE.login) == ALICE
    assert directory.source.reads == []
    directory.source.users[BOB.login] = BOB_USER  # created a moment ago: its event not arrived yet
    assert await directory.service.owner_named(BOB.login) == BOB
    with pytest.raises(UnknownUser, match="No user 'nobody'"):
        await directory.service.owner_named("nobody")
    with pytest.raises(UnknownUser, match="login is required"):
        await directory.service.owner_named("")


async def test_users_are_loaded_then_followed_and_a_change_during_the_load_is_read_again() -> None:
    source = FakeUserSource({ALICE.login: ALICE_USER})
    users = Users()

    class Racing(FakeUserSource):
        async def read_all(self) -> list[DirectoryUser]:
            snapshot = await source.read_all()  # taken before Bob's creation below
            source.users[BOB.login] = BOB_USER
            assert self.on_change is not None
            await self.on_change(BOB.login, BOB_USER)
            return snapshot

        async def read(self, login: str) -> DirectoryUser | None:
            return await source.read(login)

    racing = Racing()
    await load_and_follow(users, racing)
    assert {user.login for user in users.all()} == {ALICE.login, BOB.login}

    assert racing.on_change is not None
    await racing.on_change(BOB.login, None)  # deleted
    renamed = DirectoryUser(ALICE.user_id, "alice2", "Alice", "Jones")
    await racing.on_change("alice2", renamed)
    assert list(users.all()) == [renamed]
    assert users.by_id(ALICE.user_id) == renamed
    assert users.by_login(ALICE.login) is None


