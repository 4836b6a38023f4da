"""A stand-in for a replicated gRPC service under the launcher (`python -m tests.support.fake_replica`).

It does what the launcher expects of a component: listens where XUC_FAKE_GRPC_LISTEN says (a free
loopback port by default), serves the standard health service, writes its ready file, and stops on
SIGTERM. With FAKE_FAIL_IF_EXISTS=<path>, it exits with code 3 at start while that file exists: a
replica that cannot start again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from xuc.runtime.process import remove_ready_file, write_ready_file
from xuc.runtime.settings import Settings


async def serve() -> int:
    settings = Settings.from_env("fake")
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    port = server.add_insecure_port(settings.grpc_listen)
    await server.start()
    write_ready_file(settings.ready_file, grpc=f"{settings.grpc_listen.rpartition(':')[0]}:{port}")
    await stopping.wait()
    await server.stop(1)
    remove_ready_file(settings.ready_file)
    return 0


def main() -> int:
    marker = os.environ.get("FAKE_FAIL_IF_EXISTS", "")
    if marker and Path(marker).exists():
        return 3
    return asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
