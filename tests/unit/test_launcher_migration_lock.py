"""Replicas started together migrate their database once: the others wait, then find it at head.

Real processes on a fresh database of each backend (SQLite file; PostgreSQL schema when
XUC_TEST_DATABASE_URL is set), released at the same instant. Without the lock, SQLite fails
("table contacts_personal already exists": the sqlite3 driver runs DDL outside transactions), and
so does PostgreSQL (a duplicate key in pg_type: two transactions creating the same tables).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from services.contacts.__main__ import MIGRATIONS
from tests.support.databases import SQLITE, DatabaseFactory, TestDatabase, postgres_admin_url
from xuc.runtime.db import _switch_to_wal

REPLICAS = 4
VERSION_TABLE = "contacts_alembic_version"
READY_TIMEOUT_SECONDS = 60.0
# Each child imports everything, says it is ready (its file), then waits for the common go.
MIGRATE = """
import sys, time
from pathlib import Path
from xuc.runtime import db
url, migrations, table, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
db._upgrade(url, Path(migrations), table)
"""


def _versions(database: TestDatabase) -> list[str]:
    query = f"SELECT version_num FROM {VERSION_TABLE}"
    if database.backend == SQLITE:
        assert database.path is not None
        with sqlite3.connect(database.path) as connection:
            return [row[0] for row in connection.execute(query)]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        return [row[0] for row in connection.execute(f"SELECT version_num FROM {database.schema}.{VERSION_TABLE}")]


def test_replicas_starting_together_migrate_once(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    database = database_factory.create()
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{index}" for index in range(REPLICAS)]
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE, database.url, str(MIGRATIONS), VERSION_TABLE,
                                   str(ready[index]), str(go)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for index in range(REPLICAS)]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        while not all(path.exists() for path in ready):  # every interpreter started, imported, polling
            exited = [process for process in processes if process.poll() is not None]
            assert not exited, f"a replica exited before the go:\n{exited[0].communicate()[0].decode(errors='replace')}"
            assert time.monotonic() < deadline, f"replicas not ready within {READY_TIMEOUT_SECONDS:.0f} s"
            time.sleep(0.01)
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        raise
    go.touch()
    outputs = [process.communicate(timeout=120)[0].decode(errors="replace") for process in processes]

    assert [process.returncode for process in processes] == [0] * REPLICAS, "\n---\n".join(outputs)
    assert len(_versions(database)) == 1
    assert {"contacts_personal", VERSION_TABLE} <= database.table_names()


class _BusyTwice:
    """A sqlite3 connection whose journal mode change is refused twice, as SQLite does when another
    replica holds the file (it answers at once, without its busy timeout)."""

    def __init__(self) -> None:
        self.attempts = 0

    def execute(self, statement: str) -> None:
        assert statement == "PRAGMA journal_mode=WAL"
        self.attempts += 1
        if self.attempts <= 2:
            raise sqlite3.OperationalError("database is locked")


def test_the_switch_to_wal_is_tried_again_while_the_database_is_locked() -> None:
    connection = _BusyTwice()
    _switch_to_wal(connection)
    assert connection.attempts == 3


def test_another_sqlite_error_is_not_retried() -> None:
    class Broken:
        def execute(self, statement: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(Broken())
