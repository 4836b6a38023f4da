"""`xuc_pbx_connected`: the PBX adapters report their connection (the simulator: up while started;
AMI: against the scripted Asterisk over real loopback TCP, down when it drops us, up again after
the reconnection)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY

from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.adapters.simulator import SimulatedPbx
from services.telephony.domain.pbx import ConnectionChanged, PbxEvent
from tests.support.ami_server import ScriptedAmiServer

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.2, "action_timeout": 1.0, "connect_timeout": 1.0,
                        "originate_wait": 0.3, "ping_interval": None}


def connected(kind: str) -> float | None:
    return REGISTRY.get_sample_value("xuc_pbx_connected", {"kind": kind})


async def until(condition: Callable[[], bool], within: float = 3.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the adapter sets a gauge: nothing to wait on)
            await asyncio.sleep(0.01)


async def ignore(event: PbxEvent) -> None:
    return None


async def test_the_simulator_is_connected_while_started() -> None:
    pbx = SimulatedPbx()
    await pbx.start(ignore)
    assert connected("sim") == 1
    await pbx.close()
    assert connected("sim") == 0


async def test_the_ami_adapter_reports_its_connection() -> None:
    server = ScriptedAmiServer()
    await server.start()
    changes: list[bool] = []

    async def sink(event: PbxEvent) -> None:
        if isinstance(event, ConnectionChanged):
            changes.append(event.connected)

    pbx = AmiPbx(server.url(), **FAST)
    try:
        assert connected("ami") == 0  # not started: not connected
        await pbx.start(sink)
        await until(lambda: changes == [True])
        assert connected("ami") == 1
        await server.stop_listening()
        await server.drop()  # the PBX restarts: we are disconnected and cannot come back yet
        await until(lambda: changes == [True, False])
        assert connected("ami") == 0
        await server.resume_listening()
        await until(lambda: changes == [True, False, True])
        assert connected("ami") == 1
    finally:
        await pbx.close()
        await server.close()
    assert connected("ami") == 0
