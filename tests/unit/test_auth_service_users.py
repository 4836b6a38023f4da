"""The auth use cases (services/auth/service_layer/auth_service.py) against hand-written fakes:
creating, updating, putting, deleting, getting and listing users."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from services.auth.domain.errors import InvalidCredentials, InvalidUser, UserAlreadyExists, UserNotFound
from services.auth.domain.model import Profile, User, UserChanged, UserSpec
from tests.unit.auth_system import (
    ALICE_PROFILE,
    CLIENT,
    PASSWORD,
    System,
    alice,
    assert_published_after_commit,
    spec,
)
from xuc.errors import Unreachable


@pytest.fixture
def system() -> System:
    return System([alice()])


# --- create_user --------------------------------------------------------------------------------
async def test_create_user_stores_a_hashed_password_and_publishes() -> None:
    system = System()
    created = await system.service.create_user(spec("bob", "pa55word", Profile(firstname="Bob", line="1002")))
    stored = system.user("bob")
    assert stored == created
    assert stored.password_hash == "hash:pa55word"
    assert stored.profile == Profile(firstname="Bob", line="1002")
    assert system.publisher.events == [
        UserChanged("bob", created.id, "created", datetime.fromtimestamp(system.now, UTC),
                    credentials_changed_at=int(system.now * 1000), event_id=system.publisher.events[0].event_id)
    ]
    assert_published_after_commit(system)
    assert "bob" in system.publisher.batches[0].logins_stored


@pytest.mark.parametrize(
    "login",
    ["", " bob", "bob ", "bob smith", ".bob", "-bob", "bob/x", "bob*", "bob>", "b" * 65, "bøb", "bob\n"],
)
async def test_create_user_refuses_a_bad_login(login: str) -> None:
    system = System()
    with pytest.raises(InvalidUser):
        await system.service.create_user(spec(login))
    assert system.database.users == {}
    assert system.publisher.events == []


@pytest.mark.parametrize("login", ["b", "bob", "john.doe@example.com", "a+b", "0day", "x_y-z", "b" * 64])
async def test_create_user_accepts_a_good_login(login: str) -> None:
    system = System()
    await system.service.create_user(spec(login))
    assert system.database.logins() == {login}


@pytest.mark.parametrize("password", ["", "x" * 1025, "é" * 513])
async def test_create_user_refuses_a_bad_password(password: str) -> None:
    system = System()
    with pytest.raises(InvalidUser, match="password"):
        await system.service.create_user(spec("bob", password))
    assert system.database.users == {}
    assert system.hasher.hashed == []


async def test_a_password_of_the_maximal_size_is_accepted() -> None:
    system = System()
    await system.service.create_user(spec("bob", "x" * 1024))
    assert system.user("bob").password_hash == "hash:" + "x" * 1024


@pytest.mark.parametrize(
    "profile",
    [
        Profile(firstname="A" * 129),
        Profile(lastname="new\nline"),
        Profile(line="abc"),
        Profile(line="10 01"),
        Profile(mobile="+33 6"),
        Profile(mobile="1" * 33),
        Profile(line="1++1"),
    ],
)
async def test_create_user_refuses_a_bad_profile(profile: Profile) -> None:
    system = System()
    with pytest.raises(InvalidUser):
        await system.service.create_user(spec("bob", profile=profile))
    assert system.database.users == {}
    assert system.publisher.events == []


async def test_create_user_refuses_an_existing_login(system: System) -> None:
    before = dict(system.database.users)
    with pytest.raises(UserAlreadyExists):
        await system.service.create_user(spec("alice", "another password"))
    assert system.database.users == before
    assert system.database.commits == 0
    assert system.publisher.events == []


# --- update_user --------------------------------------------------------------------------------
async def test_update_user_changes_only_what_is_given(system: System) -> None:
    before = system.user("alice")
    updated = await system.service.update_user("alice", None, {"firstname": "Alicia"})
    assert updated == system.user("alice")
    assert updated.id == before.id
    assert updated.password_hash == before.password_hash
    assert updated.profile == dataclasses.replace(ALICE_PROFILE, firstname="Alicia")
    assert system.hasher.hashed == []
    [event] = system.publisher.events
    assert isinstance(event, UserChanged)
    assert (event.login, event.user_id, event.change) == ("alice", before.id, "updated")
    assert_published_after_commit(system)


async def test_update_user_can_clear_a_field(system: System) -> None:
    updated = await system.service.update_user("alice", None, {"mobile": ""})
    assert updated.profile == dataclasses.replace(ALICE_PROFILE, mobile="")


async def test_update_user_changes_the_password(system: System) -> None:
    await system.service.update_user("alice", "n3w password", {})
    assert system.user("alice").password_hash == "hash:n3w password"
    assert system.user("alice").profile == ALICE_PROFILE
    await system.service.login("alice", "n3w password", CLIENT)
    with pytest.raises(InvalidCredentials):
        await system.service.login("alice", PASSWORD, CLIENT)


async def test_update_user_of_an_unknown_login_is_user_not_found(system: System) -> None:
    with pytest.raises(UserNotFound):
        await system.service.update_user("nobody", None, {"firstname": "X"})
    assert system.publisher.events == []


@pytest.mark.parametrize(
    ("password", "changes"), [("", {}), (None, {"line": "not a number"}), (None, {"lastname": "x" * 129})]
)
async def test_update_user_refuses_bad_values_and_keeps_the_user(
    system: System, password: str | None, changes: dict[str, str]
) -> None:
    before = system.user("alice")
    with pytest.raises(InvalidUser):
        await system.service.update_user("alice", password, changes)
    assert system.user("alice") == before
    assert system.database.commits == 0
    assert system.publisher.events == []


# --- put_users ----------------------------------------------------------------------------------
async def test_put_users_creates_updates_and_leaves_unchanged() -> None:
    bob = User("bob", "hash:bob-pw", Profile(firstname="Bob"))
    carol = User("carol", "hash:carol-pw", Profile(firstname="Carol"))
    system = System([alice(), bob, carol])
    alice_before = system.user("alice")
    results = await system.service.put_users([
        spec("alice"),  # exactly as stored
        spec("bob", "bob-pw", Profile(firstname="Robert")),  # new profile
        spec("carol", "new-carol-pw", Profile(firstname="Carol")),  # new password
        spec("dave", "dave-pw", Profile(line="1004")),  # new user
    ])
    assert [(user.login, outcome) for user, outcome in results] == [
        ("alice", "unchanged"), ("bob", "updated"), ("carol", "updated"), ("dave", "created"),
    ]
    assert system.user("alice") == alice_before
    assert system.user("bob").profile == Profile(firstname="Robert")
    assert system.user("bob").password_hash == "hash:bob-pw"
    assert system.user("bob").id == bob.id
    assert system.user("carol").password_hash == "hash:new-carol-pw"
    assert system.user("dave").profile == Profile(line="1004")
    assert system.database.commits == 1
    assert [(e.login, e.change) for e in system.publisher.events if isinstance(e, UserChanged)] == [
        ("bob", "updated"), ("carol", "updated"), ("dave", "created"),
    ]
    assert_published_after_commit(system)
    assert system.publisher.batches[0].logins_stored == {"alice", "bob", "carol", "dave"}


async def test_put_users_is_idempotent(system: System) -> None:
    specs = [spec("alice"), spec("bob", "bob-pw", Profile(firstname="Bob"))]
    await system.service.put_users(specs)
    published = len(system.publisher.events)
    again = await system.service.put_users(specs)
    assert [outcome for _, outcome in again] == ["unchanged", "unchanged"]
    assert len(system.publisher.events) == published


async def test_put_users_of_nothing_changes_nothing(system: System) -> None:
    assert await system.service.put_users([]) == []
    assert system.publisher.events == []


@pytest.mark.parametrize(
    "bad",
    [spec("not a login"), spec("erin", password=""), spec("erin", profile=Profile(line="x"))],
)
async def test_put_users_is_all_or_nothing_when_one_spec_is_invalid(system: System, bad: UserSpec) -> None:
    before = dict(system.database.users)
    with pytest.raises(InvalidUser):
        await system.service.put_users([spec("alice", "changed"), spec("dave"), bad])
    assert system.database.users == before
    assert system.database.commits == 0
    assert system.publisher.events == []


async def test_put_users_is_all_or_nothing_when_storage_fails_midway() -> None:
    system = System([alice()], failing_logins=("erin",))
    with pytest.raises(Unreachable):
        await system.service.put_users([spec("alice", "changed"), spec("dave"), spec("erin")])
    assert system.database.logins() == {"alice"}
    assert system.user("alice").password_hash == f"hash:{PASSWORD}"
    assert system.database.commits == 0
    assert all(uow.rolled_back for uow in system.units.created)
    assert system.publisher.events == []


async def test_put_users_refuses_a_login_given_twice(system: System) -> None:
    with pytest.raises(InvalidUser, match="dave"):
        await system.service.put_users([spec("dave"), spec("alice"), spec("dave", "other")])
    assert system.database.logins() == {"alice"}
    assert system.publisher.events == []


# --- delete, get, list --------------------------------------------------------------------------
async def test_delete_user_removes_and_publishes(system: System) -> None:
    user_id = system.user("alice").id
    await system.service.delete_user("alice")
    assert system.database.users == {}
    [event] = system.publisher.events
    assert isinstance(event, UserChanged)
    assert (event.login, event.user_id, event.change) == ("alice", user_id, "deleted")
    assert_published_after_commit(system)
    assert "alice" not in system.publisher.batches[0].logins_stored
    with pytest.raises(InvalidCredentials):
        await system.service.login("alice", PASSWORD, CLIENT)


async def test_delete_user_of_an_unknown_login_is_user_not_found(system: System) -> None:
    with pytest.raises(UserNotFound):
        await system.service.delete_user("nobody")
    assert system.publisher.events == []


async def test_get_user_and_list_users(system: System) -> None:
    await system.service.create_user(spec("bob"))
    assert (await system.service.get_user("alice")).profile == ALICE_PROFILE
    assert [user.login for user in await system.service.list_users()] == ["alice", "bob"]
    with pytest.raises(UserNotFound):
        await system.service.get_user("nobody")


async def test_every_unit_of_work_is_closed(system: System) -> None:
    await system.service.login("alice", PASSWORD, CLIENT)
    await system.service.create_user(spec("bob"))
    with pytest.raises(UserAlreadyExists):
        await system.service.create_user(spec("bob"))
    assert system.units.created
    assert system.database.open_units == 0
