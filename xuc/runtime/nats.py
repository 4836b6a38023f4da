"""The NATS connection and the JetStream streams a service publishes to."""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


async def connect(url: str, name: str) -> Client:
    client = Client()

    async def disconnected() -> None:
        if not (client.is_draining or client.is_closed):  # our own shutdown is no news
            log.warning("NATS disconnected", extra={"url": url})

    async def reconnected() -> None:
        log.info("NATS reconnected", extra={"url": url})

    async def error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    await client.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,  # a service outlives a NATS restart
        reconnect_time_wait=1,
        connect_timeout=5,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    return client


async def close(client: Client) -> None:
    """Drain (deliver what is pending) when connected; just close during an outage."""
    if client.is_closed:
        return
    if client.is_connected:
        try:
            await client.drain()
            return
        except Exception as exc:  # the connection went away while draining
            log.warning("NATS drain failed: %s", exc)
    await client.close()


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent)."""
    assert config.name
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream", extra={"stream": config.name})
    else:
        await js.update_stream(config)
