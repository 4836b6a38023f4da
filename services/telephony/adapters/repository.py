"""The telephony repository on SQLAlchemy Core (SQLite or PostgreSQL), and its unit of work.

Times are stored as UTC: SQLite keeps no time zone, so they are written naive-UTC and read back
as aware UTC datetimes on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.telephony.adapters.tables import (
    agents,
    calls,
    chosen_user_statuses,
    push_registrations,
    queue_members,
    queues,
    user_services,
    user_status_table,
)
from services.telephony.domain.history import EndedCall
from services.telephony.domain.model import Agent, Forward, PushPlatform, Queue, UserServices
from services.telephony.domain.presence import StatusAction, UserStatus
from xuc.runtime.db import SqlUnitOfWork

PARTY = 64  # the size of the calls table's text columns


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _services_row(services: UserServices) -> dict[str, Any]:
    return {
        "dnd": services.dnd,
        "unconditional_enabled": services.unconditional.enabled,
        "unconditional_destination": services.unconditional.destination,
        "no_answer_enabled": services.no_answer.enabled,
        "no_answer_destination": services.no_answer.destination,
        "busy_enabled": services.busy.enabled,
        "busy_destination": services.busy.destination,
    }


def _services(row: Any) -> UserServices:
    return UserServices(
        login=row.login,
        dnd=row.dnd,
        unconditional=Forward(row.unconditional_enabled, row.unconditional_destination),
        no_answer=Forward(row.no_answer_enabled, row.no_answer_destination),
        busy=Forward(row.busy_enabled, row.busy_destination),
    )


class SqlTelephonyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def user_services(self, login: str) -> UserServices | None:
        row = (await self._connection.execute(select(user_services).where(user_services.c.login == login))).first()
        return _services(row) if row is not None else None

    async def all_user_services(self) -> list[UserServices]:
        return [_services(row) for row in await self._connection.execute(select(user_services))]

    async def save_user_services(self, services: UserServices) -> None:
        values = _services_row(services)
        changed = await self._connection.execute(
            update(user_services).where(user_services.c.login == services.login).values(**values))
        if changed.rowcount == 0:
            await self._connection.execute(insert(user_services).values(login=services.login, **values))

    async def agents(self) -> list[Agent]:
        rows = await self._connection.execute(select(agents).order_by(agents.c.number))
        return [Agent(row.number, row.login) for row in rows]

    async def queues(self) -> list[Queue]:
        members: dict[int, list[str]] = {}
        for row in await self._connection.execute(select(queue_members).order_by(queue_members.c.agent_number)):
            members.setdefault(row.queue_id, []).append(row.agent_number)
        rows = await self._connection.execute(select(queues).order_by(queues.c.id))
        return [Queue(row.id, row.name, row.number, tuple(members.get(row.id, ()))) for row in rows]

    async def replace_agents_and_queues(self, new_agents: Sequence[Agent], new_queues: Sequence[Queue]) -> None:
        for table in (queue_members, queues, agents):
            await self._connection.execute(delete(table))
        if new_agents:
            await self._connection.execute(insert(agents), [{"number": a.number, "login": a.login}
                                                            for a in new_agents])
        if new_queues:
            await self._connection.execute(insert(queues), [{"id": q.id, "name": q.name, "number": q.number}
                                                            for q in new_queues])
        members = [{"queue_id": q.id, "agent_number": n} for q in new_queues for n in q.agents]
        if members:
            await self._connection.execute(insert(queue_members), members)

    async def add_calls(self, ended: Sequence[tuple[EndedCall, str, str]]) -> None:
        # A PBX may report any caller number: cut to the columns' size rather than lose the batch.
        await self._connection.execute(insert(calls), [
            {"linked_id": call.linked_id[:PARTY], "src": src[:PARTY], "dst": dst[:PARTY],
             "src_number": call.src_number[:PARTY], "dst_number": call.dst_number[:PARTY],
             "start_at": _utc(call.start), "end_at": _utc(call.end), "answered": call.answered}
            for call, src, dst in ended])

    async def calls_of(self, login: str, *, limit: int | None = None, since: datetime | None = None
                       ) -> list[tuple[EndedCall, str, str]]:
        query = select(calls).where(or_(calls.c.src == login, calls.c.dst == login))
        if since is not None:
            query = query.where(calls.c.start_at >= _utc(since))
        query = query.order_by(calls.c.start_at.desc(), calls.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [
            (EndedCall(row.linked_id, row.src_number, row.dst_number, _aware(row.start_at), _aware(row.end_at),
                       row.answered), row.src, row.dst)
            for row in await self._connection.execute(query)
        ]

    async def save_push(self, login: str, platform: PushPlatform, token: str) -> None:
        now = _utc(datetime.now(UTC))
        key = (push_registrations.c.login == login) & (push_registrations.c.platform == platform.value)
        changed = await self._connection.execute(update(push_registrations).where(key)
                                                 .values(token=token, updated_at=now))
        if changed.rowcount == 0:
            await self._connection.execute(insert(push_registrations).values(
                login=login, platform=platform.value, token=token, updated_at=now))

    async def all_push_tokens(self) -> dict[str, dict[PushPlatform, str]]:
        tokens: dict[str, dict[PushPlatform, str]] = {}
        for row in await self._connection.execute(select(push_registrations)):
            tokens.setdefault(row.login, {})[PushPlatform(row.platform)] = row.token
        return tokens


    async def user_status_table(self) -> list[UserStatus]:
        rows = await self._connection.execute(select(user_status_table).order_by(user_status_table.c.position))
        return [UserStatus(row.name, row.long_name, row.color,
                           tuple(StatusAction(action["name"], action["parameters"])
                                 for action in json.loads(row.actions)))
                for row in rows]

    async def replace_user_status_table(self, statuses: Sequence[UserStatus]) -> None:
        await self._connection.execute(delete(user_status_table))
        await self._connection.execute(insert(user_status_table), [
            {"position": position, "name": status.name, "long_name": status.long_name, "color": status.color,
             "actions": json.dumps([{"name": action.name, "parameters": action.parameters}
                                    for action in status.actions])}
            for position, status in enumerate(statuses)])

    async def chosen_user_status(self, login: str) -> str | None:
        query = select(chosen_user_statuses.c.status).where(chosen_user_statuses.c.login == login)
        status: str | None = (await self._connection.execute(query)).scalar_one_or_none()
        return status

    async def save_chosen_user_status(self, login: str, name: str, at: datetime) -> None:
        key = chosen_user_statuses.c.login == login
        changed = await self._connection.execute(update(chosen_user_statuses).where(key)
                                                 .values(status=name, chosen_at=_utc(at)))
        if changed.rowcount == 0:
            await self._connection.execute(insert(chosen_user_statuses).values(
                login=login, status=name, chosen_at=_utc(at)))


class SqlTelephonyUnitOfWork(SqlUnitOfWork):
    repository: SqlTelephonyRepository

    def _bind(self, connection: AsyncConnection) -> None:
        self.repository = SqlTelephonyRepository(connection)
