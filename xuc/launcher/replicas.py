"""Starting a component's replicas, and starting one again when it exits while the stack runs.

The replicas of a gRPC service each listen on a port of their own and the later components get the
list of them (gRPC balances over it, xuc/runtime/grpc_client.py); gateway replicas share the HTTP
port (SO_REUSEPORT). A replica that exits while the stack runs is restarted on the same port, after
a back-off, while the others serve; one that keeps exiting within CRASH_LOOP_SECONDS of starting
cannot start at all, and everything is stopped. A component run as one process stops everything
when it exits (xuc/launcher/supervisor.py): a half-up system would answer some requests and fail others.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from xuc.launcher.console import StartError, say, say_up
from xuc.launcher.readiness import (
    address_in,
    host_port,
    http_status,
    metrics_address,
    poll,
    read_ready_file,
    split_address,
    start_deadline,
)
from xuc.launcher.supervisor import Child, Supervisor, describe_exit, send
from xuc.launcher.topology import Component, Serves, replica_env
from xuc.runtime import grpc_client
from xuc.runtime.settings import Settings

T = TypeVar("T")

# Restarts of a replica: after RESTART_BACKOFF_SECONDS, doubled for each exit in a row within
# CRASH_LOOP_SECONDS of its start (a failed start counts as one); CRASH_LOOP_LIMIT of those in a
# row and the component is taken as unable to start: everything stops.
RESTART_BACKOFF_SECONDS = 0.5
CRASH_LOOP_SECONDS = 10.0
CRASH_LOOP_LIMIT = 5


@dataclass
class Replica:
    """One process of a component, and what it needs to be started again the same way."""

    component: Component
    index: int  # 1-based
    env: dict[str, str]
    restartable: bool  # one of several: restarted when it exits, instead of stopping everything
    child: Child | None = None
    ready_at: float = 0.0  # time.monotonic() when it last became ready
    quick_exits: int = 0  # exits in a row within CRASH_LOOP_SECONDS of starting

    @property
    def name(self) -> str:
        """`auth` for the first (whose run file `xuc provision` reads), then `auth-2`, `auth-3`..."""
        return self.component.name if self.index == 1 else f"{self.component.name}-{self.index}"

    def shown(self, address: str) -> str:
        """The address as `xuc up` prints it: a URL for HTTP."""
        return f"http://{host_port(*split_address(address))}" if self.component.serves is Serves.HTTP else address


def _replicas(component: Component, count: int, env: dict[str, str]) -> list[Replica]:
    return [Replica(component, index, replica_env(component, index, env), restartable=count > 1)
            for index in range(1, count + 1)]


async def _healthy(replica: Replica, address: str) -> bool:
    if replica.component.serves is Serves.GRPC:
        return await grpc_client.is_serving(address)
    if replica.component.serves is Serves.HTTP:
        # Gateway replicas share the port: whichever answers says the keys are loaded; this one's
        # ready file says it serves.
        return await http_status(*split_address(address), "/health/ready") == 200
    return True  # a worker writes its ready file once it works


async def _start_replica(supervisor: Supervisor, replica: Replica, run_dir: Path) -> tuple[str, str]:
    """Spawn the replica and wait until it serves: the addresses it writes in its ready file (where
    it serves, "" for a worker; where its metrics are, "" if nowhere), then its health. StartError
    if it exits first; the caller bounds the wait."""
    ready_file = run_dir / f"{replica.name}.json"
    previous = replica.child
    child = await supervisor.spawn(
        replica.name, [sys.executable, "-m", replica.component.module],
        {**replica.env, "XUC_READY_FILE": str(ready_file)},
        component=replica.component.name, replaces=previous,
        on_exit=(lambda code: _on_replica_exit(supervisor, replica, run_dir, code)) if replica.restartable else None)
    replica.child = child

    def exited() -> None:
        if child.process.returncode is not None:
            raise StartError(f"{replica.name} exited with {describe_exit(child.process.returncode)} "
                             "before it was ready")

    async def ready() -> dict[str, Any] | None:
        exited()
        return read_ready_file(ready_file, child.process.pid)

    content = await poll(ready)
    key = replica.component.address_key
    address, metrics = address_in(content, key, replica.name) if key else "", metrics_address(content)

    async def healthy() -> bool | None:
        exited()
        return await _healthy(replica, address) or None

    await poll(healthy)
    child.ready = True
    replica.ready_at = time.monotonic()
    return address, metrics


def _on_replica_exit(supervisor: Supervisor, replica: Replica, run_dir: Path, code: int) -> None:
    lived = time.monotonic() - replica.ready_at
    replica.quick_exits = replica.quick_exits + 1 if lived < CRASH_LOOP_SECONDS else 0
    (run_dir / f"{replica.name}.json").unlink(missing_ok=True)  # a dead pid and address
    supervisor.start_task(_restart(supervisor, replica, run_dir, f"exited with {describe_exit(code)}"))


async def _restart(supervisor: Supervisor, replica: Replica, run_dir: Path, why: str) -> None:
    """Start the replica again after a back-off, on the same port (the others serve meanwhile), until
    it serves; stop everything if it crash-loops (CRASH_LOOP_LIMIT quick exits or failed starts)."""
    while True:
        if replica.quick_exits >= CRASH_LOOP_LIMIT:
            say(f"{replica.name} {why}, {replica.quick_exits} times in a row within {CRASH_LOOP_SECONDS:.0f} s "
                "of starting: it cannot start; stopping everything")
            supervisor.crashed.set()
            return
        delay = RESTART_BACKOFF_SECONDS * 2 ** replica.quick_exits
        say(f"{replica.name} {why}; restarting it in {delay:g} s (the other replicas serve)")
        await asyncio.sleep(delay)
        try:
            async with start_deadline(replica.name):
                address, metrics = await _start_replica(supervisor, replica, run_dir)
        except StartError as error:
            why = f"did not start again ({error})"
            replica.quick_exits += 1
            if replica.child is not None and replica.child.process.returncode is None:
                send(replica.child.process, signal.SIGKILL)
                await replica.child.process.wait()
            continue
        say_up(replica.name, replica.shown(address), metrics)
        say(f"{replica.name} restarted")
        return


async def _all(work: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; the first failure cancels the others and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(item) for item in work]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _start_and_say(supervisor: Supervisor, replica: Replica, run_dir: Path) -> str:
    async with start_deadline(replica.name):
        address, metrics = await _start_replica(supervisor, replica, run_dir)
    say_up(replica.name, replica.shown(address) or "working", metrics)
    return address


async def start_component(supervisor: Supervisor, component: Component, count: int, env: dict[str, str],
                          run_dir: Path) -> str:
    """Start the component's `count` replicas; the address later components are given ("" if none)."""
    if component.serves is Serves.HTTP:
        await _start_sharing_a_port(supervisor, component, count, env, run_dir)
        return ""
    replicas = _replicas(component, count, env)
    # Together: their migrations take turns (xuc/runtime/db.py).
    addresses = await _all([_start_and_say(supervisor, replica, run_dir) for replica in replicas])
    if component.serves is not Serves.GRPC:
        return ""
    for replica, address in zip(replicas, addresses, strict=True):
        # A restart listens where this one did: the address list stays true.
        replica.env[f"XUC_{component.name.upper()}_GRPC_LISTEN"] = address
    # One host:port, or the comma list of the replicas'.
    return ",".join(addresses)


def check_port_free(host: str, port: int) -> None:
    """SO_REUSEPORT would let gateway replicas join another program's listener of the same user on
    the port: make sure nothing listens there first."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise StartError(f"gateway cannot listen on {host_port(host, port)}: {error.strerror or error}") from None


async def _start_sharing_a_port(supervisor: Supervisor, component: Component, count: int, env: dict[str, str],
                                run_dir: Path) -> None:
    settings = Settings.from_env(component.name, env)
    if count > 1:
        env = {**env, "XUC_HTTP_REUSE_PORT": "1"}
        if settings.http_port:
            check_port_free(settings.http_host, settings.http_port)
    first, *others = _replicas(component, count, env)
    # The first binds (port 0: any free one); the others and every restart share its port.
    port = str(split_address(await _start_and_say(supervisor, first, run_dir))[1])
    for replica in (first, *others):
        replica.env["XUC_HTTP_PORT"] = port
    await _all([_start_and_say(supervisor, replica, run_dir) for replica in others])
