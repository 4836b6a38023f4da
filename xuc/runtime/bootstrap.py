"""The prelude every composition root repeats: its database (engine, migrations), its NATS
connection (as its own user, its streams ensured, publishers holding XUC_NATS_PUBLISH_BUFFER
events), and the auth service as a client (channel, signing keys, token revocations followed).

Each root still wires its process (services/*/__main__.py, gateway/__main__.py): these only open
what it asks for, in the order it asks, and register each thing's closing on the root's exit stack,
which unwinds in reverse. Nothing here runs at import time; every setting comes in as a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js.api import StreamConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from xuc.runtime import db, grpc_client, nats
from xuc.runtime.events import DomainEvent, NatsEventPublisher
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.revocations import follow_revocations, from_auth
from xuc.runtime.settings import Settings
from xuc.security.revocations import Revocations, retention_for
from xucproto.auth.v1 import auth_pb2_grpc

E = TypeVar("E", bound=DomainEvent)

AUTH_TIMEOUT_SECONDS = 30.0  # for auth's signing keys and revocation list at start


async def open_database(stack: AsyncExitStack, settings: Settings, migrations: Path, version_table: str) -> AsyncEngine:
    """The engine of settings.database_url, its schema migrated to head (replicas take turns)."""
    engine = db.create_engine_for(settings.database_url)
    stack.push_async_callback(engine.dispose)
    await db.migrate(settings.database_url, migrations, version_table=version_table)
    return engine


@dataclass(frozen=True)
class Events:
    """The process's NATS connection, with the settings of the streams and publishers it makes."""

    connection: Client
    stream_replicas: int
    publish_buffer: int

    async def ensure_stream(self, config: StreamConfig) -> None:
        await nats.ensure_stream(self.connection.jetstream(), config, replicas=self.stream_replicas)

    def publisher(self, to_message: Callable[[E], tuple[str, Message]], *, confirm: bool = True) \
            -> NatsEventPublisher[E]:
        return NatsEventPublisher(self.connection, to_message, confirm=confirm, buffer_size=self.publish_buffer)


async def connect_events(stack: AsyncExitStack, settings: Settings, component: str,
                         own_streams: Iterable[StreamConfig] = ()) -> Events:
    """Connected to NATS as `component`'s user, the streams it publishes to ensured; drained at exit
    (after everything registered later on the stack)."""
    connection = await nats.connect_component(settings, component)
    stack.push_async_callback(nats.close, connection)
    events = Events(connection, settings.stream_replicas, settings.publish_buffer)
    for stream in own_streams:
        await events.ensure_stream(stream)
    return events


@dataclass(frozen=True)
class AuthClient:
    """The auth service as its clients use it: its stub, and the tokens it signs verified locally."""

    stub: auth_pb2_grpc.AuthStub
    keys: PublicKeyCache


async def connect_auth(stack: AsyncExitStack, settings: Settings, connection: Client,
                       within: float = AUTH_TIMEOUT_SECONDS) -> AuthClient:
    """A channel to settings.auth_address; auth's public keys loaded (kept fresh) and its token
    revocations followed on NATS, both within `within` seconds. Closed at exit: the revocation
    follower, then the key cache's refresh task, then the channel."""
    channel = grpc_client.channel(settings.auth_address)
    stack.push_async_callback(channel.close)
    stub = auth_pb2_grpc.AuthStub(channel)
    revocations = Revocations(retention_for(settings.token_ttl))
    keys = PublicKeyCache(stub, settings.service_token, settings.token_issuer, revocations=revocations)
    stack.push_async_callback(keys.close)  # its refresh task ends before the channel closes
    await keys.wait_until_loaded(within)
    await follow_revocations(stack, connection, revocations, from_auth(stub, settings.service_token), within)
    return AuthClient(stub, keys)
