"""How `xuc up` knows a child serves: the ready file it writes (with its pid, where it serves and
where its metrics are), then a probe of that address (TCP, HTTP, gRPC health), all within a start
deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from xuc.launcher.console import StartError

T = TypeVar("T")

START_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1


async def poll(check: Callable[[], Awaitable[T | None]]) -> T:
    """The first non-None result of `check`, retried; the caller bounds the wait."""
    while True:
        result = await check()
        if result is not None:
            return result
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def start_deadline(name: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            yield
    except TimeoutError:
        raise StartError(f"{name} did not become ready within {START_TIMEOUT_SECONDS:.0f} s") from None


def read_ready_file(path: Path, pid: int) -> dict[str, Any] | None:
    """What a child wrote once it serves, or None while it has not (or a stale file is left)."""
    try:
        content = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(content, dict) or content.get("pid") != pid:
        return None
    return content


def address_in(ready: dict[str, Any], key: str, name: str) -> str:
    address = ready.get(key)
    if not isinstance(address, str) or ":" not in address:
        raise StartError(f"{name} wrote no {key!r} address (host:port) in its ready file: {ready}")
    return address


def metrics_address(ready: dict[str, Any]) -> str:
    """The metrics endpoint a component wrote in its ready file ("" if none), loopback for a wildcard."""
    address = ready.get("metrics")
    if not isinstance(address, str) or ":" not in address:
        return ""
    return host_port(*split_address(address))


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets or not); a wildcard host is reached through loopback."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    loopback = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
    if not port.isdigit():
        raise StartError(f"not a host:port address: {address!r}")
    return loopback.get(host, host), int(port)


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def tcp_open(host: str, port: int) -> bool | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def http_status(host: str, port: int, path: str) -> int:
    """The status code of a plain GET (0 if unreachable): enough for a readiness probe."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host_port(host, port)}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 2.0)
    except (OSError, TimeoutError):
        return 0
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
