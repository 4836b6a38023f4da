"""Composition root of the telephony service process: `python -m services.telephony`."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
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
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.dependencies import Dependencies
from services.telephony.service_layer.directory import Directory, load_and_follow
from services.telephony.service_layer.failover import Failover
from services.telephony.service_layer.pbx_events import PbxEventRouter
from services.telephony.service_layer.user_services import UserServicesService
from xuc import subjects
from xuc.runtime import db, grpc_client, nats
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.process import GrpcService, HealthServicer, run, serve_grpc, stop_signal
from xuc.runtime.revocations import follow_revocations, from_auth
from xuc.runtime.settings import Settings, SettingsError
from xuc.security.revocations import Revocations, retention_for
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2_grpc

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
KEYS_TIMEOUT_SECONDS = 30.0


def create_pbx(settings: Settings) -> tuple[Pbx, SimulatedPbx | None]:
    """The PBX adapter XUC_PBX names, and the simulator again when it is one (its API drives it)."""
    if settings.pbx == "sim":
        simulator = SimulatedPbx(ring_timeout_seconds=settings.sim_ring_timeout,
                                 auto_answer=settings.sim_auto_answer)
        return simulator, simulator
    return AmiPbx(settings.pbx, channel_template=settings.ami_channel, context=settings.ami_context,
                  backoff_max=settings.ami_backoff_max_seconds), None


async def main(settings: Settings) -> None:
    if not settings.auth_address:
        raise SettingsError("XUC_AUTH_ADDRESS is required (host:port of the auth service)")
    if settings.telephony_failover and not settings.pbx.startswith("ami://"):
        raise SettingsError("XUC_TELEPHONY_FAILOVER needs XUC_PBX=ami://...: the simulator lives inside "
                            "one process, a standby would have no PBX to take over")
    stopping = stop_signal()
    async with AsyncExitStack() as stack:
        engine = db.create_engine_for(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await db.migrate(settings.database_url, MIGRATIONS, version_table="telephony_alembic_version")

        connection = await nats.connect_component(settings, "telephony")
        stack.push_async_callback(nats.close, connection)
        await nats.ensure_stream(connection.jetstream(), subjects.telephony_stream())

        auth_channel = grpc_client.channel(settings.auth_address)
        stack.push_async_callback(auth_channel.close)
        auth = auth_pb2_grpc.AuthStub(auth_channel)
        revocations = Revocations(retention_for(settings.token_ttl))
        keys = PublicKeyCache(auth, settings.service_token, settings.token_issuer, revocations=revocations)
        stack.push_async_callback(keys.close)  # its refresh task ends before the channel closes
        await keys.wait_until_loaded(KEYS_TIMEOUT_SECONDS)
        await follow_revocations(stack, connection, revocations, from_auth(auth, settings.service_token),
                                 KEYS_TIMEOUT_SECONDS)

        failover: Failover | None = None
        gate: StandbyPbx | None = None
        pbx: Pbx
        if settings.telephony_failover:
            # One active instance per PBX, the others standing by: see service_layer/failover.py.
            lease_bucket = await open_bucket(connection.jetstream(), settings.telephony_lease_ttl_seconds)
            lease = NatsPbxLease(lease_bucket, lease_key(settings.pbx), new_holder_id())
            log.info("PBX failover on: standing by until this instance holds the PBX lease",
                     extra={"holder": lease.holder_id, "ttl_s": settings.telephony_lease_ttl_seconds})
            pbx = gate = StandbyPbx(lambda: create_pbx(settings)[0], "ami",
                                    lambda: failover.detail if failover is not None else "standby",
                                    lambda: failover is not None and failover.active)
            simulator = None
        else:
            pbx, simulator = create_pbx(settings)
        directory = Directory()
        # Phone events are the hot path: written in order at once, JetStream's acks checked behind.
        publisher = NatsEventPublisher(connection, telephony_event_message, confirm=False)
        stack.push_async_callback(publisher.close)

        def uow() -> SqlTelephonyUnitOfWork:
            return SqlTelephonyUnitOfWork(engine)

        deps = Dependencies(uow, pbx, publisher, directory)
        calls, user_services, agents = CallService(deps), UserServicesService(deps), AgentService(deps)

        async def lines_changed() -> None:
            await pbx.set_lines(directory.numbers())

        source = AuthDirectory(auth, grpc_client.service_metadata(settings.service_token), connection)
        stack.push_async_callback(source.close)
        await load_and_follow(directory, source, lines_changed)
        await calls.load()
        await agents.load()
        await calls.start_recording()
        stack.push_async_callback(calls.stop_recording)

        health = StandbyHealth([TELEPHONY_SERVICE]) if gate is not None else HealthServicer()
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
        if gate is not None:
            assert isinstance(health, StandbyHealth)
            failover = start_failover(lease, settings, gate, health, calls, agents)
            stack.push_async_callback(failover.close)  # before the PBX closes: steps down, releases the lease
            interceptors.append(StandbyInterceptor([TELEPHONY_SERVICE], lambda: failover is not None
                                                   and failover.active, [f"/{TELEPHONY_SERVICE}/GetPbxState"]))

        services = [GrpcService(TELEPHONY_SERVICE, lambda server: telephony_pb2_grpc.add_TelephonyServicer_to_server(
            TelephonyApi(calls, user_services, agents, pbx), server))]
        policy = dict(TELEPHONY_POLICY)
        if simulator is not None:
            api = SimulatorApi(simulator)
            services.append(GrpcService(SIMULATOR_SERVICE, lambda server: telephony_pb2_grpc
                                        .add_SimulatorServicer_to_server(api, server)))
            policy.update(SIMULATOR_POLICY)
        interceptor = EdgeInterceptor(policy, Authenticator(settings.service_token, keys.verifier))
        await serve_grpc(settings, "telephony", services, [interceptor, *interceptors], stopping, health)


def start_failover(lease: NatsPbxLease, settings: Settings, gate: StandbyPbx, health: StandbyHealth,
                   calls: CallService, agents: AgentService) -> Failover:
    """Take the PBX when the lease is ours: what lives in the database is read again (push
    registrations, agents: the previous active may have changed them), then the PBX connection
    resynchronises calls, lines and agent states; let it go when the lease is lost."""

    async def activate() -> None:
        for reload in (calls.load, agents.load):
            try:
                await reload()
            except Exception:
                log.exception("activation: %s failed (kept what was loaded)", reload.__qualname__)
        await gate.activate()
        await health.set_active(True)

    async def deactivate(detail: str) -> None:
        await health.set_active(False)
        await gate.deactivate(detail)

    failover = Failover(lease, ttl_seconds=settings.telephony_lease_ttl_seconds, activate=activate,
                        deactivate=deactivate)
    failover.start()
    return failover


if __name__ == "__main__":
    run("telephony", main)
