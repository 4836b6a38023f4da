"""The signing keys in the auth database (table `auth_signing_keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.adapters.tables import signing_keys
from services.auth.domain.ports import StoredSigningKey
from services.auth.domain.signing_keys import KeyPeriod


def _to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _to_epoch(value: datetime) -> float:
    # SQLite gives back naive datetimes: they were written in UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _to_key(row: Any) -> StoredSigningKey:
    period = KeyPeriod(
        kid=row.kid,
        generation=row.generation,
        created_at=_to_epoch(row.created_at),
        active_from=_to_epoch(row.active_from),
        retired_at=None if row.retired_at is None else _to_epoch(row.retired_at),
    )
    return StoredSigningKey(period, row.private_key)


class SqlSigningKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> Sequence[StoredSigningKey]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(signing_keys).order_by(signing_keys.c.generation))
            return [_to_key(row) for row in rows]

    async def add(self, key: StoredSigningKey, retires: Sequence[str], retired_at: float) -> bool:
        period = key.period
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(signing_keys).values(
                    kid=period.kid, generation=period.generation, private_key=key.private_key,
                    created_at=_to_datetime(period.created_at), active_from=_to_datetime(period.active_from),
                ))
                if retires:
                    await connection.execute(
                        update(signing_keys)
                        .where(signing_keys.c.kid.in_(retires), signing_keys.c.retired_at.is_(None))
                        .values(retired_at=_to_datetime(retired_at))
                    )
        except IntegrityError:  # that generation (or key) is there already: another replica's
            return False
        return True

    async def drop(self, kids: Sequence[str]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(signing_keys).where(signing_keys.c.kid.in_(kids)))
