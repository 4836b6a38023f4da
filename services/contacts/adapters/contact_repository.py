"""SQL storage of personal contacts, and the unit of work the use cases run in.

Every read and every change of one contact sees visible rows only (`import_id IS NULL`); rows of
an import in progress are written with `add_pending` and become visible with one UPDATE. The
idempotency keys of creations and the leases of imports in progress have a table each.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from services.contacts.adapters.contact_tables import contacts_idempotency as keys_table
from services.contacts.adapters.contact_tables import contacts_imports as imports_table
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
from services.contacts.domain.idempotency import IdempotentCreation
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


@functools.cache
def _insert_unless_taken(dialect_name: str, target: Table, *unique: str) -> Insert:
    """INSERT of one row (its values given at execution), skipped without an error when the
    unique columns `unique` already hold its values; PostgreSQL and SQLite, the two databases this
    service runs on, both take ON CONFLICT DO NOTHING. The rowcount (1 or 0) tells which:
    SQLAlchemy reads it for an INSERT only when asked to (`preserve_rowcount`). Built once per
    dialect: a statement built per call costs more than its execution (SQLAlchemy's coercions and
    cache key)."""
    insert_of = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    return (insert_of(target).on_conflict_do_nothing(index_elements=[target.c[name] for name in unique])
            .execution_options(preserve_rowcount=True))


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
        # The unique index (owner, identity) skips a duplicate rather than failing: no savepoint.
        statement = _insert_unless_taken(self._connection.dialect.name, table, "owner_id", "identity")
        if (await self._connection.execute(statement, {"id": contact.id, **_columns(contact)})).rowcount == 0:
            raise DuplicateContact(DUPLICATE_MESSAGE)

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

    async def set_favorite(self, owner_id: str, contact_id: str, favorite: bool) -> bool:
        # Conditional: of two requests at once, the second finds nothing left to change.
        statement = (update(table).where(table.c.id == contact_id, _owned(owner_id), table.c.favorite != favorite)
                     .values(favorite=favorite, updated_at=func.now()))
        return int((await self._connection.execute(statement)).rowcount) > 0

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

    async def favorites(self, owner_id: str, limit: int) -> list[Contact]:
        query = (select(*CONTACT_COLUMNS).where(_owned(owner_id), table.c.favorite.is_(True))
                 .order_by(*LIST_ORDER).limit(limit))
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

    async def discard_unregistered_pending(self) -> int:
        registered = exists().where(imports_table.c.import_id == table.c.import_id)
        result = await self._connection.execute(delete(table).where(table.c.import_id.isnot(None), ~registered))
        return int(result.rowcount)


class SqlIdempotencyKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @staticmethod
    def _of(owner_id: str, key: str) -> ColumnElement[bool]:
        return and_(keys_table.c.owner_id == owner_id, keys_table.c.idempotency_key == key)

    async def find(self, owner_id: str, key: str, since: float) -> IdempotentCreation | None:
        query = (select(keys_table.c.contact_id, keys_table.c.fingerprint, keys_table.c.created_at)
                 .where(self._of(owner_id, key), keys_table.c.created_at >= since))
        row = (await self._connection.execute(query)).first()
        return IdempotentCreation(row[0], row[1], float(row[2])) if row else None

    async def claim(self, owner_id: str, key: str, creation: IdempotentCreation, expired_before: float) -> bool:
        # One statement in the usual case. ON CONFLICT DO NOTHING: while another transaction holds
        # an uncommitted row of this key, PostgreSQL waits for its outcome (then skips the row if
        # it committed); our transaction stays usable either way (no error, no savepoint).
        statement = _insert_unless_taken(self._connection.dialect.name, keys_table, "owner_id", "idempotency_key")
        row = {"owner_id": owner_id, "idempotency_key": key, "contact_id": creation.contact_id,
               "fingerprint": creation.fingerprint, "created_at": creation.created_at}
        if (await self._connection.execute(statement, row)).rowcount > 0:
            return True
        expired = await self._connection.execute(
            delete(keys_table).where(self._of(owner_id, key), keys_table.c.created_at < expired_before))
        return expired.rowcount > 0 and (await self._connection.execute(statement, row)).rowcount > 0

    async def delete_expired(self, before: float) -> int:
        result = await self._connection.execute(delete(keys_table).where(keys_table.c.created_at < before))
        return int(result.rowcount)


class SqlImportLeases:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def register(self, import_id: str, owner_id: str, instance_id: str, now: float) -> None:
        await self._connection.execute(insert(imports_table).values(
            import_id=import_id, owner_id=owner_id, instance_id=instance_id, renewed_at=now))

    async def renew(self, import_id: str, now: float) -> bool:
        # The UPDATE locks the row until the transaction ends: a concurrent take_expired waits,
        # then finds it renewed (PostgreSQL re-reads the row it waited for).
        result = await self._connection.execute(
            update(imports_table).where(imports_table.c.import_id == import_id).values(renewed_at=now))
        return int(result.rowcount) > 0

    async def renew_all(self, instance_id: str, now: float) -> int:
        result = await self._connection.execute(
            update(imports_table).where(imports_table.c.instance_id == instance_id).values(renewed_at=now))
        return int(result.rowcount)

    async def expired(self, before: float) -> list[str]:
        rows = await self._connection.execute(
            select(imports_table.c.import_id).where(imports_table.c.renewed_at < before))
        return list(rows.scalars())

    async def take_expired(self, import_id: str, before: float) -> bool:
        result = await self._connection.execute(
            delete(imports_table).where(imports_table.c.import_id == import_id, imports_table.c.renewed_at < before))
        return int(result.rowcount) > 0

    async def release(self, import_id: str) -> None:
        await self._connection.execute(delete(imports_table).where(imports_table.c.import_id == import_id))


class SqlContactsUnitOfWork(SqlUnitOfWork):
    contacts: SqlContactRepository
    idempotency: SqlIdempotencyKeys
    imports: SqlImportLeases

    def _bind(self, connection: AsyncConnection) -> None:
        self.contacts = SqlContactRepository(connection)
        self.idempotency = SqlIdempotencyKeys(connection)
        self.imports = SqlImportLeases(connection)
