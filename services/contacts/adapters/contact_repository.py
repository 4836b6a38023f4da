"""SQL storage of personal contacts, and the unit of work the use cases run in.

Every read and every change of one contact sees visible rows only (`import_id IS NULL`); rows of
an import in progress are written with `add_pending` and become visible with one UPDATE.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contacts.adapters.contact_tables import personal_contacts as table
from services.contacts.domain.contacts import (
    TEXT_FIELDS,
    Contact,
    ContactFields,
    ContactKeys,
    ContactQuery,
    KeyedContact,
    contact_keys,
)
from services.contacts.domain.errors import DuplicateContact
from services.contacts.domain.ports import PageCursor
from xuc.runtime.db import SqlUnitOfWork

VISIBLE = table.c.import_id.is_(None)
LIST_ORDER = (table.c.sort_key, table.c.id)
DUPLICATE_MESSAGE = "The same contact already exists"
# What `_to_contact` reads, in this order (reads skip the derived keys and timestamps).
CONTACT_COLUMNS = (table.c.id, table.c.owner_id, *(table.c[name] for name in TEXT_FIELDS), table.c.favorite)


def _to_contact(row: Any) -> Contact:
    # Positional, as CONTACT_COLUMNS and ContactFields order them: attribute access on a Row was
    # the larger part of a 100,000-contact export.
    contact_id, owner_id, firstname, lastname, number, mobile, fax, email, company, favorite = row[:10]
    return Contact(contact_id, owner_id,
                   ContactFields(firstname, lastname, number, mobile, fax, email, company, bool(favorite)))


def _columns(contact: Contact) -> dict[str, Any]:
    fields = contact.fields
    return {
        **{name: getattr(fields, name) for name in TEXT_FIELDS},
        "favorite": fields.favorite,
        "owner_id": contact.owner_id,
        **contact_keys(fields)._asdict(),
    }


PENDING_COLUMNS = ("id", "owner_id", *TEXT_FIELDS, "favorite", *ContactKeys._fields, "import_id")


_SKIP_DUPLICATES = "ON CONFLICT (owner_id, identity) DO NOTHING"
# SQLite: rows from a JSON array of arrays; "WHERE true" tells its parser the ON CONFLICT belongs to
# the INSERT. json_extract rather than ->> (SQLite 3.38+) for older SQLite builds.
_JSON_ROW_VALUES = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(PENDING_COLUMNS)))
_INSERT_PENDING_JSON = (f"INSERT INTO {table.name} ({', '.join(PENDING_COLUMNS)}) "
                        f"SELECT {_JSON_ROW_VALUES} FROM json_each(?) WHERE true {_SKIP_DUPLICATES}")


@functools.cache
def _insert_pending_sql(dialect: Dialect) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    return (f"INSERT INTO {table.name} ({', '.join(PENDING_COLUMNS)}) "
            f"VALUES ({', '.join([marker] * len(PENDING_COLUMNS))}) {_SKIP_DUPLICATES}")


def _owned(owner_id: str) -> ColumnElement[bool]:
    return and_(table.c.owner_id == owner_id, VISIBLE)


class SqlContactRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, owner_id: str, contact_id: str) -> Contact | None:
        query = select(*CONTACT_COLUMNS).where(table.c.id == contact_id, _owned(owner_id))
        row = (await self._connection.execute(query)).first()
        return _to_contact(row) if row else None

    async def add(self, contact: Contact) -> None:
        await self._write_unique(table.insert().values(id=contact.id, **_columns(contact)))

    async def update(self, contact: Contact) -> bool:
        statement = (update(table).where(table.c.id == contact.id, _owned(contact.owner_id))
                     .values(**_columns(contact), updated_at=func.now()))
        return await self._write_unique(statement) > 0

    async def _write_unique(self, statement: Any) -> int:
        """Run a write the unique index (owner, identity) may refuse: that is a DuplicateContact."""
        try:
            async with self._connection.begin_nested():
                result = await self._connection.execute(statement)
        except IntegrityError:
            raise DuplicateContact(DUPLICATE_MESSAGE) from None
        return int(result.rowcount)

    async def delete(self, owner_id: str, contact_id: str) -> bool:
        result = await self._connection.execute(delete(table).where(table.c.id == contact_id, _owned(owner_id)))
        return int(result.rowcount) > 0

    async def delete_all(self, owner_id: str) -> int:
        result = await self._connection.execute(delete(table).where(_owned(owner_id)))
        return int(result.rowcount)

    async def search(self, owner_id: str, query: ContactQuery) -> tuple[list[Contact], int]:
        conditions = [_owned(owner_id)]
        if query.terms:
            # contains(autoescape) escapes % and _ in the term: a search is a plain substring.
            conditions.append(or_(*(table.c.search_text.contains(term, autoescape=True) for term in query.terms)))
        total = (await self._connection.execute(select(func.count()).select_from(table).where(*conditions))).scalar()
        page = select(*CONTACT_COLUMNS).where(*conditions).order_by(*LIST_ORDER).offset(query.offset or None)
        if query.limit:
            page = page.limit(query.limit)
        rows = await self._connection.execute(page)
        return [_to_contact(row) for row in rows], int(total or 0)

    async def all_visible(self, owner_id: str, limit: int) -> list[Contact]:
        query = select(*CONTACT_COLUMNS).where(_owned(owner_id)).order_by(*LIST_ORDER).limit(limit)
        return [_to_contact(row) for row in await self._connection.execute(query)]

    async def page_after(
        self, owner_id: str, after: PageCursor | None, size: int
    ) -> tuple[list[Contact], PageCursor | None]:
        query = select(*CONTACT_COLUMNS, table.c.sort_key).where(_owned(owner_id)).order_by(*LIST_ORDER).limit(size)
        if after is not None:
            after_key, after_id = after
            query = query.where(or_(table.c.sort_key > after_key,
                                    and_(table.c.sort_key == after_key, table.c.id > after_id)))
        rows = (await self._connection.execute(query)).all()
        cursor = (rows[-1][-1], rows[-1][0]) if rows else None  # (sort_key, id) of the last row
        return [_to_contact(row) for row in rows], cursor

    async def add_pending(self, import_id: str, contacts: Sequence[KeyedContact]) -> set[str]:
        if not contacts:
            return set()
        # A row the unique index refuses (a duplicate) is skipped; only when some were skipped do we
        # read back which ids of the batch were stored (RETURNING on every row cost more).
        rows = [(contact.id, contact.owner_id, *contact.fields.texts(), contact.fields.favorite,
                 *keys, import_id) for contact, keys in contacts]
        dialect = self._connection.dialect
        if dialect.name == "sqlite":
            # The whole batch as ONE parameter (a JSON array) that SQLite unpacks itself: the
            # driver then releases the GIL for the batch instead of once per row, and the service
            # goes on parsing the next batch in parallel. With executemany, each row's return to
            # Python waited for the GIL the parser held (up to 5 ms a row: a convoy).
            result = await self._connection.exec_driver_sql(_INSERT_PENDING_JSON, (json.dumps(rows),))
        else:
            result = await self._connection.exec_driver_sql(_insert_pending_sql(dialect), rows)
        ids = [contact.id for contact, _ in contacts]
        if result.rowcount == len(rows):
            return set(ids)
        stored = await self._connection.execute(select(table.c.id).where(table.c.import_id == import_id,
                                                                         table.c.id.in_(ids)))
        return set(stored.scalars())

    async def publish_import(self, import_id: str) -> int:
        result = await self._connection.execute(
            update(table).where(table.c.import_id == import_id).values(import_id=None)
        )
        return int(result.rowcount)

    async def discard_import(self, import_id: str) -> int:
        result = await self._connection.execute(delete(table).where(table.c.import_id == import_id))
        return int(result.rowcount)

    async def discard_all_pending(self) -> int:
        result = await self._connection.execute(delete(table).where(table.c.import_id.isnot(None)))
        return int(result.rowcount)


class SqlContactsUnitOfWork(SqlUnitOfWork):
    contacts: SqlContactRepository

    def _bind(self, connection: AsyncConnection) -> None:
        self.contacts = SqlContactRepository(connection)
