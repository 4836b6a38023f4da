"""Fresh, isolated databases for integration tests: a SQLite file, or a PostgreSQL schema.

PostgreSQL runs only when XUC_TEST_DATABASE_URL names a server we may create schemas in, e.g.
`postgresql://postgres@127.0.0.1:5432/test`. Each database handed out is a new schema
`xuc_test_<hex>`; the URL given to the service selects it with libpq's `options=-csearch_path=...`
(SQLAlchemy passes URL query items to psycopg as connection arguments), so that the service's tables
and its Alembic version table are created there and nowhere else. Schemas are dropped (CASCADE) on
`close()`.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

POSTGRES_URL_VARIABLE = "XUC_TEST_DATABASE_URL"
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def postgres_admin_url() -> str:
    """The PostgreSQL server tests may use, or "" (the PostgreSQL variants are then skipped)."""
    return os.environ.get(POSTGRES_URL_VARIABLE, "").strip()


def with_search_path(url: str, schema: str) -> str:
    """`url` with a libpq `options` query item making `schema` the only schema searched (and written)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


@dataclass(frozen=True)
class TestDatabase:
    """One isolated database: `url` is what a service is given (XUC_DATABASE_URL)."""

    __test__ = False  # not a test class, despite its name

    backend: str
    url: str
    schema: str = ""  # PostgreSQL only
    path: Path | None = None  # SQLite only

    def table_names(self) -> set[str]:
        """The tables that exist in this database (in its schema, for PostgreSQL)."""
        if self.backend == SQLITE:
            assert self.path is not None
            with sqlite3.connect(self.path) as connection:
                rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            return {name for (name,) in rows}
        with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
            rows = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
            ).fetchall()
        return {name for (name,) in rows}


@dataclass
class DatabaseFactory:
    """Hands out fresh databases of one backend; `close()` drops the PostgreSQL schemas it created."""

    backend: str
    directory: Path
    _schemas: list[str] = field(default_factory=list)

    def create(self) -> TestDatabase:
        name = f"xuc_test_{secrets.token_hex(6)}"
        if self.backend == SQLITE:
            path = self.directory / f"{name}.db"
            return TestDatabase(SQLITE, f"sqlite:///{path}", path=path)
        if self.backend != POSTGRESQL:
            raise ValueError(f"unknown database backend {self.backend!r}")
        admin_url = postgres_admin_url()
        if not admin_url:
            raise RuntimeError(f"{POSTGRES_URL_VARIABLE} is not set")
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        self._schemas.append(name)
        return TestDatabase(POSTGRESQL, with_search_path(admin_url, name), schema=name)

    def close(self) -> None:
        if not self._schemas:
            return
        with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
            while self._schemas:
                schema = self._schemas.pop()
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
