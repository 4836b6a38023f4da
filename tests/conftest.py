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

The suite runs on pytest-xdist workers (pyproject's addopts: `-n auto --dist loadfile`), one per
core and at most MAX_WORKERS. A file's tests run together on one worker, so its module fixtures
start once. Each worker is a pytest session of its own: session fixtures (the nats-server, the e2e
`stack`) start once per worker that needs them, on the worker's own temporary directory, free
ports and PostgreSQL schemas. (`--dist loadgroup` would let every file on the e2e `stack` share one
worker, but xdist 3.8 groups by rewriting node ids, which pytest 9 no longer reads.)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from _pytest.nodeid import coerce_node_id
from hypothesis import HealthCheck, settings
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


# --- running in parallel (pytest-xdist) -----------------------------------------------------------
# More workers than this only start more stacks and services at once: the e2e files, which take
# most of the time, do not split further than a few groups.
MAX_WORKERS = 4


# Hypothesis bounds each example by wall-clock time (200 ms deadline, a "too slow" health check on
# data generation): on cores shared by the workers, and by other jobs, a correct test would fail.
settings.register_profile("xuc-tests", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("xuc-tests")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core this process may use, at most MAX_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test a node id of its own. schemathesis names its items `test[GET /path]` but
    leaves them the test function's node id, and xdist hands tests out by node id: all but one of
    the fuzzer's operations would silently not run (36 of 37 did not)."""
    for item in items:
        if not item.nodeid.endswith(f"::{item.name}") and item.parent is not None:
            item._id = coerce_node_id(f"{item.parent.nodeid}::{item.name}")  # private: no public setter


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
