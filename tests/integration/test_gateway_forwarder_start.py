"""A gateway with an event URL serves before telephony has made its stream (compose starts every
component at once; a deployment may run no telephony), and forwards once the stream appears."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from tests.integration.test_event_forwarder import phone_event, to_message
from tests.integration.test_gateway_telephony import start_gateway
from tests.support.processes import NatsServer, ServiceLauncher
from tests.support.webhook_receiver import ThreadedWebhookReceiver
from xuc import subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.nats import ensure_stream


@pytest.fixture
def bare_nats(tmp_path: Path) -> Iterator[str]:
    """A NATS server of this test's own: no stream on it but the ones the test's processes make."""
    server = NatsServer.start(tmp_path / "nats")
    try:
        yield server.url
    finally:
        server.stop()


def test_the_gateway_serves_without_the_telephony_stream_then_forwards(bare_nats: str, tmp_path: Path) -> None:
    with ServiceLauncher(bare_nats, tmp_path) as launcher, ThreadedWebhookReceiver() as receiver:
        auth = launcher.start("services.auth", "auth", database_url=f"sqlite:///{tmp_path / 'auth.db'}")
        # No telephony process: its address answers nothing, and no one makes XUC_TELEPHONY yet.
        url = start_gateway(launcher, auth, "127.0.0.1:9", "gateway", XUC_EVENT_URL=receiver.url)
        assert httpx.get(f"{url}/health/ready", timeout=10).status_code == 200

        async def telephony_appears() -> None:
            connection = await nats.connect(bare_nats)
            try:
                await ensure_stream(connection.jetstream(), subjects.telephony_stream())
                publisher = NatsEventPublisher(connection, to_message)
                await publisher.publish([phone_event("late-telephony", 1)])
                await publisher.close()
            finally:
                await connection.close()

        asyncio.run(telephony_appears())
        assert [body["username"] for body in receiver.wait_for_deliveries(1, within=60)] == ["late-telephony"]
