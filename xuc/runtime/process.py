"""The frame of every service process: logs, signals, the gRPC server, metrics, the ready file.

A composition root builds its parts, then calls `await serve_grpc(...)`; on SIGTERM/SIGINT the
gRPC server stops taking calls, finishes the in-flight ones (grace period), and the exit stack
unwinds the rest (NATS drained, engine disposed) in reverse order of creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from xuc.runtime import file_modes, logs
from xuc.runtime.metrics import MetricsServer
from xuc.runtime.settings import Settings, SettingsError

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
# Between NOT_SERVING and the server's stop: time for the clients that watch our health (every
# channel of grpc_client) to take this replica out of their rotation. A call that reaches a
# stopping gRPC server before its application has picked it up is dropped as CANCELLED, which
# no client retries; once the clients have moved on, only calls already running remain.
SHUTDOWN_DRAIN_SECONDS = 0.25
# A stop that takes longer than this after the signal is stuck somewhere: the process logs where
# (the stack of every task still running) and exits with STUCK_EXIT_CODE, before the launcher's
# own deadline (15 s) would kill it without a word.
STOP_DEADLINE_SECONDS = SHUTDOWN_GRACE_SECONDS + 3.0
STUCK_EXIT_CODE = 70  # EX_SOFTWARE
SETTINGS_EXIT_CODE = 2  # a setting that cannot be used, as `xuc` answers it


@dataclass(frozen=True)
class GrpcService:
    """One gRPC service a process exposes: its full name and how to add it to a server."""

    name: str
    register: Callable[[grpc.aio.Server], None]


def write_ready_file(path: Path | None, **addresses: Any) -> None:
    """Tell the launcher where we listen: written atomically once we serve."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"pid": os.getpid(), **addresses}))
    temporary.replace(path)


def freeze_startup_objects() -> None:
    """Move what start-up created (modules, engines, caches of compiled statements...) out of the
    garbage collector's sight: full collections then scan only request-time objects, which keeps
    their pauses out of the latency tail."""
    gc.collect()
    gc.freeze()


def remove_ready_file(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def stop_signal(deadline: float = STOP_DEADLINE_SECONDS) -> asyncio.Event:
    """An event set on the first SIGTERM or SIGINT, which also starts the stop's deadline."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if not stopping.is_set():
            stopping.set()
            loop.call_later(deadline, exit_stuck, deadline)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    return stopping


def awaiting(coroutine: Any) -> list[str]:
    """Where a suspended coroutine waits: each coroutine of its await chain, outermost first
    (`Task.get_stack` shows only the outermost frame of a suspended task)."""
    lines: list[str] = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None) \
            or getattr(coroutine, "gi_frame", None)
        if frame is None:
            break
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "ag_await", None) \
            or getattr(coroutine, "gi_yieldfrom", None)
    return lines


def exit_stuck(deadline: float) -> None:
    """Log where a stop hangs, then exit at once (nothing else will end the process cleanly)."""
    tasks = [task for task in asyncio.all_tasks() if not task.done()]
    log.error("still stopping %g s after the signal: exiting; the tasks still running follow", deadline,
              extra={"tasks": len(tasks)})
    for task in tasks:
        log.error("task %s still running at:\n%s", task.get_name(), "\n".join(awaiting(task.get_coro())))
    logging.shutdown()
    os._exit(STUCK_EXIT_CODE)


class HealthServicer(health_aio.HealthServicer):  # type: ignore[misc]
    """The standard health service, counting the clients that watch it (`stop_serving` waits for
    them to leave only when there are some)."""

    def __init__(self) -> None:
        super().__init__()
        self.watchers = 0

    async def Watch(self, request: Any, context: Any) -> None:
        self.watchers += 1
        try:
            await super().Watch(request, context)
        finally:
            self.watchers -= 1


async def serve_grpc(
    settings: Settings,
    component: str,
    services: Sequence[GrpcService],
    interceptors: Sequence[grpc.aio.ServerInterceptor],
    stopping: asyncio.Event,
    health: HealthServicer | None = None,
) -> None:
    """Serve until `stopping` is set, then drain in-flight calls. A process that reports more than
    its services' health (e.g. its PBX connection) passes its own health servicer. The process's
    metrics are served over HTTP at `settings.metrics_listen` (unless empty) meanwhile; both
    addresses go to the ready file (`grpc`, `metrics`)."""
    server = grpc.aio.server(interceptors=list(interceptors), options=[("grpc.so_reuseport", 0)])
    health = health or HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for service in services:
        service.register(server)
    reflection.enable_server_reflection(
        [*(s.name for s in services), health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME],
        server,
    )
    port = server.add_insecure_port(settings.grpc_listen)
    if port == 0:
        raise OSError(f"cannot listen on {settings.grpc_listen}")
    await server.start()
    for service in services:
        await health.set(service.name, health_pb2.HealthCheckResponse.SERVING)
    address = f"{settings.grpc_listen.rpartition(':')[0]}:{port}"
    log.info("%s serving gRPC", component, extra={"address": address})
    try:
        metrics = start_metrics(settings.metrics_listen)
    except BaseException:
        await server.stop(None)
        raise
    ready: dict[str, str] = {"grpc": address}
    if metrics is not None:
        log.info("%s serving metrics", component, extra={"address": metrics.address})
        ready["metrics"] = metrics.address
    write_ready_file(settings.ready_file, **ready)
    freeze_startup_objects()
    try:
        await stopping.wait()
        log.info("%s stopping: finishing in-flight calls", component)
        await stop_serving(server, health)
    finally:
        remove_ready_file(settings.ready_file)
        if metrics is not None:
            await metrics.close()


async def stop_serving(server: grpc.aio.Server, health: HealthServicer,
                       drain: float = SHUTDOWN_DRAIN_SECONDS, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """Leave the clients' rotation (every service NOT_SERVING), let those that watch notice, then
    stop: new calls refused, those in flight given `grace` seconds."""
    await health.enter_graceful_shutdown()
    if health.watchers:
        await asyncio.sleep(drain)
    await server.stop(grace)


def start_metrics(listen: str) -> MetricsServer | None:
    """The metrics endpoint of a service process (None when `listen` is empty: disabled)."""
    if not listen:
        return None
    try:
        return MetricsServer(listen)
    except (OSError, ValueError) as exc:
        raise OSError(f"cannot serve metrics on {listen}: {exc}") from exc


def run(component: str, main: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """Entry point of a process: private files, settings, logs, then the composition root's `main`.
    A setting it cannot use (SettingsError) ends it with its message and exit code 2."""
    file_modes.restrict_new_files()
    try:
        settings = Settings.from_env(component)
        logs.configure(settings.log_level, settings.log_format)
        file_modes.tighten(file_modes.owned_secret_files(component, settings), log.warning)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(settings))
    except SettingsError as error:
        if not logging.getLogger().handlers:  # the logs' own settings were the unusable ones
            logs.configure()
        log.error("%s cannot start: %s", component, error)
        sys.exit(SETTINGS_EXIT_CODE)
    log.info("%s stopped", component)
