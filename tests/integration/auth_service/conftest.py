"""Fixtures of the auth service tests: a channel to the module's auth process (the `auth_service`
fixture, one per module and database backend), a client on it, and JetStream for the published events.
Tests stay independent by using logins of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tests.support.auth_client import AuthClient, client_for
from tests.support.processes import ServiceProcess


@pytest.fixture
async def channel(auth_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as opened:
        yield opened


@pytest.fixture
def auth(channel: grpc.aio.Channel, auth_service: ServiceProcess) -> AuthClient:
    return client_for(channel, auth_service)


@pytest.fixture
def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()
