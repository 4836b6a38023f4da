"""The client side of the gRPC edge: a channel to a service, the metadata that authenticates us.

Shared by everything that calls a service (the gateway, the CLI, the launcher's health checks).
Nothing here connects until a coroutine is awaited.

A service may run as several replicas (docs/operations.md, "Scale-out"): an address is one `host:port`, a comma
list of them, or a gRPC target such as `dns:///contacts:50051` (every A/AAAA record of the name is
a replica). Channels balance calls round-robin over the replicas the standard health service
reports SERVING (a replica shutting down leaves the rotation before it stops): for the whole server
("") by default, or for one service name (telephony: `xuc.telephony.v1.Telephony`, NOT_SERVING on a
standby, so that calls go to the active instance only); and they retry, on
UNAVAILABLE only, the calls whose proto declares them safe to repeat (`option idempotency_level`,
gathered in RETRYABLE_METHODS): a replica that dies with
calls in flight costs those calls one retry on another replica, within RETRY_WINDOW_SECONDS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xuc.runtime.grpc_edge import AUTHORIZATION_METADATA, SERVICE_TOKEN_METADATA
from xuc.runtime.request_ids import Metadata, with_request_id
from xucproto.auth.v1 import auth_pb2
from xucproto.contacts.v1 import contacts_pb2
from xucproto.telephony.v1 import telephony_pb2

__all__ = ["RETRYABLE_METHODS", "RETRY_WINDOW_SECONDS", "TELEPHONY_HEALTH_SERVICE", "Metadata", "channel",
           "channel_target", "is_serving", "reachable", "retryable_methods", "service_config", "service_metadata",
           "user_metadata", "with_request_id"]

# The services whose calls the channels know; each method's retry safety is declared in its proto
# (`option idempotency_level`: NO_SIDE_EFFECTS for reads, IDEMPOTENT for writes a repeat cannot
# apply twice), so that a new RPC is safe by default (never retried) until its contract says so.
SERVICE_FILES: tuple[FileDescriptor, ...] = (auth_pb2.DESCRIPTOR, contacts_pb2.DESCRIPTOR, telephony_pb2.DESCRIPTOR)
SAFE_TO_REPEAT = frozenset({MethodOptions.NO_SIDE_EFFECTS, MethodOptions.IDEMPOTENT})


def retryable_methods(files: Sequence[FileDescriptor] = SERVICE_FILES) -> dict[str, tuple[str, ...]]:
    """Service full name -> the methods whose proto declares them safe to repeat."""
    found = {service.full_name: tuple(method.name for method in service.methods
                                      if method.GetOptions().idempotency_level in SAFE_TO_REPEAT)
             for file in files for service in file.services_by_name.values()}
    return {service: methods for service, methods in found.items() if methods}


RETRYABLE_METHODS: dict[str, tuple[str, ...]] = retryable_methods()
# 5 attempts (gRPC's ceiling), each retry after a random pause of up to 0.1, 0.2, 0.4, 0.8 s: at
# most 1.5 s of pauses. With another replica up, the retry goes to it at once (the dead one left
# the rotation when its connection dropped); with none, the call fails after these pauses.
RETRY_POLICY = {
    "maxAttempts": 5,
    "initialBackoff": "0.1s",
    "maxBackoff": "0.8s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
RETRY_WINDOW_SECONDS = 1.5
# The health that telephony clients follow (`channel(..., health_service=...)`): SERVING on the
# instance that drives the PBX, NOT_SERVING on a standby (docs/telephony.md), whose "" stays SERVING.
TELEPHONY_HEALTH_SERVICE: str = telephony_pb2.DESCRIPTOR.services_by_name["Telephony"].full_name
# A replica that comes back is reconnected to within this time (gRPC's default ceiling is 120 s).
MAX_RECONNECT_BACKOFF_MS = 5000


def service_config(health_service: str = "") -> dict[str, Any]:
    """The gRPC service config of every channel to our services. A replica takes calls while the
    standard health service reports `health_service` SERVING: "" is the whole server, which the
    process frame reports SERVING until its graceful shutdown; a service's full name follows that
    service's own health too (a telephony standby keeps "" SERVING but not its Telephony)."""
    return {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": health_service},
        "methodConfig": [{"name": [{"service": service, "method": method} for service, methods
                                   in RETRYABLE_METHODS.items() for method in methods],
                          "retryPolicy": RETRY_POLICY}],
        # Each failed attempt spends a token, each success earns 0.1: retries pause below half of
        # 100, a storm guard that a few calls lost with one replica never reach.
        "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1},
    }


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: str) -> list[str]:
    """The addresses of a name, once (a name whose records change belongs in a `dns:///` target);
    IPv4 ones only when it has both, since one list holds one family."""
    try:
        found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot resolve {host}:{port} ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in found))
    return [a for a in addresses if ":" not in a] or addresses


def channel_target(address: str) -> str:
    """The gRPC target of an address setting: `host:port` and targets with a scheme (`dns:///name:port`,
    `ipv4:...`, `unix:...`) as they are; a comma list of `host:port` as one `ipv4:`/`ipv6:` target
    (names in a list resolved now), so that the channel balances over all of them."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    if not parts:
        raise ValueError("an empty service address")
    if len(parts) == 1:
        return parts[0]
    endpoints: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str]] = []
    for part in parts:
        host, separator, port = part.rpartition(":")
        host = host.strip("[]")
        if not separator or not host or not port.isdigit() or "/" in part:
            raise ValueError(f"not a host:port in the address list {address!r}: {part!r}")
        ip = _ip(host)
        endpoints += [(ip, port)] if ip else [(ipaddress.ip_address(found), port) for found in _resolve(host, port)]
    versions = {ip.version for ip, _ in endpoints}
    if len(versions) > 1:
        raise ValueError(f"an address list mixes IPv4 and IPv6: {address!r} (gRPC takes one family per list)")
    if versions == {6}:
        return "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in endpoints)
    return "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in endpoints)


def channel(address: str, options: Sequence[tuple[str, Any]] = (), health_service: str = "") -> Any:
    """A channel to a service (one address, a list, or a DNS target: see the module's doc), with
    round-robin over the replicas whose health of `health_service` ("" = the whole server) is
    SERVING, and retries; services listen on loopback or a private network, without TLS. `options`
    adds channel arguments (message size limits...)."""
    return grpc.aio.insecure_channel(channel_target(address), options=[
        ("grpc.service_config", json.dumps(service_config(health_service))),
        ("grpc.service_config_disable_resolution", 1),  # DNS TXT records do not override it
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
        *options,
    ])


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
    """One standard health check of one replica: True if `service` ("" = the whole server) answers SERVING."""
    async with grpc.aio.insecure_channel(address) as health_channel:
        stub = health_pb2_grpc.HealthStub(health_channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=within)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
