"""SQL storage of users, and the unit of work the use cases run in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.auth.adapters.tables import revocations, users
from services.auth.domain.errors import UserAlreadyExists
from services.auth.domain.model import Profile, User
from xuc.runtime.db import SqlUnitOfWork


def _to_user(row: Any) -> User:
    return User(
        id=row.id,
        login=row.login,
        password_hash=row.password_hash,
        profile=Profile(firstname=row.firstname, lastname=row.lastname, line=row.line, mobile=row.mobile),
        credentials_changed_at=row.credentials_changed_at,
        disabled=row.disabled,
    )


def _columns(user: User) -> dict[str, object]:
    return {"login": user.login, "password_hash": user.password_hash, **vars(user.profile),
            "credentials_changed_at": user.credentials_changed_at, "disabled": user.disabled}


class SqlUserRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def by_login(self, login: str, for_update: bool = False) -> User | None:
        query = select(users).where(users.c.login == login)
        # SQLite ignores FOR UPDATE: its transactions begin IMMEDIATE, one writer at a time anyway.
        row = (await self._connection.execute(query.with_for_update() if for_update else query)).first()
        return _to_user(row) if row else None

    async def by_id(self, user_id: str) -> User | None:
        row = (await self._connection.execute(select(users).where(users.c.id == user_id))).first()
        return _to_user(row) if row else None

    async def add(self, user: User) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(insert(users).values(id=user.id, **_columns(user)))
        except IntegrityError:
            raise UserAlreadyExists(f"A user with login {user.login!r} already exists") from None

    async def update(self, user: User) -> None:
        await self._connection.execute(
            update(users).where(users.c.id == user.id).values(**_columns(user), updated_at=func.now())
        )

    async def delete(self, user: User) -> None:
        await self._connection.execute(delete(users).where(users.c.id == user.id))

    async def all(self) -> Sequence[User]:
        rows = await self._connection.execute(select(users).order_by(users.c.login))
        return [_to_user(row) for row in rows]


class SqlRevocationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record(self, user_id: str, changed_at_ms: int) -> None:
        # Read then write: the unit of work is one transaction (IMMEDIATE on SQLite), and a user's
        # changes are serialised by their row in auth_users, updated in the same transaction.
        updated = await self._connection.execute(
            update(revocations).where(revocations.c.user_id == user_id).values(changed_at=changed_at_ms))
        if not updated.rowcount:
            await self._connection.execute(insert(revocations).values(user_id=user_id, changed_at=changed_at_ms))

    async def since(self, cutoff_ms: int) -> Sequence[tuple[str, int]]:
        rows = await self._connection.execute(
            select(revocations.c.user_id, revocations.c.changed_at).where(revocations.c.changed_at >= cutoff_ms))
        return [(row.user_id, row.changed_at) for row in rows]

    async def forget_before(self, cutoff_ms: int) -> None:
        await self._connection.execute(delete(revocations).where(revocations.c.changed_at < cutoff_ms))


class SqlAuthUnitOfWork(SqlUnitOfWork):
    users: SqlUserRepository
    revocations: SqlRevocationRepository

    def _bind(self, connection: AsyncConnection) -> None:
        self.users = SqlUserRepository(connection)
        self.revocations = SqlRevocationRepository(connection)
