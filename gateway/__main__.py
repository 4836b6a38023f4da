"""Composition root of the gateway process: `python -m gateway`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack

import uvicorn

from gateway.app import GatewayConfig, create_app
from gateway.cti.endpoint import CtiEndpoint, CtiLimits
from gateway.cti.hub import EventHub
from gateway.cti.session import Backends
from gateway.http_protocol import HeadLimits, limited_protocol
from xuc.runtime import bootstrap, grpc_client
from xuc.runtime.process import freeze_startup_objects, remove_ready_file, run, stop_signal, write_ready_file
from xuc.runtime.settings import Settings, SettingsError
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2_grpc

log = logging.getLogger("gateway")
# Above gRPC's default 4 MiB: a list of contacts without `limit` is one message (~140 bytes a
# contact with every field, so 64 MiB is some 480,000). An import's report comes in parts of
# ~2 MB at most (it was one message, hence no bound at all before).
CONTACTS_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CONTACTS_CHANNEL_OPTIONS = (("grpc.max_receive_message_length", CONTACTS_MAX_MESSAGE_BYTES),)
GC_THRESHOLDS = (7000, 10, 10)  # CPython's defaults: (700, 10, 10)


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: it re-raises the signal once it has served, which
    would kill the process before the composition root unwinds. Our `stop_signal` drives it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """The HTTP socket, bound here rather than by uvicorn so that replicas may share the port:
    with `reuse_port` (XUC_HTTP_REUSE_PORT, set by `xuc up --replicas`), every gateway bound to it
    gets its own accept queue and the kernel spreads new connections over them."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                            flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


async def main(settings: Settings) -> None:
    stopping = stop_signal()
    if not settings.auth_address:
        raise SettingsError("XUC_AUTH_ADDRESS is required (host:port of the auth service)")
    if not settings.contacts_address:
        raise SettingsError("XUC_CONTACTS_ADDRESS is required (host:port of the contacts service)")
    async with AsyncExitStack() as stack:
        # The NATS connection closes last: the revocation follower stops before it.
        events = await bootstrap.connect_events(stack, settings, "gateway")
        connection = events.connection
        auth = await bootstrap.connect_auth(stack, settings, connection)
        # Not awaited: the gateway serves auth while contacts is down (its routes answer 503).
        contacts_channel = grpc_client.channel(settings.contacts_address, options=CONTACTS_CHANNEL_OPTIONS)
        stack.push_async_callback(contacts_channel.close)

        telephony = None
        if settings.telephony_address:  # not awaited either: its routes answer 503 while it is down
            # Balanced over the instances whose Telephony is SERVING: a standby's is not.
            telephony_channel = grpc_client.channel(settings.telephony_address,
                                                    health_service=grpc_client.TELEPHONY_HEALTH_SERVICE)
            stack.push_async_callback(telephony_channel.close)
            telephony = telephony_pb2_grpc.TelephonyStub(telephony_channel)
        else:
            log.warning("XUC_TELEPHONY_ADDRESS is not set: the 1.0 API and push registration answer 503")

        config = GatewayConfig(settings.service_token, settings.cors_origins, settings.max_body_bytes,
                               settings.max_import_bytes, deprecated_api_hosts=settings.deprecated_api_hosts,
                               trusted_proxies=settings.trusted_proxies,
                               body_timeout_seconds=settings.body_timeout_seconds)
        log.info("1.0 API clients", extra={"allowed": ",".join(config.deprecated_api_hosts) or "none",
                                           "trusted_proxies": ",".join(config.trusted_proxies) or "none"})
        # The CTI WebSocket: one subscription per kind of event for all the sockets (gateway/cti/hub.py).
        hub = EventHub(connection)
        await hub.start()
        stack.push_async_callback(hub.close)
        personal_contacts = contacts_pb2_grpc.PersonalContactsStub(contacts_channel)
        cti_limits = CtiLimits(send_queue=settings.cti_send_queue, max_frame_bytes=settings.cti_max_frame_bytes,
                               commands_per_second=settings.cti_commands_per_second,
                               command_burst=2 * int(settings.cti_commands_per_second))
        backends = Backends(auth.stub, telephony, contacts_pb2_grpc.DirectoryStub(contacts_channel),
                            grpc_client.service_metadata(settings.service_token))
        cti = CtiEndpoint(hub, auth.keys, backends, cti_limits)
        server = _Server(uvicorn.Config(
            create_app(config, auth.stub, auth.keys, personal_contacts,
                       contacts_pb2_grpc.QualificationsStub(contacts_channel), telephony, cti),
            host=settings.http_host,
            port=settings.http_port,
            # httptools (the fastest parser uvicorn offers), with bounds on request heads and idle
            # connections that uvicorn lacks (gateway/http_protocol.py)
            http=limited_protocol(HeadLimits(settings.max_header_bytes, settings.header_timeout_seconds,
                                             settings.keep_alive_timeout_seconds)),
            log_config=None,  # our logging configuration stays in force
            access_log=False,
            timeout_graceful_shutdown=10,
            server_header=False,
            # X-Forwarded-For is not trusted by uvicorn: the client address stays the peer's, and the
            # 1.0 API reads the header itself, from XUC_TRUSTED_PROXIES only (gateway/client_address.py).
            proxy_headers=False,
            ws="websockets-sansio",
            ws_max_size=settings.cti_max_frame_bytes,  # a bigger frame: closed with 1009 (message too big)
        ))
        listening = stack.enter_context(_listening_socket(settings.http_host, settings.http_port,
                                                          settings.http_reuse_port))
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no "started" event)
            await asyncio.sleep(0.05)
        if server.started:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            log.info("gateway serving HTTP", extra={"address": f"{host}:{port}"})
            # Its metrics are served on the same port, at /metrics.
            write_ready_file(settings.ready_file, http=f"{host}:{port}", metrics=f"{host}:{port}")
            freeze_startup_objects()
            # Each open CTI socket keeps some 150 objects alive (its coroutines, queue, session):
            # with thousands open, a full collection at the default thresholds scans them every few
            # seconds and stops serving for 100+ ms (benchmarks/cti.py, docs/performance.md).
            # Collect the young generation ten times less often; cycles are rare on our paths.
            gc.set_threshold(*GC_THRESHOLDS)
        # On SIGTERM/SIGINT uvicorn stops accepting, finishes in-flight requests, then returns.
        await asyncio.wait([serving, asyncio.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        remove_ready_file(settings.ready_file)


if __name__ == "__main__":
    run("gateway", main)
