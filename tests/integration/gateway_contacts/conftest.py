"""Fixtures of the gateway's contacts and qualifications tests: per module, the real gateway process
(`python -m gateway`) against a real auth process (tokens are real) and the fake contacts service of
tests/support/fake_contacts_service.py, with users gw.alice and gw.bob logged in; per test, a client
sending gw.alice's token, the fake's scripts and records reset.

What is checked in this folder is the gateway's half of the contract: JSON <-> protobuf for every
route, the user's token forwarded, the error table for every reason, streaming in both directions,
body limits. What the service decides (validation, storage) is tested with the real service in e2e.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_contacts_service import (
    BASE,
    PASSWORD,
    FakeContacts,
    FakeServer,
    Gateway,
    create_user,
    start_gateway,
)
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token


@pytest.fixture(scope="module")
def contacts_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeContacts()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fake(contacts_server: FakeServer) -> FakeContacts:
    return contacts_server.fake


@pytest.fixture(scope="module")
def launcher(nats_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("gateway-contacts")) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def auth(launcher: ServiceLauncher) -> ServiceProcess:
    database = launcher.base_dir / "auth.db"
    return launcher.start("services.auth", "auth", database_url=f"sqlite:///{database}",
                          service_token=new_service_token())


@pytest.fixture(scope="module")
def gateway(launcher: ServiceLauncher, auth: ServiceProcess, contacts_server: FakeServer) -> Gateway:
    url = start_gateway(launcher, auth, contacts_server.address, "gateway")
    tokens = {}
    with httpx.Client(base_url=url, timeout=15.0) as client:
        for login in ("gw.alice", "gw.bob"):
            create_user(auth, login)
            answer = client.post(f"{BASE}/auth/login", json={"login": login, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[login] = answer.json()["token"]
    return Gateway(url, tokens)


@pytest.fixture
def api(gateway: Gateway, fake: FakeContacts) -> Iterator[httpx.Client]:
    """A client sending gw.alice's token; the fake forgets every script and call first."""
    fake.reset()
    headers = {"X-Auth-Token": gateway.tokens["gw.alice"]}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=60.0) as client:
        yield client
