"""Fixtures of the telephony service tests: one telephony process with the PBX simulator per
module and database backend (the ring timeout long, so that no test races it), and a
client of it per test. Tests stay independent with users and line numbers of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.telephony_service import RING_TIMEOUT_SECONDS, Telephony, telephony_client


@pytest.fixture(scope="module")
def telephony_service(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    database: TestDatabase = database_factory.create()
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony")) as launcher:
        yield launcher.start("services.telephony", "telephony", database_url=database.url,
                             service_token=auth_service.service_token,
                             extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address,
                                        "XUC_SIM_RING_TIMEOUT": str(RING_TIMEOUT_SECONDS)})


@pytest.fixture
async def telephony(telephony_service: ServiceProcess, auth_service: ServiceProcess) -> AsyncIterator[Telephony]:
    async with telephony_client(telephony_service, auth_service) as client:
        yield client
