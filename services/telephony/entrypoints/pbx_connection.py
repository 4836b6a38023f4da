"""How the process shows its PBX connection: the health of `xuc.telephony.v1.Pbx` (SERVING while
connected) and the gauge `xuc_pbx_connected{kind}` (1 while connected).

Both are set here only, from what the adapters already report: the connection as `connection()`
says at start, then every ConnectionChanged event (a simulator starting, an AMI login or drop, a
standby activated or stepping down), and down once the PBX is closed. The adapters themselves know
nothing of health or metrics.
"""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from services.telephony.domain.pbx import ConnectionChanged, EventSink, Pbx, PbxEvent
from xuc.runtime.metrics import PBX_CONNECTED

# Health of the PBX connection, next to the services' own.
PBX_HEALTH = "xuc.telephony.v1.Pbx"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class PbxConnectionReport:
    """Starts and closes the PBX, reporting its connection on the way (see the module's doc)."""

    def __init__(self, pbx: Pbx, health: health_aio.HealthServicer) -> None:
        self._pbx = pbx
        self._health = health
        self._gauge: Any = PBX_CONNECTED.labels(pbx.connection().kind)

    async def start(self, sink: EventSink) -> None:
        """Report the connection as it is now (a standby's too: down), then start the PBX, every
        event going to `sink` once its connection change, if it is one, has been reported."""
        await self._set(self._pbx.connection().connected)

        async def reporting(event: PbxEvent) -> None:
            if isinstance(event, ConnectionChanged):
                await self._set(event.connected)
            await sink(event)

        await self._pbx.start(reporting)

    async def close(self) -> None:
        """Close the PBX (no event follows): reported down."""
        await self._pbx.close()
        await self._set(False)

    async def _set(self, connected: bool) -> None:
        self._gauge.set(1 if connected else 0)
        await self._health.set(PBX_HEALTH, SERVING if connected else NOT_SERVING)
