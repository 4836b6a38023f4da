"""Every `/auth/*` route of the gateway when auth is down (503 `Unreachable`) and when auth fails
(an auth answering INTERNAL: 500 `UnhandledError`), with the exact documented bodies.

The gateway process runs against a scripted auth: a grpc.aio server in a thread of the test that
passes the token keys and the revocations through to a real auth process (the gateway needs them
to start and to verify tokens) and answers INTERNAL to Login, Check and SsoLogin. A second gateway
talks to a scripted auth that is stopped once the gateway is ready: auth down.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest

from tests.support.http_errors import UNHANDLED_MESSAGE, UNREACHABLE_MESSAGE, assert_error_body
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_edge import AUTHORIZATION_METADATA, SERVICE_TOKEN_METADATA
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

BASE = "/xuc/api/2.0"
LOGIN, PASSWORD = "failing.auth", "failing-auth-secret"
FORWARDED_METADATA = (SERVICE_TOKEN_METADATA, AUTHORIZATION_METADATA, "x-request-id")

# Each /auth/* route with a request that reaches auth (not refused by the gateway before).
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", f"{BASE}/auth/login", {"json": {"login": LOGIN, "password": PASSWORD}}),
    ("GET", f"{BASE}/auth/check", {}),  # with a valid token (added by the test)
    ("GET", f"{BASE}/auth/sso", {"headers": {"Authorization": f"Negotiate {base64.b64encode(b'spnego').decode()}"}}),
    ("GET", f"{BASE}/auth/cas", {"params": {"service": "https://app.example", "ticket": "ST-1-abc"}}),
    ("GET", f"{BASE}/auth/oidc", {"params": {"token": "eyJ.e30.sig"}}),
    ("GET", f"{BASE}/auth/oidc", {"headers": {"Authorization": "Bearer eyJ.e30.sig"}}),
]
ROUTE_IDS = ["login", "check", "sso", "cas", "oidc-query", "oidc-bearer"]


class ScriptedAuth(auth_pb2_grpc.AuthServicer):
    """The token keys and revocations of the real auth; INTERNAL for what the /auth/* routes call."""

    def __init__(self, real_address: str) -> None:
        self.real_address = real_address
        self.calls: list[str] = []
        self._real: auth_pb2_grpc.AuthStub | None = None

    def _stub(self) -> auth_pb2_grpc.AuthStub:
        if self._real is None:  # made in the server's event loop
            self._real = auth_pb2_grpc.AuthStub(grpc.aio.insecure_channel(self.real_address))
        return self._real

    @staticmethod
    def _metadata(context: grpc.aio.ServicerContext) -> list[tuple[str, str]]:
        return [(key, value) for key, value in context.invocation_metadata() or ()
                if key in FORWARDED_METADATA and isinstance(value, str)]

    async def GetPublicKeys(self, request: auth_pb2.GetPublicKeysRequest,
                            context: grpc.aio.ServicerContext) -> auth_pb2.PublicKeySet:
        reply: auth_pb2.PublicKeySet = await self._stub().GetPublicKeys(request, metadata=self._metadata(context))
        return reply

    async def ListRevocations(self, request: auth_pb2.ListRevocationsRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[auth_pb2.Revocations]:
        async for revocations in self._stub().ListRevocations(request, metadata=self._metadata(context)):
            yield revocations

    async def _fail(self, name: str, context: grpc.aio.ServicerContext) -> Any:
        self.calls.append(name)
        await context.abort(grpc.StatusCode.INTERNAL, "scripted: auth failed (a secret detail: db password x)")

    async def Login(self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._fail("Login", context)

    async def Check(self, request: auth_pb2.CheckRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._fail("Check", context)

    async def SsoLogin(self, request: auth_pb2.SsoLoginRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._fail("SsoLogin", context)


class ScriptedAuthServer:
    """ScriptedAuth on a free loopback port, served by grpc.aio in a thread with its own event loop."""

    def __init__(self, real_address: str) -> None:
        self.auth = ScriptedAuth(real_address)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="scripted-auth", daemon=True)
        self.server: grpc.aio.Server | None = None
        self.address = ""

    async def _start(self) -> int:
        self.server = grpc.aio.server()
        auth_pb2_grpc.add_AuthServicer_to_server(self.auth, self.server)
        port: int = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    def start(self) -> ScriptedAuthServer:
        self.thread.start()
        self.address = f"127.0.0.1:{asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)}"
        return self

    def stop_serving(self) -> None:
        """Auth down: connections refused from now on."""
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(30)
            self.server = None

    def close(self) -> None:
        self.stop_serving()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


# --- processes ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def launcher(nats_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("gateway-auth-errors")) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def real_auth(launcher: ServiceLauncher) -> ServiceProcess:
    auth = launcher.start("services.auth", "auth", database_url=f"sqlite:///{launcher.base_dir / 'auth.db'}",
                          service_token=new_service_token())
    with grpc.insecure_channel(auth.grpc_address) as channel:
        auth_pb2_grpc.AuthStub(channel).CreateUser(auth_pb2.CreateUserRequest(login=LOGIN, password=PASSWORD),
                                                   metadata=service_metadata(auth.service_token), timeout=30)
    return auth


@pytest.fixture(scope="module")
def user_token(real_auth: ServiceProcess) -> str:
    """A valid token of the user, from the real auth: it passes the gateway's own verification."""
    with grpc.insecure_channel(real_auth.grpc_address) as channel:
        reply = auth_pb2_grpc.AuthStub(channel).Login(auth_pb2.LoginRequest(login=LOGIN, password=PASSWORD),
                                                      metadata=service_metadata(real_auth.service_token), timeout=30)
    token: str = reply.token
    return token


def start_gateway(launcher: ServiceLauncher, auth: ServiceProcess, auth_address: str, name: str) -> str:
    data_dir = launcher.base_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    gateway = ServiceProcess.start("gateway", name, data_dir, {
        "XUC_DATA_DIR": str(data_dir),
        "XUC_SERVICE_TOKEN": auth.service_token,
        "XUC_AUTH_ADDRESS": auth_address,
        "XUC_CONTACTS_ADDRESS": "127.0.0.1:9",  # not used by these routes
        "XUC_NATS_URL": launcher.nats_url,
        "XUC_HTTP_HOST": "127.0.0.1",
        "XUC_HTTP_PORT": "0",
        "XUC_READY_FILE": str(data_dir / "gateway.json"),
        "PYTHONUNBUFFERED": "1",
    })
    launcher.started.append(gateway)
    return f"http://{gateway.ready['http']}"


@pytest.fixture(scope="module")
def failing_auth(real_auth: ServiceProcess) -> Iterator[ScriptedAuthServer]:
    server = ScriptedAuthServer(real_auth.grpc_address).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def failing_gateway(launcher: ServiceLauncher, real_auth: ServiceProcess, failing_auth: ScriptedAuthServer) -> str:
    return start_gateway(launcher, real_auth, failing_auth.address, "gateway-auth-failing")


@pytest.fixture(scope="module")
def down_gateway(launcher: ServiceLauncher, real_auth: ServiceProcess) -> Iterator[str]:
    auth = ScriptedAuthServer(real_auth.grpc_address).start()
    try:
        url = start_gateway(launcher, real_auth, auth.address, "gateway-auth-down")  # ready: keys loaded
        auth.stop_serving()
        yield url
    finally:
        auth.close()


def call(url: str, token: str, method: str, path: str, options: dict[str, Any]) -> httpx.Response:
    headers = dict(options.get("headers", {}))
    if path.endswith("/check"):
        headers["X-Auth-Token"] = token
    with httpx.Client(base_url=url, timeout=60.0) as client:
        return client.request(method, path, json=options.get("json"), params=options.get("params"), headers=headers)


# --- the tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "options"), ROUTES, ids=ROUTE_IDS)
def test_an_auth_route_answers_503_unreachable_when_auth_is_down(
    down_gateway: str, user_token: str, method: str, path: str, options: dict[str, Any],
) -> None:
    assert_error_body(call(down_gateway, user_token, method, path, options), 503, "Unreachable", UNREACHABLE_MESSAGE)


@pytest.mark.parametrize(("method", "path", "options"), ROUTES, ids=ROUTE_IDS)
def test_an_auth_route_answers_500_when_auth_fails(
    failing_gateway: str, failing_auth: ScriptedAuthServer, user_token: str, method: str, path: str,
    options: dict[str, Any],
) -> None:
    calls_before = len(failing_auth.auth.calls)

    response = call(failing_gateway, user_token, method, path, options)

    # The documented code of the auth section, and a message that tells nothing of the internals.
    assert_error_body(response, 500, "UnhandledError", UNHANDLED_MESSAGE)
    assert len(failing_auth.auth.calls) > calls_before, "the request did not reach auth"
