"""The running system a command talks to: its services' addresses, connections and credentials.

The services are reached through XUC_<NAME>_ADDRESS, else the `run/<name>.json` file of the
running `xuc up`; services other than auth are connected to only when a command needs them, so
that users can be provisioned while auth alone answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from xuc.launcher import CliError, load_service_token
from xuc.runtime import grpc_client
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2_grpc

NOT_RUNNING = "the system is not running: start it with `xuc up`"
CONNECT_SECONDS = 5.0
CALL_SECONDS = 30.0


class System:
    """The running services a command talks to, and the metadata that authenticates it.

    Auth is connected to at once (every command needs it); the other services on first use, so a
    command that does not need them works while they are down or absent. Channels opened here are
    closed when the `connect()` block ends.
    """

    def __init__(self, auth: Any, metadata: grpc_client.Metadata,
                 open_service: Callable[[str], Awaitable[Any]] | None = None) -> None:
        self.auth = auth  # auth_pb2_grpc.AuthStub (the generated stubs are untyped)
        self.metadata = metadata
        self._open_service = open_service
        self._channels: dict[str, Any] = {}

    async def channel(self, name: str) -> Any:
        """The channel to a service ("contacts", "telephony"), connected on the first call;
        CliError if it is not running."""
        if name not in self._channels:
            if self._open_service is None:
                raise CliError(f"this command cannot reach the {name} service")
            self._channels[name] = await self._open_service(name)
        return self._channels[name]


def _service_address(configured: str, settings: Settings, name: str) -> str:
    """XUC_<NAME>_ADDRESS, else the address the running `xuc up` published in its run directory."""
    if configured:
        return configured
    try:
        address = json.loads((settings.data_dir / "run" / f"{name}.json").read_text())["grpc"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CliError(f"{NOT_RUNNING} (no address for {name}: set XUC_{name.upper()}_ADDRESS)") from None
    if not isinstance(address, str):
        raise CliError(NOT_RUNNING)
    return address


async def _open_channel(stack: AsyncExitStack, address: str, name: str) -> Any:
    channel = await stack.enter_async_context(grpc_client.channel(address))
    if not await grpc_client.reachable(channel, CONNECT_SECONDS):
        raise CliError(f"{NOT_RUNNING} ({name} does not answer at {address})")
    return channel


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[System]:
    address = _service_address(settings.auth_address, settings, "auth")
    token = load_service_token(settings.data_dir)
    configured = {"contacts": settings.contacts_address, "telephony": settings.telephony_address}
    async with AsyncExitStack() as stack:
        auth_channel = await _open_channel(stack, address, "auth")

        async def open_service(name: str) -> Any:
            return await _open_channel(stack, _service_address(configured.get(name, ""), settings, name), name)

        yield System(auth_pb2_grpc.AuthStub(auth_channel), grpc_client.service_metadata(token), open_service)
