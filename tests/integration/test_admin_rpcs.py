"""Admin RPCs that `xuc provision` and `xuc keys` call, against real processes on loopback (auth,
contacts and telephony, a real nats-server, SQLite and PostgreSQL):

- PutUsers, PutQualifications and PutAgentsAndQueues with `validate_only`: nothing is stored, and
  every broken rule comes back as a google.rpc.BadRequest field violation with its request path;
- ListSigningKeys and RotateSigningKey: answered to the service token, refused to anyone else.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc.runtime.grpc_errors import field_violations_of, reason_of
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def telephony_service(nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony")) as launcher:
        yield launcher.start("services.telephony", "telephony", database_url=database_factory.create().url,
                             service_token=auth_service.service_token,
                             extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})


@pytest.fixture
async def auth(auth_service: ServiceProcess) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as channel:
        yield auth_pb2_grpc.AuthStub(channel)


@pytest.fixture
def service(auth_service: ServiceProcess) -> Metadata:
    return (("x-xuc-service-token", auth_service.service_token),)


async def violations(call: Any) -> tuple[str, list[tuple[str, str]]]:
    """The reason and the (field, description) violations of a call that must be refused as invalid."""
    error = await rpc_error(call)
    assert error.code() == INVALID_ARGUMENT, error.details()
    return reason_of(error), field_violations_of(error)


# --- validate_only -----------------------------------------------------------------------------------
async def test_put_users_validate_only_answers_every_violation_and_stores_nothing(auth: Any,
                                                                                   service: Metadata) -> None:
    good, other = unique_login("good"), unique_login("other")
    users = [auth_pb2.CreateUserRequest(login=good, password="pw"),
             auth_pb2.CreateUserRequest(login="bad login", password="", mobile="not-a-phone"),
             auth_pb2.CreateUserRequest(login=good, password="pw")]

    reason, found = await violations(auth.PutUsers(auth_pb2.PutUsersRequest(users=users, validate_only=True),
                                                   metadata=service))

    assert reason == "InvalidUser"
    assert [(field, description.split(" ")[0]) for field, description in found] == [
        ("users[1].login", "login"), ("users[1].password", "password"), ("users[1].mobile", "mobile"),
        ("users[2].login", "duplicate")]
    valid = auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(login=other, password="pw")],
                                     validate_only=True)
    assert list((await auth.PutUsers(valid, metadata=service)).results) == []
    listed = await auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=service)
    assert {good, other}.isdisjoint(user.login for user in listed.users)


async def test_put_qualifications_validate_only_answers_every_violation_and_stores_nothing(
    contacts_service: ServiceProcess, service: Metadata
) -> None:
    name = f"Validated {secrets.token_hex(4)}"
    specs = [contacts_pb2.QualificationSpec(name=name, queue_ids=[5], sub_qualifications=["A", "A", "x" * 129]),
             contacts_pb2.QualificationSpec(name="", queue_ids=[0])]
    async with grpc.aio.insecure_channel(contacts_service.grpc_address) as channel:
        stub = contacts_pb2_grpc.QualificationsStub(channel)
        request = contacts_pb2.PutQualificationsRequest(qualifications=specs, validate_only=True)

        reason, found = await violations(stub.PutQualifications(request, metadata=service))

        assert reason == "InvalidQualification"
        assert [field for field, _ in found] == [
            "qualifications[1].name", "qualifications[0].sub_qualifications[1]",
            "qualifications[0].sub_qualifications[2]", "qualifications[1].queue_ids[0]"]
        valid = contacts_pb2.PutQualificationsRequest(qualifications=specs[:1], validate_only=True)
        del valid.qualifications[0].sub_qualifications[1:]
        reply = await stub.PutQualifications(valid, metadata=service)
        assert (list(reply.qualifications), list(reply.deactivated)) == ([], [])
        stored = await stub.ListQualifications(contacts_pb2.ListQualificationsRequest(), metadata=service)
        assert name not in {qualification.name for qualification in stored.qualifications}


async def test_put_agents_and_queues_validate_only_answers_every_violation_and_stores_nothing(
    telephony_service: ServiceProcess, service: Metadata
) -> None:
    request = telephony_pb2.PutAgentsAndQueuesRequest(
        agents=[telephony_pb2.AgentSpec(number="20 01", username=""), telephony_pb2.AgentSpec(number="2002",
                                                                                              username="bob")],
        queues=[telephony_pb2.QueueSpec(id=0, name="", number="3000", agents=["2002", "2999"])],
        validate_only=True)
    async with grpc.aio.insecure_channel(telephony_service.grpc_address) as channel:
        stub = telephony_pb2_grpc.TelephonyStub(channel)

        reason, found = await violations(stub.PutAgentsAndQueues(request, metadata=service))

        assert reason == "InvalidQueues"
        assert [field for field, _ in found] == [
            "agents[0].number", "agents[0].username", "queues[0].id", "queues[0].name", "queues[0].agents[1]"]
        valid = telephony_pb2.PutAgentsAndQueuesRequest(
            agents=[telephony_pb2.AgentSpec(number="2002", username="bob")],
            queues=[telephony_pb2.QueueSpec(id=7, name="support", number="3000", agents=["2002"])],
            validate_only=True)
        reply = await stub.PutAgentsAndQueues(valid, metadata=service)
        assert (reply.agents, reply.queues) == (0, 0)
        assert list((await stub.ListQueues(telephony_pb2.ListQueuesRequest(), metadata=service)).queues) == []


# --- signing key administration ------------------------------------------------------------------------
async def test_signing_keys_are_listed_and_rotated_for_a_service(auth: Any, service: Metadata) -> None:
    [current] = (await auth.ListSigningKeys(auth_pb2.ListSigningKeysRequest(), metadata=service)).keys
    assert (current.state, current.generation, current.HasField("retired_at")) == ("signing", 1, False)

    rotated = await auth.RotateSigningKey(auth_pb2.RotateSigningKeyRequest(), metadata=service)
    again = await auth.RotateSigningKey(auth_pb2.RotateSigningKeyRequest(), metadata=service)

    assert (rotated.key.state, rotated.key.generation, rotated.already_under_way) == ("pending", 2, False)
    assert (again.key.kid, again.already_under_way) == (rotated.key.kid, True)  # not doubled
    listed = (await auth.ListSigningKeys(auth_pb2.ListSigningKeysRequest(), metadata=service)).keys
    assert [(key.kid, key.state) for key in listed] == [(current.kid, "signing"), (rotated.key.kid, "pending")]
    assert listed[0].retired_at == rotated.key.active_from  # the old key signs until the new one does


async def test_signing_key_administration_is_refused_to_users_and_strangers(auth: Any, service: Metadata) -> None:
    login = unique_login("keys")
    await auth.CreateUser(auth_pb2.CreateUserRequest(login=login, password="pw"), metadata=service)
    token = (await auth.Login(auth_pb2.LoginRequest(login=login, password="pw"), metadata=service)).token
    as_user = (("authorization", f"Bearer {token}"),)
    wrong_token = (("x-xuc-service-token", "not-the-token"),)

    for call, request in ((auth.ListSigningKeys, auth_pb2.ListSigningKeysRequest()),
                          (auth.RotateSigningKey, auth_pb2.RotateSigningKeyRequest())):
        assert (await refusal(call(request, metadata=as_user)))[0] == grpc.StatusCode.PERMISSION_DENIED
        assert (await refusal(call(request, metadata=wrong_token)))[0] == grpc.StatusCode.UNAUTHENTICATED
        assert (await refusal(call(request)))[0] == grpc.StatusCode.UNAUTHENTICATED
