"""`xuc up`: the whole system as supervised child processes on one machine, until Ctrl-C/SIGTERM
or a component's exit.

NATS starts first (unless XUC_NATS_URL names one), then the components of xuc/launcher/topology.py
in order, each awaited before the next; they stop in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from xuc import nats_config
from xuc.launcher.console import CliError, StartError, say
from xuc.launcher.nats_server import configure_nats, credentials_file, start_nats
from xuc.launcher.replicas import start_component
from xuc.launcher.service_token import TOKEN_FILE, ensure_service_token
from xuc.launcher.supervisor import Supervisor
from xuc.launcher.topology import COMPONENTS, Serves, replica_counts
from xuc.runtime import file_modes
from xuc.runtime.nats_credentials import without_credentials
from xuc.runtime.settings import Settings, nats_url_given
from xuc.tasks import cancel_all


async def _start_all(supervisor: Supervisor, settings: Settings, env: dict[str, str],
                     nats_config_file: Path | None, run_dir: Path) -> None:
    """Start everything in order; NATS too unless XUC_NATS_URL names one (no `nats_config_file`)."""
    if nats_config_file is None:
        say(f"{'nats':<8} external  {without_credentials(env['XUC_NATS_URL'])}")
    else:
        env["XUC_NATS_URL"] = await start_nats(supervisor, env, nats_config_file, run_dir)
    counts = replica_counts(settings)
    for component in COMPONENTS:
        if not component.runs_when(settings):
            continue
        address = await start_component(supervisor, component, counts[component.name], env, run_dir)
        if component.serves is Serves.GRPC:
            # Each later component learns the addresses of the earlier ones (XUC_AUTH_ADDRESS, ...).
            env[component.address_variable] = address


@contextlib.contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """Held while `xuc up` runs: two launchers on one data directory would share its databases."""
    with open(run_dir / "xuc.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(f"another `xuc up` is already running on {run_dir.parent}") from None
        yield


def _clear_run_files(run_dir: Path) -> None:
    """Ready and ports files of a previous run: stale addresses must not be mistaken for live ones."""
    for pattern in ("*.json", "*.tmp", "*.ports"):
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _stop_signals(first: Callable[[], None], again: Callable[[], None]) -> Iterator[None]:
    """SIGINT/SIGTERM call `first`, any later one `again` (a second Ctrl-C kills at once)."""
    loop = asyncio.get_running_loop()
    received = 0

    def handle() -> None:
        nonlocal received
        received += 1
        (first if received == 1 else again)()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _first_of(*tasks: asyncio.Task[Any]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)


async def _run_until_stopped(supervisor: Supervisor, stopping: asyncio.Event,
                             start: Coroutine[Any, Any, None]) -> int:
    """Start, then serve until a signal (exit code 0) or a child's exit (1)."""
    starting = asyncio.create_task(start)
    crashed = asyncio.create_task(supervisor.crashed.wait())
    stopped = asyncio.create_task(stopping.wait())
    try:
        await _first_of(starting, crashed, stopped)
        if not (crashed.done() or stopped.done()):
            starting.result()  # a StartError surfaces here
            supervisor.running = True
            say("ready (Ctrl-C to stop)")
            await _first_of(crashed, stopped)
        return 1 if crashed.done() else 0
    except StartError as error:
        say(f"{error}; stopping everything")
        return 1
    finally:
        await cancel_all([starting, crashed, stopped])


def _secure_data_dir(settings: Settings, data_dir: Path) -> None:
    """The data directory is ours alone (0700), and so is each file in it holding a secret (0600):
    what an older version or another umask left open is closed, and said."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    databases = [path for suffix in ("", *file_modes.SQLITE_COMPANIONS) for path in data_dir.glob(f"*.db{suffix}")]
    file_modes.tighten([data_dir, data_dir / TOKEN_FILE, data_dir / nats_config.CREDENTIALS_FILE,
                        data_dir / nats_config.SERVER_CONFIG_FILE, *databases, *file_modes.signing_key_files(settings),
                        *([settings.nats_credentials] if settings.nats_credentials else [])], say)


def _children_env(settings: Settings, data_dir: Path, own_nats: bool) -> dict[str, str]:
    """What every child is given: our environment (their settings), and what `xuc up` decides."""
    # MALLOC_ARENA_MAX: glibc gives each thread (aiosqlite, gRPC) its own arenas and keeps their
    # freed memory; two arenas cut the contacts process's peak by ~50 MB under the benchmarks.
    env = {"MALLOC_ARENA_MAX": "2", **os.environ, "XUC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
           "XUC_SERVICE_TOKEN": ensure_service_token(data_dir, settings.service_token)}
    if own_nats:
        env["XUC_NATS_CREDENTIALS"] = str(credentials_file(settings, data_dir))
    return env


async def up() -> int:
    """Run the whole system until Ctrl-C/SIGTERM or a component's exit; the process exit code."""
    file_modes.restrict_new_files()  # for every file we, our children and nats-server create
    settings = Settings.from_env()  # refuses unusable variables before anything starts
    for component in COMPONENTS:  # each component's own variables too (ports...)
        Settings.from_env(component.name)
    data_dir = settings.data_dir.resolve()
    run_dir = data_dir / "run"
    _secure_data_dir(settings, data_dir)
    run_dir.mkdir(exist_ok=True)
    with _exclusive(run_dir):
        own_nats = not nats_url_given()
        nats_config_file = configure_nats(settings, data_dir, run_dir) if own_nats else None
        env = _children_env(settings, data_dir, own_nats)
        _clear_run_files(run_dir)
        supervisor = Supervisor()
        stopping = asyncio.Event()

        def stop() -> None:
            say("stopping (Ctrl-C again to kill)")
            stopping.set()

        with _stop_signals(stop, supervisor.kill_all):
            try:
                return await _run_until_stopped(supervisor, stopping,
                                                _start_all(supervisor, settings, env, nats_config_file, run_dir))
            finally:
                await supervisor.stop()
                _clear_run_files(run_dir)
                say("stopped")
