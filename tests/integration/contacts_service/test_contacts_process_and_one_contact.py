"""The contacts process (health, migrations, user tokens) and one contact: create, get, update, delete,
isolation between users, invalid and duplicate contacts.
"""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.contacts_client import INVALID, NOT_FOUND, SERVICE, Contacts
from tests.support.databases import TestDatabase
from tests.support.processes import ServiceProcess
from tests.support.rpc import refusal, rpc_error
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc


# --- the process ---------------------------------------------------------------------------------------
async def test_health_lists_the_service(contacts_channel: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(contacts_channel).Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_migrations_create_the_table(contacts_service: ServiceProcess, contacts_database: TestDatabase) -> None:
    assert {"contacts_personal", "contacts_alembic_version"} <= contacts_database.table_names()


async def test_calls_need_a_user_token(contacts_channel: grpc.aio.Channel, contacts_service: ServiceProcess) -> None:
    stub = contacts_pb2_grpc.PersonalContactsStub(contacts_channel)
    request = contacts_pb2.ListContactsRequest()
    assert await refusal(stub.ListContacts(request)) == (grpc.StatusCode.UNAUTHENTICATED,
                                                         "AuthorizationHeaderNotFound")
    service = (("x-xuc-service-token", contacts_service.service_token),)
    assert await refusal(stub.ListContacts(request, metadata=service)) == (grpc.StatusCode.PERMISSION_DENIED,
                                                                           "Forbidden")
    forged = (("authorization", "Bearer not.a.token"),)
    assert await refusal(stub.ListContacts(request, metadata=forged)) == (grpc.StatusCode.UNAUTHENTICATED,
                                                                          "InvalidToken")


# --- one contact ---------------------------------------------------------------------------------------
async def test_create_get_update_delete(alice: Contacts) -> None:
    created = await alice.create(firstname=" doe ", lastname="john", number="1111", mobile="2222", fax="3333",
                                 email="j.doe@my.corp", company="corp", favorite=True)
    assert uuid.UUID(created.id).version == 7
    assert created.fields == contacts_pb2.ContactFields(firstname="doe", lastname="john", number="1111",
                                                        mobile="2222", fax="3333", email="j.doe@my.corp",
                                                        company="corp", favorite=True)
    assert await alice.get(created.id) == created

    updated = await alice.update(created.id, lastname="john", number="1112")  # favorite not set: kept
    assert updated.fields == contacts_pb2.ContactFields(lastname="john", number="1112", favorite=True)
    assert await alice.get(created.id) == updated
    unfavored = await alice.update(created.id, lastname="john", number="1112", favorite=False)
    assert unfavored.fields.favorite is False

    assert await alice.delete(created.id) == 1
    assert await refusal(alice.get(created.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.delete(created.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.update(created.id, lastname="x")) == (NOT_FOUND, "ContactNotFound")


async def test_users_never_see_each_others_contacts(alice: Contacts, bob: Contacts) -> None:
    mine = await alice.create(lastname="Secret", number="1234")
    await bob.create(lastname="Bob's own")

    assert await refusal(bob.get(mine.id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(bob.update(mine.id, lastname="Hacked")) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(bob.delete(mine.id)) == (NOT_FOUND, "ContactNotFound")
    assert await bob.lastnames() == ["Bob's own"]
    assert await bob.lastnames("secret") == []
    assert await bob.delete_all() == 1
    assert b"Secret" not in await bob.export()
    # The same contact is no duplicate for someone else.
    await bob.create(lastname="Secret", number="1234")

    assert await alice.get(mine.id) == mine
    assert await alice.lastnames() == ["Secret"]


@pytest.mark.parametrize("not_an_id", ["", "42", "not-a-uuid", "'; DROP TABLE contacts_personal; --"])
async def test_an_id_that_is_not_a_uuid_is_not_found(alice: Contacts, not_an_id: str) -> None:
    assert await refusal(alice.get(not_an_id)) == (NOT_FOUND, "ContactNotFound")
    assert await refusal(alice.delete(not_an_id)) == (NOT_FOUND, "ContactNotFound")


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "a contact needs a name or a phone number"),
    ({"fax": "3333", "email": "a@b.c"}, "a contact needs a name or a phone number"),
    ({"lastname": "x" * 129}, "lastname must be at most 128 characters"),
    ({"number": "1" * 41}, "number must be at most 40 characters"),
    ({"lastname": "Doe", "email": "a\nb"}, "email must not contain control characters"),
])
async def test_invalid_contacts_are_refused(alice: Contacts, fields: dict[str, str], message: str) -> None:
    error = await rpc_error(alice.create(**fields))
    assert (error.code(), error.details()) == (INVALID, message)
    assert await refusal(alice.create(**fields)) == (INVALID, "InvalidContact")
    assert await alice.lastnames() == []


async def test_duplicates_are_refused(alice: Contacts) -> None:
    first = await alice.create(firstname="Jean  Pierre", lastname="Doe", number="01 23 45 67")
    other = await alice.create(lastname="Lee")

    duplicate = alice.create(firstname="jean pierre", lastname="DOE", number="01.23.45.67", favorite=True)
    assert await refusal(duplicate) == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
    assert await refusal(alice.update(other.id, firstname="JEAN PIERRE", lastname="doe", number="01234567")) \
        == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
    # An update to itself, unchanged or only reformatted, is fine.
    await alice.update(first.id, firstname="Jean Pierre", lastname="Doe", number="01-23-45-67")
    assert sorted(await alice.lastnames()) == ["Doe", "Lee"]


async def test_concurrent_identical_creates_make_one_contact(alice: Contacts) -> None:
    results = await asyncio.gather(*(alice.create(lastname="Racer", number="42") for _ in range(8)),
                                   return_exceptions=True)
    created = [result for result in results if isinstance(result, contacts_pb2.Contact)]
    refused = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert {error.code() for error in refused} == {grpc.StatusCode.ALREADY_EXISTS}
    assert await alice.lastnames() == ["Racer"]
