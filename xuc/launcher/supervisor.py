"""The children of one `xuc up`: spawned with a parent-death signal, their output relayed line by
line under their name, watched for exits, and stopped in reverse start order.

What an exit means is the starter's to say (`on_exit`: a replica is restarted, xuc/launcher/replicas.py);
a child without one stops everything, as does any exit while the stack starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from xuc.launcher.console import say
from xuc.tasks import cancel_all

STOP_TIMEOUT_SECONDS = 15.0
LINE_LIMIT = 1 << 20  # a child's longest output line we relay whole

# Linux only: a child asks the kernel for SIGTERM when the launcher dies, even by SIGKILL, so that a
# killed launcher leaves no orphans holding ports. It runs as a tiny shim that then execs the real
# program (same pid); prctl cannot be called from Python between fork and exec safely.
_PARENT_DEATH_SHIM = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # the launcher died before prctl took effect\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-c", _PARENT_DEATH_SHIM, str(os.getpid()), *argv]


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def send(process: asyncio.subprocess.Process, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


async def _relay(name: str, stream: asyncio.StreamReader) -> None:
    """Re-print a child's merged output line by line, prefixed with its name."""
    prefix = f"{name:<9} | "
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # longer than LINE_LIMIT: asyncio dropped it
            print(f"{prefix}<an output line longer than {LINE_LIMIT} bytes was dropped>", flush=True)
            continue
        if not line:
            return
        print(prefix + line.decode(errors="replace").rstrip("\r\n"), flush=True)


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    component: str = ""
    # Called with the exit code when the child exits while the stack runs; None: everything stops.
    on_exit: Callable[[int], None] | None = field(default=None, repr=False)
    ready: bool = False  # it served once; until then an exit is its starter's to handle
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    """The children of one `xuc up`, in start order (a restarted replica takes its predecessor's place)."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.crashed = asyncio.Event()
        self.running = False  # the stack is up: replicas that exit are restarted, not fatal
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def spawn(self, name: str, argv: list[str], env: dict[str, str], *, component: str = "",
                    on_exit: Callable[[int], None] | None = None, replaces: Child | None = None) -> Child:
        process = await asyncio.create_subprocess_exec(
            *_with_parent_death_signal(argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            limit=LINE_LIMIT,
            # Its own process group: a terminal's Ctrl-C reaches the launcher only, which then
            # stops the children one by one in reverse order.
            process_group=0,
        )
        child = Child(name, process, component or name, on_exit)
        child.watcher = asyncio.create_task(self._watch(child))
        if replaces is not None and replaces in self.children:
            self.children[self.children.index(replaces)] = child
        else:
            self.children.append(child)
        return child

    def start_task(self, work: Coroutine[Any, Any, None]) -> None:
        """Background work (a restart) cancelled when the stack stops."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, child: Child) -> None:
        assert child.process.stdout is not None
        await _relay(child.name, child.process.stdout)
        code = await child.process.wait()
        if self._stopping:
            return
        if child.on_exit is None or not self.running:
            say(f"{child.name} exited with {describe_exit(code)}; stopping everything")
            self.crashed.set()
        elif child.ready:
            child.on_exit(code)

    async def stop(self) -> None:
        self._stopping = True
        await cancel_all(list(self._tasks))
        # Component by component in reverse order; the replicas of one together.
        groups: list[list[Child]] = []
        for child in reversed(self.children):
            if groups and groups[-1][0].component == child.component:
                groups[-1].append(child)
            else:
                groups.append([child])
        for group in groups:
            await asyncio.gather(*(self._stop_child(child) for child in group))

    async def _stop_child(self, child: Child) -> None:
        if child.process.returncode is None:
            send(child.process, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                say(f"{child.name} did not stop within {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
                send(child.process, signal.SIGKILL)
                await child.process.wait()
        if child.watcher is not None:
            # Its last lines are printed before the next one stops; a failed relay stops nothing.
            await asyncio.gather(child.watcher, return_exceptions=True)

    def kill_all(self) -> None:
        say("killing everything")
        for child in self.children:
            if child.process.returncode is None:
                send(child.process, signal.SIGKILL)
