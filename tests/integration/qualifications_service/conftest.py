"""Fixtures of the qualifications tests: one contacts process per module and database backend
(tests/integration/conftest.py), told where a telephony process (the PBX simulator) is that knows
the queues and agents answers are checked against; an agent made once per module; a client per
test.

PutQualifications describes *all* qualifications (the unlisted are deactivated), and
PutAgentsAndQueues all queues and agents, so each test starts by putting the ones it needs, under
names and queue ids of its own, and asserts only about those: a module's tests run one after the
other, so within a test the state it put is the state it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.qualifications_client import Client, user_token
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2_grpc


@pytest.fixture(scope="module")
def agent(auth_service: ServiceProcess) -> tuple[str, str]:
    """(login, token) of a user made once for the module (password hashing is slow on purpose)."""
    return asyncio.run(user_token(auth_service.grpc_address, (("x-xuc-service-token", auth_service.service_token),)))


@pytest.fixture(scope="module")
def telephony_service(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """Where the contacts process checks an answer's queue and agent."""
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony")) as launcher:
        yield launcher.start("services.telephony", "telephony", database_url=database_factory.create().url,
                             service_token=auth_service.service_token,
                             extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})


@pytest.fixture(scope="module")
def contacts_env(telephony_service: ServiceProcess) -> dict[str, str]:
    return {"XUC_TELEPHONY_ADDRESS": telephony_service.grpc_address}


@pytest.fixture
async def channel(contacts_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(contacts_service.grpc_address) as opened:
        yield opened


@pytest.fixture
async def client(channel: grpc.aio.Channel, contacts_service: ServiceProcess, telephony_service: ServiceProcess,
                 agent: tuple[str, str]) -> AsyncIterator[Client]:
    login, token = agent
    async with grpc.aio.insecure_channel(telephony_service.grpc_address) as telephony:
        yield Client(contacts_pb2_grpc.QualificationsStub(channel),
                     (("x-xuc-service-token", contacts_service.service_token),),
                     (("authorization", f"Bearer {token}"),), login, telephony_pb2_grpc.TelephonyStub(telephony))
