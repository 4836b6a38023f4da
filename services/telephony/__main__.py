"""Composition root of the telephony service process: `python -m services.telephony`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.adapters.auth_directory import AuthDirectory
from services.telephony.adapters.repository import SqlTelephonyUnitOfWork
from services.telephony.adapters.simulator import SimulatedPbx
from services.telephony.adapters.telephony_events import telephony_event_message
from services.telephony.domain.pbx import ConnectionChanged, Pbx, PbxEvent
from services.telephony.entrypoints.simulator_api import SIMULATOR_POLICY, SIMULATOR_SERVICE, SimulatorApi
from services.telephony.entrypoints.telephony_api import TELEPHONY_POLICY, TELEPHONY_SERVICE, TelephonyApi
from services.telephony.service_layer.agents import AgentService
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.dependencies import Dependencies
from services.telephony.service_layer.directory import Directory, load_and_follow
from services.telephony.service_layer.pbx_events import PbxEventRouter
from services.telephony.service_layer.user_services import UserServicesService
from xuc import subjects
from xuc.runtime import db, grpc_client, nats
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.process import GrpcService, run, serve_grpc, stop_signal
from xuc.runtime.settings import Settings, SettingsError
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2_grpc

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
KEYS_TIMEOUT_SECONDS = 30.0
# Health of the PBX connection, next to the services' own: SERVING while connected.
PBX_HEALTH = "xuc.telephony.v1.Pbx"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


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
    stopping = stop_signal()
    async with AsyncExitStack() as stack:
        engine = db.create_engine_for(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await db.migrate(settings.database_url, MIGRATIONS, version_table="telephony_alembic_version")

        connection = await nats.connect(settings.nats_url, name="xuc-telephony")
        stack.push_async_callback(nats.close, connection)
        for stream in subjects.ALL_STREAMS:
            await nats.ensure_stream(connection.jetstream(), stream())

        auth_channel = grpc_client.channel(settings.auth_address)
        stack.push_async_callback(auth_channel.close)
        auth = auth_pb2_grpc.AuthStub(auth_channel)
        keys = PublicKeyCache(auth, settings.service_token, settings.token_issuer)
        await keys.wait_until_loaded(KEYS_TIMEOUT_SECONDS)

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

        health = health_aio.HealthServicer()
        router = PbxEventRouter(calls, agents, user_services)
        stack.push_async_callback(router.close)
        # Stopped first at exit: no PBX event arrives once the history writer has finished.
        stack.push_async_callback(pbx.close)

        async def on_pbx_event(event: PbxEvent) -> None:
            if isinstance(event, ConnectionChanged):
                await health.set(PBX_HEALTH, SERVING if event.connected else NOT_SERVING)
            await router(event)

        await health.set(PBX_HEALTH, SERVING if pbx.connection().connected else NOT_SERVING)
        await pbx.set_lines(directory.numbers())
        # Both adapters announce ConnectionChanged(True) once connected; the router then gives the
        # PBX the stored DND and forwards (again after every reconnection).
        await pbx.start(on_pbx_event)

        services = [GrpcService(TELEPHONY_SERVICE, lambda server: telephony_pb2_grpc.add_TelephonyServicer_to_server(
            TelephonyApi(calls, user_services, agents, pbx), server))]
        policy = dict(TELEPHONY_POLICY)
        if simulator is not None:
            api = SimulatorApi(simulator)
            services.append(GrpcService(SIMULATOR_SERVICE, lambda server: telephony_pb2_grpc
                                        .add_SimulatorServicer_to_server(api, server)))
            policy.update(SIMULATOR_POLICY)
        interceptor = EdgeInterceptor(policy, Authenticator(settings.service_token, keys.verifier))
        await serve_grpc(settings, "telephony", services, [interceptor], stopping, health)


if __name__ == "__main__":
    run("telephony", main)
