"""Fixtures of the personal contacts tests of the contacts service as a real process: gRPC on loopback,
a real auth process issuing the user tokens, a real nats-server, SQLite and PostgreSQL.

Each module shares one contacts process per database backend (tests/integration/conftest.py), and
its tests stay independent with users of their own (`alice`, `bob`: a new user each). Telephony
absent, telephony answering UNIMPLEMENTED, the restart after a crash, and large files use processes
of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.support.contacts_client import Contacts, new_users
from tests.support.processes import ServiceProcess
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2_grpc


@pytest.fixture
async def auth_stub(auth_service: ServiceProcess) -> AsyncIterator[auth_pb2_grpc.AuthStub]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as channel:
        yield auth_pb2_grpc.AuthStub(channel)

@pytest.fixture
async def contacts_channel(contacts_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(contacts_service.grpc_address) as channel:
        yield channel


@pytest.fixture
async def new_contacts_user(
    contacts_channel: grpc.aio.Channel, auth_stub: auth_pb2_grpc.AuthStub, auth_service: ServiceProcess
) -> Callable[[], Awaitable[Contacts]]:
    """Makes a user of their own (a new login) with a client of the module's contacts process."""
    async def make() -> Contacts:
        [user] = await new_users(auth_stub, auth_service, 1)
        return Contacts(contacts_pb2_grpc.PersonalContactsStub(contacts_channel), user)
    return make


@pytest.fixture
async def alice(new_contacts_user: Callable[[], Awaitable[Contacts]]) -> Contacts:
    return await new_contacts_user()


@pytest.fixture
async def bob(new_contacts_user: Callable[[], Awaitable[Contacts]]) -> Contacts:
    return await new_contacts_user()


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()
