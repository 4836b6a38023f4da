"""Shared fixtures: real processes (nats-server, our services) and real databases.

    nats_server        session  "nats://127.0.0.1:<port>" of a JetStream nats-server on a free port.
                                One for the whole run: tests must not rely on streams being empty
                                (use unique subjects/logins per test).
    database_backend   module   "sqlite" or "postgresql": modules using a database run once per
                                backend; PostgreSQL is skipped unless XUC_TEST_DATABASE_URL is set
                                (failed instead on CI, CI=true).
    database_factory   module   DatabaseFactory: `.create()` gives one more fresh TestDatabase of that
                                backend (a SQLite file, or a new PostgreSQL schema dropped at teardown).
    module_database    module   a TestDatabase for the module (`.url`, `.table_names()`).
    database_url       module   module_database.url, what XUC_DATABASE_URL is set to.
    nats_client        function a nats-py connection to `nats_server` (closed at teardown); JetStream
                                through `nats_client.jetstream()`.
    service_launcher   function ServiceLauncher: start more service processes in a test; every process
                                still running is stopped (SIGTERM, exit code 0 asserted) at teardown.
    auth_service       module   a running `python -m services.auth` (ServiceProcess: `.grpc_address`,
                                `.service_token`, `.data_dir`, `.log()`), on `database_url`.

Process helpers live in tests/support/processes.py, database helpers in tests/support/databases.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from tests.support.databases import (
    POSTGRES_URL_VARIABLE,
    POSTGRESQL,
    SQLITE,
    DatabaseFactory,
    TestDatabase,
    postgres_admin_url,
)
from tests.support.processes import NatsServer, ServiceLauncher, ServiceProcess
from tests.support.requirements import missing_tool

DATABASE_BACKENDS = [
    pytest.param(SQLITE, id=SQLITE),
    pytest.param(
        POSTGRESQL,
        id=POSTGRESQL,
        marks=[pytest.mark.postgres],
    ),
]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client URL of a nats-server with JetStream, listening on a free loopback port."""
    server = NatsServer.start(tmp_path_factory.mktemp("nats"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def nats_client(nats_server: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_server, name="xuc-tests", max_reconnect_attempts=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend == POSTGRESQL and not postgres_admin_url():
        missing_tool("PostgreSQL variant: no server given",
                     f"set {POSTGRES_URL_VARIABLE}=postgresql://user@host:port/db to run it")
    return backend


@pytest.fixture(scope="module")
def database_factory(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(database_backend, tmp_path_factory.mktemp(f"db-{database_backend}"))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_database(database_factory: DatabaseFactory) -> TestDatabase:
    return database_factory.create()


@pytest.fixture(scope="module")
def database_url(module_database: TestDatabase) -> str:
    return module_database.url


@pytest.fixture
def service_launcher(nats_server: str, tmp_path: Path) -> Iterator[ServiceLauncher]:
    """Start service processes within one test; they are stopped (and checked) at its teardown."""
    with ServiceLauncher(nats_server, tmp_path) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def auth_service(
    nats_server: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The auth service, shared by a module's tests (per database backend): use unique logins.

    Stopped at teardown, before its database is dropped; a dirty exit fails the last test's teardown.
    """
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("auth")) as launcher:
        yield launcher.start("services.auth", "auth", database_url=database_url)
