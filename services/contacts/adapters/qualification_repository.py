"""SQL storage of qualifications and their answers, and the unit of work the use cases run in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, insert, literal, or_, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contacts.adapters.qualification_tables import answers, qualification_queues, qualifications
from services.contacts.adapters.qualification_tables import sub_qualifications as subs
from services.contacts.domain.errors import InvalidQualification
from services.contacts.domain.qualifications import (
    Answer,
    ExportRange,
    Qualification,
    QualificationChange,
    QualificationSpec,
    SubQualification,
)
from xuc.runtime.db import SqlUnitOfWork


def _to_answer(row: Any) -> Answer:
    return Answer(
        id=row.id,
        sub_qualification_id=row.sub_qualification_id,
        time=row.time,
        callid=row.callid,
        agent=row.agent,
        queue=row.queue,
        first_name=row.first_name,
        last_name=row.last_name,
        comment=row.comment,
        custom_data=row.custom_data,
    )


class SqlQualificationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    # --- reading qualifications -----------------------------------------------------------------
    async def all(self) -> list[Qualification]:
        return await self._qualifications(true())

    async def assigned_to(self, queue_id: int) -> list[Qualification]:
        assigned = select(qualification_queues.c.qualification_id).where(qualification_queues.c.queue_id == queue_id)
        return await self._qualifications(qualifications.c.id.in_(assigned))

    async def _qualifications(self, condition: ColumnElement[bool]) -> list[Qualification]:
        """The qualifications matching `condition`, ordered by id, with their subs and queue ids.

        Three queries whatever the number of qualifications (rather than two per qualification)."""
        chosen = select(qualifications.c.id).where(condition)
        sub_rows = await self._connection.execute(
            select(subs).where(subs.c.qualification_id.in_(chosen)).order_by(subs.c.id))
        subs_of: dict[int, list[SubQualification]] = {}
        for row in sub_rows:
            subs_of.setdefault(row.qualification_id, []).append(SubQualification(row.id, row.name, row.active))
        queue_rows = await self._connection.execute(
            select(qualification_queues).where(qualification_queues.c.qualification_id.in_(chosen))
            .order_by(qualification_queues.c.queue_id)
        )
        queues_of: dict[int, list[int]] = {}
        for row in queue_rows:
            queues_of.setdefault(row.qualification_id, []).append(row.queue_id)
        rows = await self._connection.execute(select(qualifications).where(condition).order_by(qualifications.c.id))
        return [Qualification(row.id, row.name, row.active, tuple(subs_of.get(row.id, ())),
                              tuple(queues_of.get(row.id, ()))) for row in rows]

    # --- changing qualifications (provisioning) ---------------------------------------------------
    async def lock_for_changes(self) -> None:
        if self._connection.dialect.name == "postgresql":
            # Other writers of qualifications wait; readers (listing, answering) do not.
            await self._connection.execute(text("LOCK TABLE contacts_qualifications IN EXCLUSIVE MODE"))
        else:
            # SQLite: a write, even of no row, takes the database's write lock now (waiting out
            # busy_timeout), rather than failing later on a snapshot another writer made stale.
            await self._connection.execute(update(qualifications).where(false()).values(active=qualifications.c.active))

    async def create(self, spec: QualificationSpec) -> None:
        try:
            result = await self._connection.execute(
                insert(qualifications).values(name=spec.name).returning(qualifications.c.id))
        except IntegrityError:
            # Only a concurrent PutQualifications creating the same name gets here.
            raise InvalidQualification(f"qualification {spec.name!r} was created concurrently: apply again") from None
        qualification_id: int = result.scalar_one()
        await self._add_subs(qualification_id, spec.sub_qualifications)
        await self._add_queues(qualification_id, spec.queue_ids)

    async def change(self, change: QualificationChange) -> None:
        """Apply a planned change to an existing qualification (called only when it changes something)."""
        assert change.existing is not None
        qualification_id = change.existing.id
        await self._add_subs(qualification_id, change.new_subs)
        await self._add_queues(qualification_id, change.add_queues)
        if change.remove_queues:
            await self._connection.execute(delete(qualification_queues).where(
                qualification_queues.c.qualification_id == qualification_id,
                qualification_queues.c.queue_id.in_(change.remove_queues)))
        await self._set_subs_active(change.activate_subs, True)
        await self._set_subs_active(change.deactivate_subs, False)
        # A listed qualification is active, whether it was or is reactivated now.
        await self._connection.execute(update(qualifications).where(qualifications.c.id == qualification_id)
                                       .values(active=True, updated_at=func.now()))

    async def deactivate(self, qualification_ids: Sequence[int]) -> None:
        if qualification_ids:
            await self._connection.execute(update(qualifications).where(qualifications.c.id.in_(qualification_ids))
                                           .values(active=False, updated_at=func.now()))

    async def _add_subs(self, qualification_id: int, names: Sequence[str]) -> None:
        # One statement per name, in order, so that ids follow the listed order on every backend.
        for name in names:
            await self._connection.execute(insert(subs).values(qualification_id=qualification_id, name=name))

    async def _add_queues(self, qualification_id: int, queue_ids: Sequence[int]) -> None:
        if queue_ids:
            await self._connection.execute(insert(qualification_queues),
                                           [{"qualification_id": qualification_id, "queue_id": queue_id}
                                            for queue_id in queue_ids])

    async def _set_subs_active(self, sub_ids: Sequence[int], active: bool) -> None:
        if sub_ids:
            await self._connection.execute(update(subs).where(subs.c.id.in_(sub_ids)).values(active=active))

    # --- answers ------------------------------------------------------------------------------------
    async def add_answer(self, answer: Answer, answered_by: str) -> int | None:
        # One statement that both checks and inserts: an answer cannot slip in beside a deactivation,
        # and SQLite takes its write lock at once, with no read snapshot to go stale first.
        values = {
            "time": answer.time, "callid": answer.callid, "agent": answer.agent, "queue": answer.queue,
            "first_name": answer.first_name, "last_name": answer.last_name, "comment": answer.comment,
            "custom_data": answer.custom_data, "answered_by": answered_by,
        }
        answerable = (
            select(subs.c.id, *(literal(value, answers.c[name].type) for name, value in values.items()))
            .join(qualifications, qualifications.c.id == subs.c.qualification_id)
            .join(qualification_queues, and_(qualification_queues.c.qualification_id == qualifications.c.id,
                                             qualification_queues.c.queue_id == answer.queue))
            .where(subs.c.id == answer.sub_qualification_id, subs.c.active, qualifications.c.active)
        )
        statement = insert(answers).from_select(["sub_qualification_id", *values], answerable).returning(answers.c.id)
        answer_id: int | None = (await self._connection.execute(statement)).scalar_one_or_none()
        return answer_id

    async def answers_page(self, answers_of: ExportRange, after: tuple[datetime, int] | None,
                           limit: int) -> list[Answer]:
        """Up to `limit` answers of the range ordered by (time, id), those after `after` (keyset paging:
        each page is an index range scan, however deep into the export)."""
        condition = and_(answers.c.queue == answers_of.queue_id, answers.c.time >= answers_of.start,
                         answers.c.time < answers_of.end)
        if after is not None:
            time, answer_id = after
            condition = and_(condition, or_(answers.c.time > time, and_(answers.c.time == time,
                                                                         answers.c.id > answer_id)))
        query = select(answers).where(condition).order_by(answers.c.time, answers.c.id).limit(limit)
        return [_to_answer(row) for row in await self._connection.execute(query)]


class SqlQualificationsUnitOfWork(SqlUnitOfWork):
    qualifications: SqlQualificationRepository

    def _bind(self, connection: AsyncConnection) -> None:
        self.qualifications = SqlQualificationRepository(connection)
