"""Composition root of the telephony service process: `python -m services.telephony`."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import grpc

from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.adapters.auth_directory import AuthDirectory
from services.telephony.adapters.nats_lease import NatsPbxLease, lease_key, new_holder_id, open_bucket
from services.telephony.adapters.repository import SqlTelephonyUnitOfWork
from services.telephony.adapters.simulator import SimulatedPbx
from services.telephony.adapters.standby_pbx import StandbyPbx
from services.telephony.adapters.telephony_events import telephony_event_message
from services.telephony.domain.pbx import Pbx
from services.telephony.entrypoints.pbx_connection import PbxConnectionReport
from services.telephony.entrypoints.simulator_api import SIMULATOR_POLICY, SIMULATOR_SERVICE, SimulatorApi
from services.telephony.entrypoints.standby import StandbyHealth, StandbyInterceptor
from services.telephony.entrypoints.telephony_api import TELEPHONY_POLICY, TELEPHONY_SERVICE, TelephonyApi
from services.telephony.service_layer.agents import AgentService
from services.telephony.service_layer.call_control import CallControlService
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.dependencies import Dependencies
from services.telephony.service_layer.directory import Directory, load_and_follow
from services.telephony.service_layer.failover import Failover
from services.telephony.service_layer.pbx_events import PbxEventRouter
from services.telephony.service_layer.presence import PresenceService
from services.telephony.service_layer.user_services import UserServicesService
from xuc import subjects
from xuc.runtime import bootstrap, grpc_client
from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.process import GrpcService, HealthServicer, run, serve_grpc, stop_signal
from xuc.runtime.settings import Settings, SettingsError
from xucproto.telephony.v1 import telephony_pb2_grpc

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def create_ami_pbx(settings: Settings) -> AmiPbx:
    return AmiPbx(settings.pbx, channel_template=settings.ami_channel, context=settings.ami_context,
                  backoff_max=settings.ami_backoff_max_seconds)


def create_pbx(settings: Settings) -> tuple[Pbx, SimulatedPbx | None]:
    """The PBX adapter XUC_PBX names, and the simulator again when it is one (its API drives it)."""
    if settings.pbx == "sim":
        simulator = SimulatedPbx(ring_timeout_seconds=settings.sim_ring_timeout,
                                 auto_answer=settings.sim_auto_answer)
        return simulator, simulator
    return create_ami_pbx(settings), None


@dataclass(frozen=True)
class Standby:
    """What PBX failover adds to the process (XUC_TELEPHONY_FAILOVER; service_layer/failover.py):
    the contest for the PBX lease, the PBX behind a gate that only the lease holder passes, and a
    health that says SERVING for Telephony only while active. Made before the services (they use the
    gate as their PBX), started after them (taking the lease reloads them)."""

    failover: Failover
    gate: StandbyPbx
    health: StandbyHealth

    @classmethod
    async def create(cls, settings: Settings, events: bootstrap.Events) -> Standby:
        bucket = await open_bucket(events.connection.jetstream(), settings.telephony_lease_ttl_seconds,
                                   settings.stream_replicas)
        lease = NatsPbxLease(bucket, lease_key(settings.pbx), new_holder_id())
        log.info("PBX failover on: standing by until this instance holds the PBX lease",
                 extra={"holder": lease.holder_id, "ttl_s": settings.telephony_lease_ttl_seconds})
        failover = Failover(lease, ttl_seconds=settings.telephony_lease_ttl_seconds)
        # The AMI adapter is created (and connects) each time this instance becomes active.
        gate = StandbyPbx(partial(create_ami_pbx, settings), "ami", lambda: failover.detail,
                          lambda: failover.active)
        return cls(failover, gate, StandbyHealth([TELEPHONY_SERVICE]))

    def is_active(self) -> bool:
        return self.failover.active

    def interceptor(self) -> StandbyInterceptor:
        """Telephony calls refused while standing by, but GetPbxState (which says so)."""
        return StandbyInterceptor([TELEPHONY_SERVICE], self.is_active, [f"/{TELEPHONY_SERVICE}/GetPbxState"])

    def start(self, calls: CallService, agents: AgentService, presence: PresenceService) -> None:
        """Take the PBX when the lease is ours: what lives in the database is read again (push
        registrations, agents, presence statuses: the previous active may have changed them), then
        the PBX connection resynchronises calls, lines and agent states; let it go when the lease is lost."""

        async def activate() -> None:
            for reload in (calls.load, agents.load, presence.load):
                try:
                    await reload()
                except Exception:
                    log.exception("activation: %s failed (kept what was loaded)", reload.__qualname__)
            await self.gate.activate()
            await self.health.set_active(True)

        async def deactivate(detail: str) -> None:
            await self.health.set_active(False)
            await self.gate.deactivate(detail)

        self.failover.start(activate, deactivate)


async def main(settings: Settings) -> None:
    if not settings.auth_address:
        raise SettingsError("XUC_AUTH_ADDRESS is required (host:port of the auth service)")
    if settings.telephony_failover and not settings.pbx.startswith("ami://"):
        raise SettingsError("XUC_TELEPHONY_FAILOVER needs XUC_PBX=ami://...: the simulator lives inside "
                            "one process, a standby would have no PBX to take over")
    stopping = stop_signal()
    async with AsyncExitStack() as stack:
        engine = await bootstrap.open_database(stack, settings, MIGRATIONS, "telephony_alembic_version")
        events = await bootstrap.connect_events(stack, settings, "telephony", [subjects.telephony_stream()])
        auth = await bootstrap.connect_auth(stack, settings, events.connection)

        # One active instance per PBX, the others standing by; else the PBX XUC_PBX names, driven at once.
        standby = await Standby.create(settings, events) if settings.telephony_failover else None
        pbx, simulator = (standby.gate, None) if standby is not None else create_pbx(settings)
        directory = Directory()
        # Phone events are the hot path: written in order at once, JetStream's acks checked behind.
        publisher = events.publisher(telephony_event_message, confirm=False)
        stack.push_async_callback(publisher.close)

        deps = Dependencies(partial(SqlTelephonyUnitOfWork, engine), pbx, publisher, directory)
        calls, user_services, agents = CallService(deps), UserServicesService(deps), AgentService(deps)
        presence = PresenceService(deps, user_services, agents)

        async def lines_changed() -> None:
            await pbx.set_lines(directory.numbers())

        source = AuthDirectory(auth.stub, grpc_client.service_metadata(settings.service_token), events.connection)
        stack.push_async_callback(source.close)
        await load_and_follow(directory, source, lines_changed)
        await calls.load()
        await agents.load()
        await presence.load()
        await calls.start_recording()
        stack.push_async_callback(calls.stop_recording)

        health = standby.health if standby is not None else HealthServicer()
        router = PbxEventRouter(calls, agents, user_services)
        stack.push_async_callback(router.close)
        # The PBX connection in the health of xuc.telephony.v1.Pbx and in xuc_pbx_connected, from
        # its ConnectionChanged events. Stopped first at exit: no PBX event arrives once the history
        # writer has finished.
        connection_report = PbxConnectionReport(pbx, health)
        stack.push_async_callback(connection_report.close)

        await pbx.set_lines(directory.numbers())
        # Both adapters announce ConnectionChanged(True) once connected; the router then gives the
        # PBX the stored DND and forwards (again after every reconnection).
        await connection_report.start(router)
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if standby is not None:
            standby.start(calls, agents, presence)
            stack.push_async_callback(standby.failover.close)  # before the PBX closes: steps down, releases the lease
            interceptors.append(standby.interceptor())

        control = CallControlService(deps, calls.current_calls)
        telephony_api = TelephonyApi(calls, user_services, agents, pbx, presence, control)
        services = [GrpcService(TELEPHONY_SERVICE, partial(telephony_pb2_grpc.add_TelephonyServicer_to_server,
                                                           telephony_api))]
        policy = dict(TELEPHONY_POLICY)
        if simulator is not None:
            services.append(GrpcService(SIMULATOR_SERVICE, partial(telephony_pb2_grpc.add_SimulatorServicer_to_server,
                                                                   SimulatorApi(simulator))))
            policy.update(SIMULATOR_POLICY)
        interceptor = EdgeInterceptor(policy, Authenticator(settings.service_token, auth.keys.verifier))
        await serve_grpc(settings, "telephony", services, [interceptor, *interceptors], stopping, health)


if __name__ == "__main__":
    run("telephony", main)
