"""A nats-server with the system's users (xuc/nats_config.py), and connections that see what it refuses.

    server = AuthorizingNats.start(directory)      # credentials + configuration as `xuc up` writes them
    client = await server.connect("telephony")     # as that user (its inbox prefix); None: anonymous
    await client.connection.publish("xuc.auth.user.x", b"")
    await client.refused('publish to "xuc.auth.user.x"')   # waits for the server's permissions error
    server.stop()

The server answers a refused publish or subscription with an error on the connection (nats-py
calls its error callback), not with a reply: `refused` waits for that error itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from tests.support.processes import NatsServer
from xuc import nats_config
from xuc.runtime.nats_credentials import NatsLogin, inbox_prefix, read_credentials

REFUSAL_WITHIN_SECONDS = 15.0


@dataclass
class WatchedConnection:
    """A connection, and the errors the server sent it (lower-cased, as nats-py reports them)."""

    connection: Client
    errors: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, error: Exception) -> None:
        self.errors.append(str(error).lower())
        self._changed.set()

    async def refused(self, what: str, within: float = REFUSAL_WITHIN_SECONDS) -> str:
        """The permissions error naming `what` (e.g. 'publish to "xuc.auth.user.x"'), once the server sent it."""
        wanted = what.lower()
        async with asyncio.timeout(within):
            while True:
                for error in self.errors:
                    if "permissions violation" in error and wanted in error:
                        self.errors.remove(error)  # a later refusal of the same is another error
                        return error
                self._changed.clear()
                await self._changed.wait()

    async def refused_while(self, work: Awaitable[Any], what: str) -> str:
        """Start `work` (a request the server will not answer), wait for its refusal, drop it."""
        task = asyncio.ensure_future(work)
        try:
            return await self.refused(what)
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def close(self) -> None:
        await self.connection.close()


@dataclass
class AuthorizingNats:
    server: NatsServer
    credentials: Path

    @classmethod
    def start(cls, directory: Path) -> AuthorizingNats:
        directory.mkdir(parents=True, exist_ok=True)
        credentials = directory / nats_config.CREDENTIALS_FILE
        nats_config.create_credentials(credentials)
        config = directory / nats_config.SERVER_CONFIG_FILE
        nats_config.write_server_config(config, credentials, directory / "js", directory)
        return cls(NatsServer.start(directory, config=config), credentials)

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, user: str) -> NatsLogin:
        return read_credentials(self.credentials)[user]

    def url_of(self, user: str) -> str:
        login = self.login(user)
        return self.url.replace("nats://", f"nats://{login.user}:{login.password}@")

    async def connect(self, user: str | None, *, inbox_prefix: str | None = None) -> WatchedConnection:
        """Connected as `user` (a component's inbox prefix, the subscriber's default one)."""
        options: dict[str, Any] = {}
        if user is not None:
            login = self.login(user)
            options = {"user": login.user, "password": login.password}
            if user != nats_config.SUBSCRIBER:
                options["inbox_prefix"] = inbox_prefix or login.inbox_prefix
        return await watched_connection(self.url, name=f"xuc-test-{user}", **options)

    def stop(self) -> None:
        self.server.stop()


async def watched_connection(url: str, **options: Any) -> WatchedConnection:
    """A connection (nats-py `options`) whose server errors are kept; it does not reconnect."""
    watched = WatchedConnection(Client())
    await watched.connection.connect(url, max_reconnect_attempts=0, allow_reconnect=False,
                                     error_cb=watched.on_error, **options)
    return watched


def component_options(login: dict[str, str]) -> dict[str, str]:
    """nats-py's options for a component's entry of a credentials file: its user, its inbox prefix."""
    return {"user": login["user"], "password": login["password"], "inbox_prefix": inbox_prefix(login["user"])}


async def refused_connection(url: str, **options: Any) -> str:
    """The error a connection attempt got (the test fails if it was accepted)."""
    client = Client()
    try:
        await client.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5, **options)
    except Exception as error:
        await client.close()  # nats-py leaves the refused socket open otherwise
        return str(error).lower() or type(error).__name__.lower()
    await client.close()
    pytest.fail(f"NATS accepted a connection to {url.rpartition('@')[2]} with {sorted(options) or 'no credentials'}")
