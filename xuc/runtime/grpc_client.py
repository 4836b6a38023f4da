"""The client side of the gRPC edge: a channel to a service, the metadata that authenticates us.

Shared by everything that calls a service (the gateway, the CLI, the launcher's health checks).
Nothing here connects until a coroutine is awaited.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xuc.runtime.grpc_edge import AUTHORIZATION_METADATA, SERVICE_TOKEN_METADATA
from xuc.runtime.request_ids import Metadata, with_request_id

__all__ = ["Metadata", "channel", "is_serving", "reachable", "service_metadata", "user_metadata", "with_request_id"]


def channel(address: str) -> Any:
    """A channel to `host:port`; services listen on loopback or a private network, without TLS."""
    return grpc.aio.insecure_channel(address)


def service_metadata(service_token: str) -> Metadata:
    """Call metadata presenting the service token (admin rights: keep it out of logs)."""
    return ((SERVICE_TOKEN_METADATA, service_token),)


def user_metadata(user_token: str) -> Metadata:
    """Call metadata presenting a user's token, for calls made on the user's behalf, with the
    current request id if there is one (xuc/runtime/request_ids.py)."""
    return with_request_id(((AUTHORIZATION_METADATA, f"Bearer {user_token}"),))


async def reachable(open_channel: Any, within: float) -> bool:
    """Whether the channel connects within `within` s, so that a dead address fails once, clearly."""
    try:
        await asyncio.wait_for(open_channel.channel_ready(), within)
    except TimeoutError:
        return False
    return True


async def is_serving(address: str, service: str = "", within: float = 1.0) -> bool:
    """One standard health check: True if `service` ("" = the whole server) answers SERVING."""
    async with channel(address) as health_channel:
        stub = health_pb2_grpc.HealthStub(health_channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=within)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
