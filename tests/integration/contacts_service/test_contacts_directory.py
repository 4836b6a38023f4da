"""The Directory API of a real contacts process (both databases), with a real auth process whose
users it learns by itself (ListUsers at start, then auth's user events) and a scripted telephony
answering phone statuses: search over users and the owner's personal contacts (never another
user's), favorites added, listed, removed and published on NATS, and every refusal.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from nats.js import JetStreamContext

from tests.support.contacts_client import NOT_A_LINE, NOT_FOUND, Contacts, User, new_users
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.events import stored_messages
from tests.support.processes import ServiceProcess
from tests.support.rpc import refusal
from tests.support.threaded_grpc import ThreadedGrpcServer
from xuc import event_catalogue
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

INVALID = grpc.StatusCode.INVALID_ARGUMENT
LINE_STATUSES = {"71001": telephony_pb2.AVAILABLE, "0123": telephony_pb2.RINGING}


class StatusesTelephony(telephony_pb2_grpc.TelephonyServicer):
    async def GetPhoneStatuses(self, request: telephony_pb2.GetPhoneStatusesRequest,
                               context: grpc.aio.ServicerContext) -> telephony_pb2.PhoneStatuses:
        return telephony_pb2.PhoneStatuses(statuses={number: LINE_STATUSES[number] for number in request.numbers
                                                     if number in LINE_STATUSES})


@pytest.fixture(scope="module")
def telephony_address() -> Iterator[str]:
    server = ThreadedGrpcServer("statuses-telephony", lambda server: telephony_pb2_grpc.add_TelephonyServicer_to_server(
        StatusesTelephony(), server)).start()
    try:
        yield server.address
    finally:
        server.stop()


@pytest.fixture(scope="module")
def contacts_env(telephony_address: str) -> dict[str, str]:
    return {"XUC_TELEPHONY_ADDRESS": telephony_address}


@dataclass
class World:
    """The module's processes, seen by one test: a directory stub, auth, and a name of its own."""

    directory: contacts_pb2_grpc.DirectoryStub
    personal: contacts_pb2_grpc.PersonalContactsStub
    auth: auth_pb2_grpc.AuthStub
    auth_process: ServiceProcess
    service: tuple[tuple[str, str], ...]
    tag: str  # in every lastname this test gives: other tests' users never match its searches

    async def user(self, firstname: str, line: str = "", mobile: str = "") -> Contacts:
        [user] = await new_users(self.auth, self.auth_process, 1)
        await self.auth.UpdateUser(auth_pb2.UpdateUserRequest(
            login=user.login, firstname=firstname, lastname=f"{firstname}{self.tag}", line=line, mobile=mobile),
            metadata=self.service)
        return Contacts(self.personal, user)

    async def search(self, user: User, term: str, as_service: bool = False) -> contacts_pb2.DirectoryEntries:
        request = contacts_pb2.SearchDirectoryRequest(term=term, owner_login=user.login if as_service else "")
        reply: contacts_pb2.DirectoryEntries = await self.directory.SearchDirectory(
            request, metadata=self.service if as_service else user.metadata)
        return reply

    async def found(self, user: User, term: str, firstnames: list[str]) -> contacts_pb2.DirectoryEntries:
        """The search, once it finds the entries of these firstnames, in order (users are learnt
        from auth's events); its last answer at the deadline."""
        deadline = asyncio.get_running_loop().time() + EVENT_DEADLINE_SECONDS
        while True:
            reply = await self.search(user, term)
            if [entry.firstname for entry in reply.entries] == firstnames \
                    or asyncio.get_running_loop().time() > deadline:
                return reply
            await asyncio.sleep(0.05)

    async def favorite(self, method: str, user: User, source: str, contact_id: str) -> bool:
        request = contacts_pb2.FavoriteRequest(owner_login=user.login, source=source, contact_id=contact_id)
        reply = await getattr(self.directory, method)(request, metadata=self.service)
        return bool(reply.changed)

    async def favorites(self, user: User) -> list[tuple[str, str, bool]]:
        reply = await self.directory.ListFavorites(contacts_pb2.ListFavoritesRequest(), metadata=user.metadata)
        return [(entry.source, entry.lastname, entry.favorite) for entry in reply.entries]


@pytest.fixture
async def world(contacts_channel: grpc.aio.Channel, auth_stub: auth_pb2_grpc.AuthStub,
                auth_service: ServiceProcess) -> World:
    return World(contacts_pb2_grpc.DirectoryStub(contacts_channel),
                contacts_pb2_grpc.PersonalContactsStub(contacts_channel), auth_stub, auth_service,
                (("x-xuc-service-token", auth_service.service_token),), f"z{secrets.token_hex(4)}")


def _entries(reply: contacts_pb2.DirectoryEntries) -> list[tuple[str, str, str, str, str, int, bool]]:
    return [(entry.source, entry.firstname, entry.lastname, entry.number, entry.mobile, entry.status, entry.favorite)
            for entry in reply.entries]


async def test_a_search_finds_users_and_the_owners_personal_contacts_never_anothers(world: World) -> None:
    alice = await world.user("Alice", line="71001", mobile="0611223344")
    bob = await world.user("Bob", line="71002")
    tag = world.tag
    await alice.create(firstname="Carla", lastname=f"Carla{tag}", number="0123", mobile="0700")
    await bob.create(firstname="Secret", lastname=f"Secret{tag}", number="0999")

    reply = await world.found(alice.user, tag.upper(), ["Alice", "Bob", "Carla"])

    assert _entries(reply) == [
        ("internal", "Alice", f"Alice{tag}", "71001", "0611223344", telephony_pb2.AVAILABLE, False),
        ("internal", "Bob", f"Bob{tag}", "71002", "", NOT_A_LINE, False),
        ("personal", "Carla", f"Carla{tag}", "0123", "0700", telephony_pb2.RINGING, False),
    ]
    assert reply.entries[0].contact_id == alice.user.user_id
    assert reply.entries[0].username == alice.user.login
    assert not reply.truncated
    # The same, asked by a service for Alice; Bob sees his own contact, never Alice's.
    assert _entries(await world.search(alice.user, tag, as_service=True)) == _entries(reply)
    assert [entry.firstname for entry in (await world.search(bob.user, tag)).entries] == ["Alice", "Bob", "Secret"]
    # Full names and numbers without separators match too.
    assert [entry.firstname for entry in (await world.search(alice.user, f"alice alice{tag}")).entries] == ["Alice"]
    assert [entry.firstname for entry in (await world.search(alice.user, "06 11 22 33 44")).entries] == ["Alice"]


async def test_a_user_changed_or_deleted_in_auth_is_followed(world: World) -> None:
    alice = await world.user("Alice")
    await world.found(alice.user, world.tag, ["Alice"])
    await world.auth.UpdateUser(auth_pb2.UpdateUserRequest(login=alice.user.login, lastname=f"Renamed{world.tag}"),
                                metadata=world.service)
    assert [entry.lastname for entry in (await world.found(alice.user, f"renamed{world.tag}", ["Alice"])).entries] == [
        f"Renamed{world.tag}"]
    other = await world.user("Other")
    await world.auth.DeleteUser(auth_pb2.DeleteUserRequest(login=alice.user.login), metadata=world.service)
    assert [entry.firstname for entry in (await world.found(other.user, world.tag, ["Other"])).entries] == ["Other"]


async def test_favorites_are_added_once_listed_removed_and_published(world: World, js: JetStreamContext) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    contact = await alice.create(firstname="Carla", lastname=f"Carla{world.tag}")
    await world.found(alice.user, world.tag, ["Alice", "Bob", "Carla"])

    assert await world.favorite("AddFavorite", alice.user, "internal", bob.user.user_id)
    assert not await world.favorite("AddFavorite", alice.user, "internal", bob.user.user_id)  # idempotent
    assert await world.favorite("AddFavorite", alice.user, "personal", contact.id)
    assert await world.favorites(alice.user) == [("internal", f"Bob{world.tag}", True),
                                                 ("personal", f"Carla{world.tag}", True)]
    assert [entry.favorite for entry in (await world.search(alice.user, world.tag)).entries] == [False, True, True]
    assert (await alice.get(contact.id)).fields.favorite  # the contact's own field, as REST shows it
    assert await world.favorites(bob.user) == []

    assert await world.favorite("RemoveFavorite", alice.user, "internal", bob.user.user_id)
    assert not await world.favorite("RemoveFavorite", alice.user, "internal", bob.user.user_id)
    await alice.delete(contact.id)  # a personal contact deleted takes its favorite along
    assert await world.favorites(alice.user) == []

    subject = event_catalogue.FAVORITE_CHANGED.subject.for_key(alice.user.login)
    events = [event_catalogue.FAVORITE_CHANGED.parse(message.data)
              for message in await stored_messages(js, subject, count=4)]
    assert [(event.owner_login, event.owner_user_id, event.action, event.source, event.contact_id)
            for event in events] == [
        (alice.user.login, alice.user.user_id, "Added", "internal", bob.user.user_id),
        (alice.user.login, alice.user.user_id, "Added", "personal", contact.id),
        (alice.user.login, alice.user.user_id, "Removed", "internal", bob.user.user_id),
        (alice.user.login, alice.user.user_id, "Removed", "personal", contact.id),
    ]


async def test_favorites_of_unknown_entries_or_of_another_users_contacts_are_refused(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    bobs = await bob.create(lastname="Private")
    for source, contact_id in [("personal", bobs.id), ("personal", "not-an-id"), ("internal", "no-such-user")]:
        for method in ("AddFavorite", "RemoveFavorite"):
            assert await refusal(world.favorite(method, alice.user, source, contact_id)) == (
                NOT_FOUND, "ContactNotFound"), (method, source)
    assert await refusal(world.favorite("AddFavorite", alice.user, "xivo", bobs.id)) == (INVALID, "InvalidFavorite")
    assert await refusal(world.favorite("AddFavorite", alice.user, "internal", "")) == (INVALID, "InvalidFavorite")
    assert not (await bob.get(bobs.id)).fields.favorite


async def test_bad_terms_and_the_wrong_owner_are_refused(world: World) -> None:
    alice = await world.user("Alice")
    for term in ("", " ", "a", "x" * 129, "a\x00b"):
        assert await refusal(world.search(alice.user, term)) == (INVALID, "InvalidDirectorySearch"), term
    assert len((await world.search(alice.user, "x" * 128)).entries) == 0
    # A user's token reads that user's directory only; a service names an existing user.
    other = contacts_pb2.SearchDirectoryRequest(term="alice", owner_login="someone-else")
    assert await refusal(world.directory.SearchDirectory(other, metadata=alice.user.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")
    for login in ("no-such-login", ""):
        request = contacts_pb2.ListFavoritesRequest(owner_login=login)
        assert await refusal(world.directory.ListFavorites(request, metadata=world.service)) == (
            NOT_FOUND, "UserNotFound")
    assert (await refusal(world.directory.ListFavorites(contacts_pb2.ListFavoritesRequest())))[0] \
        == grpc.StatusCode.UNAUTHENTICATED


async def test_two_requests_adding_one_favorite_at_once_change_it_once(world: World, js: JetStreamContext) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    contact = await alice.create(lastname=f"Carla{world.tag}")
    await world.found(alice.user, world.tag, ["Alice", "Bob", ""])

    for source, contact_id in [("personal", contact.id), ("internal", bob.user.user_id)]:
        changed = await asyncio.gather(*(world.favorite("AddFavorite", alice.user, source, contact_id)
                                         for _ in range(4)))
        assert sorted(changed) == [False, False, False, True], source

    subject = event_catalogue.FAVORITE_CHANGED.subject.for_key(alice.user.login)
    events = [event_catalogue.FAVORITE_CHANGED.parse(message.data)
              for message in await stored_messages(js, subject, count=2)]  # fails on a third
    assert [(event.action, event.source) for event in events] == [("Added", "personal"), ("Added", "internal")]
