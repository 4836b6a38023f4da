"""The NATS connection, the JetStream streams a service publishes to, and following another's.

`XUC_NATS_URL` may name several servers of a cluster, comma-separated
(`nats://n1:4222,nats://n2:4222,nats://n3:4222`): the client connects to one and fails over to
the others (and to those the cluster announces), reconnecting without limit. Each component
connects as its own NATS user (xuc/runtime/nats_credentials.py), allowed its own subjects only
(xuc/nats_config.py): it creates the streams it publishes to, and waits for the others' streams.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.client import DEFAULT_INBOX_PREFIX, Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from xuc.runtime.nats_credentials import NatsLogin, login_for, without_credentials
from xuc.runtime.settings import Settings, SettingsError

log = logging.getLogger(__name__)
STREAM_POLL_SECONDS = 1.0
# Each attempt waits for nats-py's API timeout (5 s).
CONSUMER_CREATE_ATTEMPTS = 4


def server_urls(url: str) -> list[str]:
    """The servers of a comma-separated list (one URL is a list of one)."""
    servers = [item.strip() for item in url.split(",") if item.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


async def connect_component(settings: Settings, component: str) -> Client:
    """The connection of a component's process, as its own NATS user (if it has credentials)."""
    return await connect(settings.nats_url, f"xuc-{component}", login_for(settings, component))


async def connect(url: str, name: str, login: NatsLogin | None = None) -> Client:
    """Connected to `url` (credentials in it, or `login`'s); replies under `login`'s inbox prefix."""
    client = Client()

    async def disconnected() -> None:
        if not (client.is_draining or client.is_closed):  # our own shutdown is no news
            log.warning("NATS disconnected", extra={"url": without_credentials(url)})

    async def reconnected() -> None:
        server = client.connected_url  # never logged whole: it may hold credentials
        log.info("NATS reconnected", extra={"server": f"{server.hostname}:{server.port}" if server else "?"})

    async def error(exc: Exception) -> None:
        if not connected_once and _is_authorization_violation(exc):
            # nats-py would try again forever: wrong credentials do not get better by waiting.
            who = f"user {login.user!r}" if login is not None else "a connection without credentials"
            raise CredentialsRefused(f"NATS refused {who} (authorization violation): check XUC_NATS_CREDENTIALS "
                                     "or the credentials in XUC_NATS_URL")
        log.warning("NATS error: %s", exc)

    connected_once = False
    given = login is not None and bool(login.password)
    try:
        await client.connect(
            server_urls(url),
            name=name,
            user=login.user if login is not None and given else None,
            password=login.password if login is not None and given else None,
            inbox_prefix=DEFAULT_INBOX_PREFIX if login is None else login.inbox_prefix,
            # A service outlives a NATS restart. Events published meanwhile are held by the publishers
            # (xuc.runtime.events), not in the client's reconnect buffer, which they never write to.
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=5,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
    except CredentialsRefused:
        await client.close()
        raise
    connected_once = True
    return client


class CredentialsRefused(SettingsError):
    """The server does not take the credentials we were given (or wants some)."""


def _is_authorization_violation(error: Exception) -> bool:
    return isinstance(error, nats.errors.AuthorizationError) or "authorization violation" in str(error).lower()


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
    `replicas` copies (settings.stream_replicas: every process gives a stream the same count; 3 on a
    3-node cluster). None leaves an existing stream's count as it is (1 for a new one)."""
    assert config.name
    try:
        existing = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(dataclasses.replace(config, num_replicas=replicas or 1))
        log.info("created stream", extra={"stream": config.name})
    else:
        kept = existing.config.num_replicas if replicas is None else replicas
        await js.update_stream(dataclasses.replace(config, num_replicas=kept))


async def stream_exists(js: JetStreamContext, stream: str) -> bool:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return False
    return True


async def wait_for_stream(js: JetStreamContext, stream: str) -> bool:
    """Return once `stream` exists: another component creates it (the one that publishes to it),
    which may start after us. Logged once while waiting. Whether it had to wait: then everything in
    the stream is newer than the call."""
    waiting = False
    while not await stream_exists(js, stream):
        if not waiting:
            log.info("waiting for the stream to be created by its publisher", extra={"stream": stream})
            waiting = True
        await asyncio.sleep(STREAM_POLL_SECONDS)
    if waiting:
        log.info("stream found", extra={"stream": stream})
    return waiting


@dataclasses.dataclass
class _NamedAtEachCreation(ConsumerConfig):
    """An ordered consumer's configuration that names the consumer anew each time nats-py creates
    it: at the start, and again (from where it was) after a gap or missed heartbeats, reusing this
    configuration. Being named, it is created through the subject that carries its filter,
    `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, the only one a user allowed some subjects
    of a stream may use (xuc/nats_config.py); a fixed name would clash with the consumer it replaces."""

    def __post_init__(self) -> None:
        self.name = secrets.token_hex(8)  # nats-py copies the configuration (dataclasses.replace) per creation


Handler = Callable[[Msg], Awaitable[None]]


async def subscribe_ordered(connection: Client, stream: str, subject: str, handle: Handler) -> \
        JetStreamContext.PushSubscription:
    """Every message stored on `subject` (a filter of `stream`) from now on, in order, through an
    ordered consumer: unlike a plain subscription, it resumes where it was after a NATS
    reconnection, so nothing published meanwhile is missed. NotFoundError if the stream does not
    exist (yet).

    The consumer's creation is asked again when JetStream does not answer in time: a clustered
    stream electing its leader, or a loaded machine, delays the answer by seconds, and a process
    must not fail to start for that (a consumer created by an unanswered request is ephemeral and
    goes away by itself)."""
    def create() -> Awaitable[JetStreamContext.PushSubscription]:
        return connection.jetstream().subscribe(subject, stream=stream, cb=handle, ordered_consumer=True,
                                                deliver_policy=DeliverPolicy.NEW, config=_NamedAtEachCreation())

    for attempt in range(1, CONSUMER_CREATE_ATTEMPTS):
        try:
            return await create()
        except TimeoutError:  # nats.errors.TimeoutError is one
            log.warning("JetStream did not answer the consumer creation in time; asking again",
                        extra={"stream": stream, "attempt": attempt})
    return await create()


async def follow(connection: Client, stream: str, subject: str, handle: Handler) -> JetStreamContext.PushSubscription:
    """`subscribe_ordered`, once the stream exists (waiting for it)."""
    await wait_for_stream(connection.jetstream(), stream)
    return await subscribe_ordered(connection, stream, subject, handle)
