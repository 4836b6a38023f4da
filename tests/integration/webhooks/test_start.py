"""The webhooks process starts before telephony has made its stream (compose starts every
component at once; a deployment may run no telephony): live and serving its metrics at once,
ready and forwarding once the stream appears. Without an event URL it idles, ready. And the
gateway no longer forwards anything: an event URL given to it is not its business."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from tests.support.metrics import Samples
from tests.support.processes import NatsServer, ServiceProcess
from tests.support.webhook_events import phone_event, to_message
from tests.support.webhook_receiver import ThreadedWebhookReceiver
from xuc import subjects
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.nats import ensure_stream

WITHIN_SECONDS = 60.0


@pytest.fixture
def bare_nats(tmp_path: Path) -> Iterator[str]:
    """A NATS server of this test's own: no stream on it but the ones the test's processes make."""
    server = NatsServer.start(tmp_path / "nats")
    try:
        yield server.url
    finally:
        server.stop()


def start_webhooks(nats_url: str, data_dir: Path, **extra_env: str) -> ServiceProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"XUC_DATA_DIR": str(data_dir), "XUC_NATS_URL": nats_url, "XUC_READY_FILE": str(data_dir / "webhooks.json"),
           "XUC_WEBHOOKS_METRICS_LISTEN": "127.0.0.1:0", "PYTHONUNBUFFERED": "1", **extra_env}
    return ServiceProcess.start("services.webhooks", "webhooks", data_dir, env)


def wait_for_status(url: str, status: int) -> None:
    deadline = time.monotonic() + WITHIN_SECONDS
    with httpx.Client(timeout=10) as client:
        while client.get(url).status_code != status:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer {status} within {WITHIN_SECONDS:.0f} s")
            time.sleep(0.1)


def test_webhooks_waits_for_the_telephony_stream_then_forwards(bare_nats: str, tmp_path: Path) -> None:
    with ThreadedWebhookReceiver() as receiver:
        # No telephony process: no one makes XUC_TELEPHONY yet.
        webhooks = start_webhooks(bare_nats, tmp_path / "webhooks", XUC_EVENT_URL=receiver.url)
        try:
            status = f"http://{webhooks.ready['http']}"
            assert webhooks.ready["metrics"] == webhooks.ready["http"]
            assert httpx.get(f"{status}/health/live", timeout=10).status_code == 200
            assert httpx.get(f"{status}/health/ready", timeout=10).status_code == 503  # waiting for the stream
            page = Samples(httpx.get(f"{status}/metrics", timeout=10).text)
            assert page.has_family_of("xuc_webhook_deliveries_total")

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
            assert [body["username"] for body in receiver.wait_for_deliveries(1, within=WITHIN_SECONDS)] == [
                "late-telephony"]
            wait_for_status(f"{status}/health/ready", 200)
        finally:
            webhooks.stop()


def test_without_an_event_url_webhooks_idles_ready_and_never_connects(tmp_path: Path) -> None:
    # A NATS URL where nothing listens: idle, the process does not even connect.
    webhooks = start_webhooks("nats://127.0.0.1:9", tmp_path / "webhooks")
    try:
        status = f"http://{webhooks.ready['http']}"
        assert httpx.get(f"{status}/health/ready", timeout=10).status_code == 200
    finally:
        webhooks.stop()
