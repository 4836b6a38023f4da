"""SQL storage of the favorites kept apart from what they name (`contacts_favorites`): one short
transaction per call. Adding a favorite twice, even by two requests at once, stores one row: the
primary key (owner, source, contact id) skips the second insert without an error."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.contacts.adapters.contact_tables import contacts_favorites as table
from xuc.runtime.db import SqlUnitOfWork


class _Transaction(SqlUnitOfWork):
    """One transaction (SqlUnitOfWork: a lost database is Unreachable) on a bare connection."""

    connection: AsyncConnection

    def _bind(self, connection: AsyncConnection) -> None:
        self.connection = connection


class SqlFavorites:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _key(self, owner_id: str, source: str, contact_id: str) -> dict[str, str]:
        return {"owner_id": owner_id, "source": source, "contact_id": contact_id}

    async def add(self, owner_id: str, source: str, contact_id: str) -> bool:
        insert_of = sqlite.insert if self._engine.dialect.name == "sqlite" else postgresql.insert
        statement = (insert_of(table).values(**self._key(owner_id, source, contact_id)).on_conflict_do_nothing()
                     .execution_options(preserve_rowcount=True))
        async with _Transaction(self._engine) as transaction:
            added = (await transaction.connection.execute(statement)).rowcount > 0
            await transaction.commit()
        return bool(added)

    async def remove(self, owner_id: str, source: str, contact_id: str) -> bool:
        statement = delete(table).where(table.c.owner_id == owner_id, table.c.source == source,
                                        table.c.contact_id == contact_id)
        async with _Transaction(self._engine) as transaction:
            removed = (await transaction.connection.execute(statement)).rowcount > 0
            await transaction.commit()
        return bool(removed)

    async def contact_ids(self, owner_id: str, source: str) -> set[str]:
        query = select(table.c.contact_id).where(table.c.owner_id == owner_id, table.c.source == source)
        async with _Transaction(self._engine) as transaction:
            return set((await transaction.connection.execute(query)).scalars())
