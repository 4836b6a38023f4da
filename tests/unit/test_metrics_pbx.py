"""`xuc_pbx_connected` and the health of `xuc.telephony.v1.Pbx`: the process reports the PBX
connection the adapters announce (services/telephony/entrypoints/pbx_connection.py, what the
telephony root starts the PBX with). The simulator: up while started; AMI, against the scripted
Asterisk over real loopback TCP: down before it connects, up, down when it drops us, up again after
the reconnection, down once closed; a standby (failover): down, up once activated, down again when
it steps down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio
from prometheus_client import REGISTRY

from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.adapters.simulator import SimulatedPbx
from services.telephony.adapters.standby_pbx import StandbyPbx
from services.telephony.domain.pbx import ConnectionChanged, PbxEvent
from services.telephony.entrypoints.pbx_connection import PBX_HEALTH, PbxConnectionReport
from tests.support.ami_server import ScriptedAmiServer
from xuc.runtime.metrics import PBX_CONNECTED

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.2, "action_timeout": 1.0, "connect_timeout": 1.0,
                        "originate_wait": 0.3, "ping_interval": None}
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
# Not a value the report sets: shows that a reading was set by the code under test, not left over.
UNSET = -1


def connected(kind: str) -> float | None:
    return REGISTRY.get_sample_value("xuc_pbx_connected", {"kind": kind})


async def pbx_health(health: health_aio.HealthServicer) -> int:
    reply = await health.Check(health_pb2.HealthCheckRequest(service=PBX_HEALTH), None)
    return int(reply.status)


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the report sets a gauge: nothing to wait on)
            await asyncio.sleep(0.01)


class Changes:
    """The sink behind the report: the connection changes it passed on, in order."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.events: list[PbxEvent] = []

    async def __call__(self, event: PbxEvent) -> None:
        self.events.append(event)
        if isinstance(event, ConnectionChanged):
            self.seen.append(event.connected)


async def test_the_simulator_is_connected_while_started() -> None:
    PBX_CONNECTED.labels("sim").set(UNSET)
    health, changes = health_aio.HealthServicer(), Changes()
    report = PbxConnectionReport(SimulatedPbx(), health)
    await report.start(changes)
    await until(lambda: changes.seen == [True])
    assert connected("sim") == 1
    assert await pbx_health(health) == SERVING
    await report.close()
    assert connected("sim") == 0
    assert await pbx_health(health) == NOT_SERVING


async def test_the_ami_connection_is_reported_as_it_goes() -> None:
    server = ScriptedAmiServer()
    await server.start()
    await server.stop_listening()  # the PBX is not there yet
    PBX_CONNECTED.labels("ami").set(UNSET)
    health, changes = health_aio.HealthServicer(), Changes()
    pbx = AmiPbx(server.url(), **FAST)
    report = PbxConnectionReport(pbx, health)
    try:
        await report.start(changes)
        assert connected("ami") == 0  # reported at start: not connected
        assert await pbx_health(health) == NOT_SERVING
        await until(lambda: "connection refused" in pbx.connection().detail)  # an attempt, refused
        assert connected("ami") == 0
        await server.resume_listening()
        await until(lambda: changes.seen == [True])
        assert connected("ami") == 1
        assert await pbx_health(health) == SERVING
        await server.stop_listening()
        await server.drop()  # the PBX restarts: we are disconnected and cannot come back yet
        await until(lambda: changes.seen == [True, False])
        assert connected("ami") == 0
        assert await pbx_health(health) == NOT_SERVING
        await server.resume_listening()
        await until(lambda: changes.seen == [True, False, True])
        assert connected("ami") == 1
        assert await pbx_health(health) == SERVING
    finally:
        await report.close()
        await server.close()
    assert connected("ami") == 0
    assert await pbx_health(health) == NOT_SERVING


async def test_a_standby_is_reported_down_until_activated_and_again_when_it_steps_down() -> None:
    server = ScriptedAmiServer()
    await server.start()
    PBX_CONNECTED.labels("ami").set(UNSET)
    health, changes = health_aio.HealthServicer(), Changes()
    standby = StandbyPbx(lambda: AmiPbx(server.url(), **FAST), "ami", lambda: "standby", lambda: True)
    report = PbxConnectionReport(standby, health)
    try:
        await report.start(changes)
        assert connected("ami") == 0  # present, 0, on a standby
        assert await pbx_health(health) == NOT_SERVING
        await standby.activate()
        await until(lambda: changes.seen == [True])
        assert connected("ami") == 1
        assert await pbx_health(health) == SERVING
        await standby.deactivate("the lease was lost")
        assert changes.seen == [True, False]
        assert connected("ami") == 0
        assert await pbx_health(health) == NOT_SERVING
    finally:
        await report.close()
        await server.close()
    assert connected("ami") == 0
