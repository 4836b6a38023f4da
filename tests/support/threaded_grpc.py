"""A grpc.aio server on a free loopback port, run by a thread with its own event loop, for tests
whose own code is synchronous (httpx clients against a gateway process) but need a scripted
gRPC service behind it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import grpc

Register = Callable[[grpc.aio.Server], None]


class ThreadedGrpcServer:
    def __init__(self, name: str, register: Register, interceptors: Sequence[Any] = ()) -> None:
        self._register = register
        self._interceptors = list(interceptors)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.server: Any = None
        self.address = ""

    async def _start(self) -> int:
        self.server = grpc.aio.server(interceptors=self._interceptors)
        self._register(self.server)
        port: int = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    def start(self) -> ThreadedGrpcServer:
        self.thread.start()
        port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.address = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
