"""Fixtures of the NATS permissions tests: a real nats-server configured as `xuc up` configures it
(one per module), the streams created by their owners, a connector as any user, and the webhooks
process's forwarder with a receiver. A refusal is the server's permissions error on the connection,
awaited as such."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from services.webhooks.entrypoints.event_forwarder import EventForwarder
from tests.support.nats_permissions import OWN_STREAMS, Connector, component
from tests.support.nats_users import AuthorizingNats, WatchedConnection
from tests.support.webhook_receiver import WebhookReceiver
from xuc.runtime import nats


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthorizingNats]:
    running = AuthorizingNats.start(tmp_path_factory.mktemp("nats-users"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def streams(server: AuthorizingNats) -> None:
    """Every stream, each created (or confirmed) by the component that publishes to it."""
    for name, stream in OWN_STREAMS.items():
        connection = await component(server, name)
        try:
            await nats.ensure_stream(connection.jetstream(), stream())
        finally:
            await connection.close()


@pytest.fixture
async def connect(server: AuthorizingNats) -> AsyncIterator[Connector]:
    opened: list[WatchedConnection] = []

    async def open_as(user: str | None) -> WatchedConnection:
        watched = await server.connect(user)
        opened.append(watched)
        return watched

    yield open_as
    for watched in opened:
        await watched.close()


@pytest.fixture
async def forwarder(server: AuthorizingNats, streams: None) -> AsyncIterator[tuple[EventForwarder, WebhookReceiver]]:
    """The webhook delivery, as the webhooks user, on the real webhook consumer."""
    connection = await component(server, "webhooks")
    async with WebhookReceiver() as receiver:
        forwarding = EventForwarder(connection, receiver.url, timeout_seconds=1.0, initial_backoff_seconds=0.05,
                                    max_backoff_seconds=0.1, max_attempts=2)
        await forwarding.start()
        try:
            yield forwarding, receiver
        finally:
            await forwarding.stop()
            await connection.close()
