"""A PostgreSQL server of the test's own: a throw-away cluster (initdb, trust authentication) in a
temporary directory, on a free loopback port, that the test can stop, start and restart (the
machine's own PostgreSQL is never touched).

    server = PostgresServer.create()        # raises PostgresUnavailable (say why) where it cannot run
    server.url                              # "postgresql://postgres@127.0.0.1:<port>/postgres"
    server.stop(mode="fast")                # sessions terminated, as a PostgreSQL restart does
    server.start()
    server.destroy()                        # stopped, directory removed

Debian's binaries are in /usr/lib/postgresql/<version>/bin (the newest is taken). PostgreSQL refuses
to run as root: then every command runs as the `postgres` user (else `nobody`) through `runuser`,
and the cluster lives in a directory of its own under the system's temporary directory (pytest's
are private to root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_SECONDS = 30
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be run here (binaries or a non-root user missing); the message says which."""


def _bin_dir() -> Path:
    candidates = [path for path in Path("/").glob(BIN_GLOB.lstrip("/")) if (path / "initdb").is_file()
                  and (path / "pg_ctl").is_file()]
    if not candidates:
        raise PostgresUnavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) in {BIN_GLOB}")

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    return max(candidates, key=version)


def _run_as() -> str | None:
    """The user to run PostgreSQL as (None: as ourselves, not root)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root and `runuser` is missing: PostgreSQL refuses to run as root")
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root and there is no `postgres` or `nobody` user to run PostgreSQL as")




@dataclass
class PostgresServer:
    bin_dir: Path
    directory: Path
    port: int
    user: str | None

    @classmethod
    def create(cls) -> PostgresServer:
        bin_dir, user = _bin_dir(), _run_as()
        directory = Path(tempfile.mkdtemp(prefix="xuc-test-pg-"))
        server = cls(bin_dir, directory, free_port(), user)
        try:
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(directory, entry.pw_uid, entry.pw_gid)
            server._command("initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust",
                            "--encoding=UTF8", "--no-sync")
            server.start()
        except BaseException:
            server.destroy()
            raise
        return server

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _command(self, program: str, *args: str, timeout: float = 60) -> str:
        argv = [str(self.bin_dir / program), *args]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                                cwd=self.directory, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                                      f"{self.log()}")
        return result.stdout

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off "
                   "-c max_connections=200")
        self._command("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
                      "-w", "-t", str(START_TIMEOUT_SECONDS), "start", timeout=START_TIMEOUT_SECONDS + 10)
        self._wait_accepting()

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are terminated and the server shuts down cleanly; `immediate`: as a crash."""
        self._command("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    @property
    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL not accepting on {self.port}:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-10_000:]
        except (FileNotFoundError, PermissionError):
            return "(no log)"

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop(mode="immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
