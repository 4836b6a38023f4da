"""Fixtures shared by the integration tests of the contacts service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess


def start_contacts(
    launcher: ServiceLauncher, auth: ServiceProcess, database: TestDatabase, **extra_env: str
) -> ServiceProcess:
    """A contacts process trusting `auth`'s keys and sharing its service token."""
    return launcher.start("services.contacts", "contacts", database_url=database.url,
                          service_token=auth.service_token,
                          extra_env={"XUC_AUTH_ADDRESS": auth.grpc_address, **extra_env})


@pytest.fixture(scope="module")
def contacts_database(database_factory: DatabaseFactory) -> TestDatabase:
    return database_factory.create()


@pytest.fixture(scope="module")
def contacts_env() -> dict[str, str]:
    """More environment for the module's contacts process: a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def contacts_service(
    nats_server: str, auth_service: ServiceProcess, contacts_database: TestDatabase,
    tmp_path_factory: pytest.TempPathFactory, contacts_env: dict[str, str],
) -> Iterator[ServiceProcess]:
    """Without XUC_TELEPHONY_ADDRESS (unless `contacts_env` sets it): every phone status is
    NOT_A_LINE (-2), and qualification answers are refused."""
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("contacts")) as launcher:
        yield start_contacts(launcher, auth_service, contacts_database, **contacts_env)
