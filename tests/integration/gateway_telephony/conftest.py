"""Fixtures of the gateway's telephony tests: per module, a real auth process, the fake telephony
service and the gateway (`python -m gateway`) in front of them; per test, the fake reset and HTTP clients.

Addresses: the gateway listens on 127.0.0.1 and DEPRECATED_API_HOST is 127.0.0.1; a client bound to
127.0.0.2 is "another host". A second gateway trusts 127.0.0.2 as a proxy (XUC_TRUSTED_PROXIES) and
allows only clients of 10.1.2.0/24 and 2001:db8::/32, which can only reach it through that proxy.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest

from tests.support.gateway_telephony import PASSWORD, FakeServer, FakeTelephony, Gateway, client_from, start_gateway
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_edge import Authenticator
from xuc.security.tokens import TokenVerifier, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc


@pytest.fixture(scope="module")
def launcher(nats_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("gateway-telephony")) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def auth(launcher: ServiceLauncher) -> ServiceProcess:
    auth = launcher.start("services.auth", "auth", database_url=f"sqlite:///{launcher.base_dir / 'auth.db'}",
                          service_token=new_service_token())
    with grpc.insecure_channel(auth.grpc_address) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        for login in ("tel.alice", "tel.bob"):
            stub.CreateUser(auth_pb2.CreateUserRequest(login=login, password=PASSWORD),
                            metadata=service_metadata(auth.service_token), timeout=10)
    return auth


@pytest.fixture(scope="module")
def telephony_server(auth: ServiceProcess) -> Iterator[FakeServer]:
    """Trusts what the real services trust: auth's service token, and tokens signed with auth's keys."""
    with grpc.insecure_channel(auth.grpc_address) as channel:
        keys = auth_pb2_grpc.AuthStub(channel).GetPublicKeys(auth_pb2.GetPublicKeysRequest(),
                                                             metadata=service_metadata(auth.service_token),
                                                             timeout=10)
    verifier = TokenVerifier("xuc", [load_public_key(key.pem) for key in keys.keys])
    server = FakeServer(FakeTelephony(), Authenticator(auth.service_token, verifier)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(launcher: ServiceLauncher, auth: ServiceProcess, telephony_server: FakeServer) -> Gateway:
    url = start_gateway(launcher, auth, telephony_server.address, "gateway", DEPRECATED_API_HOST="127.0.0.1")
    tokens = {}
    with httpx.Client(base_url=url, timeout=15.0) as client:
        for login in ("tel.alice", "tel.bob"):
            answer = client.post("/xuc/api/2.0/auth/login", json={"login": login, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[login] = answer.json()["token"]
    return Gateway(url, tokens)


@pytest.fixture
def fake(telephony_server: FakeServer) -> FakeTelephony:
    """The fake, having forgotten every script and call."""
    telephony_server.fake.reset()
    return telephony_server.fake


@pytest.fixture
def api(gateway: Gateway, fake: FakeTelephony) -> Iterator[httpx.Client]:
    """A client of an allowed host (127.0.0.1), without any token."""
    with client_from(gateway.url, "127.0.0.1") as client:
        yield client


@pytest.fixture
def stranger(gateway: Gateway, fake: FakeTelephony) -> Iterator[httpx.Client]:
    """A client of another host (127.0.0.2)."""
    with client_from(gateway.url, "127.0.0.2") as client:
        yield client


@pytest.fixture(scope="module")
def proxied_gateway(launcher: ServiceLauncher, auth: ServiceProcess, telephony_server: FakeServer) -> str:
    """Allows 10.1.2.0/24 and 2001:db8::/32, trusting 127.0.0.2 as a proxy; 127.0.0.1 is neither."""
    return start_gateway(launcher, auth, telephony_server.address, "gateway-proxied",
                         DEPRECATED_API_HOST="10.1.2.0/24, 2001:db8::/32", XUC_TRUSTED_PROXIES="127.0.0.2")
