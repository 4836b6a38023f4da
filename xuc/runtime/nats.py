"""The NATS connection and the JetStream streams a service publishes to.

`XUC_NATS_URL` may name several servers of a cluster, comma-separated
(`nats://n1:4222,nats://n2:4222,nats://n3:4222`): the client connects to one and fails over to
the others (and to those the cluster announces), reconnecting without limit."""

from __future__ import annotations

import dataclasses
import logging

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from xuc.runtime.settings import stream_replicas

log = logging.getLogger(__name__)


def server_urls(url: str) -> list[str]:
    """The servers of a comma-separated list (one URL is a list of one)."""
    servers = [item.strip() for item in url.split(",") if item.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


async def connect(url: str, name: str) -> Client:
    client = Client()

    async def disconnected() -> None:
        if not (client.is_draining or client.is_closed):  # our own shutdown is no news
            log.warning("NATS disconnected", extra={"url": url})

    async def reconnected() -> None:
        server = client.connected_url  # never logged whole: it may hold credentials
        log.info("NATS reconnected", extra={"server": f"{server.hostname}:{server.port}" if server else "?"})

    async def error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    await client.connect(
        server_urls(url),
        name=name,
        # A service outlives a NATS restart. Events published meanwhile are held by the publishers
        # (xuc.runtime.events), not in the client's reconnect buffer, which they never write to.
        max_reconnect_attempts=-1,
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


async def ensure_stream(js: JetStreamContext, config: StreamConfig, replicas: int | None = None) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent), with
    `replicas` copies (default: XUC_STREAM_REPLICAS, read here so that every process ensuring a
    stream gives it the same count; 3 on a 3-node cluster)."""
    config = dataclasses.replace(config, num_replicas=stream_replicas() if replicas is None else replicas)
    assert config.name
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream", extra={"stream": config.name})
    else:
        await js.update_stream(config)
