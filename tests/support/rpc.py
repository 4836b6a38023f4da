"""Small helpers for tests that call our gRPC services."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest

from xuc.runtime.grpc_errors import reason_of


async def refusal(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    """Await a call that must fail: its (status code, ErrorInfo reason).

        assert await refusal(stub.GetUser(request, metadata=md)) == (grpc.StatusCode.NOT_FOUND, "UserNotFound")
    """
    error = await rpc_error(call)
    return error.code(), reason_of(error)


async def rpc_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    """Await a call that must fail, and return its error (for details() and trailing metadata); a
    call answering a stream is read to its end."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _settled(call)
    return caught.value


async def _settled(call: Awaitable[Any]) -> None:
    if isinstance(call, grpc.aio.UnaryStreamCall):
        async for _ in call:
            pass
    else:
        await call


def unique_login(prefix: str = "user") -> str:
    """A login no other test uses (lowercase letters and digits: sorts the same in every collation)."""
    return f"{prefix}{secrets.token_hex(5)}"
