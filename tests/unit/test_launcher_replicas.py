"""`xuc up --replicas`: the setting, the replicas' ports, and the supervisor's restarts.

The supervisor tests run the launcher's own start and restart code on real processes: a stand-in
service (tests/support/fake_replica.py) that serves the gRPC health service and writes its ready
file, as our services do.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.__main__ import _listening_socket
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from xuc import cli
from xuc.launcher import replicas
from xuc.launcher.console import StartError
from xuc.launcher.supervisor import Supervisor
from xuc.launcher.topology import Component, Serves, replica_env
from xuc.runtime import grpc_client
from xuc.runtime.settings import Settings, SettingsError

FAKE = Component("fake", "tests.support.fake_replica", Serves.GRPC)
AUTH = Component("auth", "services.auth", Serves.GRPC)
CONTACTS = Component("contacts", "services.contacts", Serves.GRPC)


# --- the setting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "counts"), [
    ("", {"gateway": 1, "auth": 1, "contacts": 1}),
    ("2", {"gateway": 2, "auth": 2, "contacts": 2}),
    ("gateway=2, contacts=3", {"gateway": 2, "auth": 1, "contacts": 3}),
    ("auth=16", {"gateway": 1, "auth": 16, "contacts": 1}),
])
def test_replicas_are_read_from_xuc_replicas(raw: str, counts: dict[str, int]) -> None:
    assert dict(Settings.from_env(env={"XUC_REPLICAS": raw}).replicas) == counts


@pytest.mark.parametrize("raw", ["0", "two", "17", "telephony=2", "nats=2", "auth=", "auth=0", "auth:2", "2,3"])
def test_unusable_replica_counts_are_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="XUC_REPLICAS"):
        Settings.from_env(env={"XUC_REPLICAS": raw})


def test_the_replicas_option_sets_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XUC_REPLICAS", raising=False)
    args = cli._build_parser().parse_args(["up", "--replicas", "gateway=2,auth=3"])
    cli._export(args)
    assert os.environ["XUC_REPLICAS"] == "gateway=2,auth=3"


def test_fixed_ports_are_shifted_per_replica_and_free_ones_left_free() -> None:
    env = {"XUC_AUTH_GRPC_LISTEN": "0.0.0.0:7000", "XUC_METRICS_LISTEN": "127.0.0.1:9100"}
    assert replica_env(AUTH, 1, env) == env
    second = replica_env(AUTH, 2, env)
    assert second["XUC_AUTH_GRPC_LISTEN"] == "0.0.0.0:7001"
    assert second["XUC_AUTH_METRICS_LISTEN"] == "127.0.0.1:9101"
    assert replica_env(CONTACTS, 3, {}) == {}  # 127.0.0.1:0 both: any free port each


# --- gateway replicas share one port -------------------------------------------------------------------
def test_gateways_binding_with_reuse_port_share_it_and_others_cannot() -> None:
    with _listening_socket("127.0.0.1", 0, reuse_port=True) as first:
        first.listen()
        port = first.getsockname()[1]
        with _listening_socket("127.0.0.1", port, reuse_port=True) as second:
            second.listen()
            assert second.getsockname()[1] == port
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            _listening_socket("127.0.0.1", port, reuse_port=False)
        # `xuc up` refuses to start gateway replicas on a port something already listens on.
        with pytest.raises(StartError, match=f"gateway cannot listen on 127.0.0.1:{port}"):
            replicas.check_port_free("127.0.0.1", port)
    replicas.check_port_free("127.0.0.1", port)  # free again


# --- the supervisor, on real processes -----------------------------------------------------------------
@pytest.fixture
async def supervisor() -> AsyncIterator[Supervisor]:
    supervising = Supervisor()
    yield supervising
    await supervising.stop()


@pytest.fixture
def fast_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicas, "RESTART_BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(replicas, "CRASH_LOOP_LIMIT", 3)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """os.environ without the developer's XUC_* settings, and the test's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("XUC_")}
    return {**env, "PYTHONUNBUFFERED": "1", "XUC_DATA_DIR": str(tmp_path), **extra}


def _pid(run_dir: Path, name: str) -> int | None:
    try:
        return int(json.loads((run_dir / f"{name}.json").read_text())["pid"])
    except (OSError, ValueError):
        return None


async def _restarted(supervisor: Supervisor, name: str, killed: int) -> int:
    """The pid of the child that replaced `killed`, once the launcher found it serving."""
    def replacement() -> int | None:
        for child in supervisor.children:
            if child.name == name and child.ready and child.process.pid != killed:
                return child.process.pid
        return None

    async with asyncio.timeout(30):
        while (pid := replacement()) is None:  # noqa: ASYNC110 (the launcher's state)
            await asyncio.sleep(0.05)
    return pid


async def test_a_replica_that_dies_is_restarted_on_its_address(
        supervisor: Supervisor, tmp_path: Path, fast_restarts: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    addresses = await replicas.start_component(supervisor, FAKE, 2, _env(tmp_path), tmp_path)
    first, second = addresses.split(",")
    assert first != second
    supervisor.running = True
    killed = _pid(tmp_path, "fake-2")
    assert killed is not None

    os.kill(killed, signal.SIGKILL)
    replacement = await _restarted(supervisor, "fake-2", killed)
    assert _pid(tmp_path, "fake-2") == replacement

    assert json.loads((tmp_path / "fake-2.json").read_text())["grpc"] == second  # the list stays true
    assert await grpc_client.is_serving(second)
    assert await grpc_client.is_serving(first)  # the other one was left alone
    assert not supervisor.crashed.is_set()
    assert [child.process.pid for child in supervisor.children] == [_pid(tmp_path, "fake"), replacement]
    output = capsys.readouterr().out
    # It had served for less than CRASH_LOOP_SECONDS: one quick exit, the back-off doubled once.
    assert "xuc: fake-2 exited with signal SIGKILL; restarting it in 0.1 s (the other replicas serve)" in output
    assert "xuc: fake-2 restarted" in output


async def test_a_replica_that_cannot_start_again_stops_everything(
        supervisor: Supervisor, tmp_path: Path, fast_restarts: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "broken"
    await replicas.start_component(supervisor, FAKE, 2, _env(tmp_path, FAKE_FAIL_IF_EXISTS=str(marker)),
                                       tmp_path)
    supervisor.running = True
    marker.touch()  # from now on it exits at start, as with a broken configuration or database
    killed = _pid(tmp_path, "fake")
    assert killed is not None

    os.kill(killed, signal.SIGKILL)
    async with asyncio.timeout(30):
        await supervisor.crashed.wait()

    output = capsys.readouterr().out
    # Killed within CRASH_LOOP_SECONDS of its start (1 quick exit), then 2 failed starts: 3 in a row.
    assert "xuc: fake exited with signal SIGKILL; restarting it in 0.1 s" in output
    assert "xuc: fake did not start again (fake exited with code 3 before it was ready); restarting it in 0.2 s" \
        in output
    assert output.count("restarting it in") == 2
    assert "fake did not start again (fake exited with code 3 before it was ready), 3 times in a row" in output
    assert "it cannot start; stopping everything" in output


async def test_a_component_of_one_process_that_dies_stops_everything(
        supervisor: Supervisor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await replicas.start_component(supervisor, FAKE, 1, _env(tmp_path), tmp_path)
    supervisor.running = True
    pid = _pid(tmp_path, "fake")
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(30):
        await supervisor.crashed.wait()
    assert "xuc: fake exited with signal SIGKILL; stopping everything" in capsys.readouterr().out


async def test_stopping_cancels_a_pending_restart_and_stops_every_replica(
        supervisor: Supervisor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(replicas, "RESTART_BACKOFF_SECONDS", 30.0)
    await replicas.start_component(supervisor, FAKE, 2, _env(tmp_path), tmp_path)
    supervisor.running = True
    killed, other = _pid(tmp_path, "fake-2"), _pid(tmp_path, "fake")
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    output = ""
    async with asyncio.timeout(EVENT_DEADLINE_SECONDS):  # until the restart is pending, in its back-off
        while "fake-2 exited with signal SIGKILL; restarting it in" not in output:
            await asyncio.sleep(0.05)
            output += capsys.readouterr().out

    await asyncio.wait_for(supervisor.stop(), 20)

    assert all(child.process.returncode is not None for child in supervisor.children)
    assert _pid(tmp_path, "fake-2") is None  # never started again
    assert other is not None
    assert supervisor.children[0].process.returncode == 0  # SIGTERM: a clean stop


async def test_a_worker_is_ready_once_it_writes_its_ready_file_and_gives_no_address(
        supervisor: Supervisor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker = Component("fake", FAKE.module, Serves.NOTHING)
    assert await replicas.start_component(supervisor, worker, 1, _env(tmp_path), tmp_path) == ""
    assert [child.ready for child in supervisor.children] == [True]
    assert "xuc: fake     up  working" in capsys.readouterr().out
