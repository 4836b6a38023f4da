"""The qualification use cases: provisioning, listing per queue, recording and exporting answers.

* `put_qualifications` plans (domain `plan_put`) and applies in one transaction, all or nothing,
  after locking the qualifications so concurrent provisioning runs one after the other.
* `create_answer` checks the answer (the domain's rules, in their order: its queue exists, its
  sub-qualification is offered on that queue, its agent is the caller's), stores it and, after
  the commit, publishes QualificationAnswered (answered_by: the calling user's login). An event
  bus outage does not fail the answer. Queues and agents are the telephony service's (the
  CallCentre port): asked before the transaction opens, so none is held during those calls;
  without telephony (none configured: AnswersNotConfigured; unreachable: Unreachable) nothing
  is recorded.
* `export_answers` checks the range at once (InvalidDate before any byte is sent), then streams
  CSV in chunks of about EXPORT_CHUNK_CHARACTERS. It reads EXPORT_PAGE_ROWS answers at a time by
  keyset on (time, id), each page in its own short transaction: memory stays bounded and no
  database connection is held while a slow client reads. Answers are only ever added, so the
  pages never skip one; an answer recorded during the export may appear in it if it sorts after
  the rows already sent.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.contacts.domain.errors import AnswersNotConfigured, UnknownQueue, UnknownSubQualification
from services.contacts.domain.ports import CallCentre
from services.contacts.domain.qualifications import (
    CSV_HEADER,
    UPDATED,
    Answer,
    AnswerFields,
    ExportRange,
    Qualification,
    QualificationAnswered,
    QualificationEventPublisher,
    QualificationSpec,
    QualificationsUnitOfWork,
    check_agent,
    csv_cells,
    export_range,
    format_time,
    offered,
    plan_put,
    validated_answer,
    validated_specs,
)

EXPORT_PAGE_ROWS = 1000
EXPORT_CHUNK_CHARACTERS = 64 * 1024


@dataclass(frozen=True)
class PutResult:
    qualifications: list[Qualification]  # those of the request, in its order, as stored now
    outcomes: list[str]  # "created", "updated" or "unchanged", in the same order
    deactivated: list[str]  # names of the qualifications deactivated by this request


class QualificationsService:
    def __init__(
        self,
        unit_of_work_factory: Callable[[], QualificationsUnitOfWork],
        publisher: QualificationEventPublisher,
        call_centre: CallCentre | None,  # None: no telephony configured, answers are refused
        clock: Callable[[], float] = time.time,
        page_rows: int = EXPORT_PAGE_ROWS,
        chunk_characters: int = EXPORT_CHUNK_CHARACTERS,
    ) -> None:
        self._uow = unit_of_work_factory
        self._publisher = publisher
        self._call_centre = call_centre
        self._clock = clock
        self._page_rows = page_rows
        self._chunk_characters = chunk_characters

    # --- provisioning ---------------------------------------------------------------------------
    async def put_qualifications(self, specs: Sequence[QualificationSpec], validate_only: bool = False) -> PutResult:
        """`validate_only`: check the specs (InvalidQualification listing every violation), change nothing."""
        if validate_only:
            validated_specs(specs)
            return PutResult(qualifications=[], outcomes=[], deactivated=[])
        async with self._uow() as uow:
            repository = uow.qualifications
            await repository.lock_for_changes()
            plan = plan_put(await repository.all(), specs)
            for change in plan.changes:
                if change.existing is None:
                    await repository.create(change.spec)
                elif change.outcome == UPDATED:
                    await repository.change(change)
            await repository.deactivate([qualification.id for qualification in plan.deactivate])
            stored = {qualification.name: qualification for qualification in await repository.all()}
            await uow.commit()
        return PutResult(
            qualifications=[stored[change.spec.name] for change in plan.changes],
            outcomes=[change.outcome for change in plan.changes],
            deactivated=[qualification.name for qualification in plan.deactivate],
        )

    async def list_qualifications(self) -> list[Qualification]:
        async with self._uow() as uow:
            return await uow.qualifications.all()

    async def queue_qualifications(self, queue_id: int) -> list[Qualification]:
        """What the queue's agents may answer; an unknown queue simply has nothing."""
        if queue_id <= 0:
            return []  # queue ids are positive: no need to ask the database
        async with self._uow() as uow:
            return offered(await uow.qualifications.assigned_to(queue_id))

    # --- answers --------------------------------------------------------------------------------
    async def create_answer(self, fields: AnswerFields, answered_by: str) -> int:
        answer = validated_answer(fields)
        if self._call_centre is None:
            raise AnswersNotConfigured()
        # Both questions at once: an answer costs one round trip to telephony, not two.
        queue_exists, agent_numbers = await asyncio.gather(self._call_centre.queue_exists(answer.queue),
                                                           self._call_centre.agent_numbers(answered_by))
        if not queue_exists:
            raise UnknownQueue(f"queue {answer.queue} does not exist")
        async with self._uow() as uow:
            answer_id = await uow.qualifications.add_answer(answer, answered_by)
            if answer_id is None:
                raise UnknownSubQualification(f"sub-qualification {answer.sub_qualification_id} is not an active "
                                              f"sub-qualification of a qualification of queue {answer.queue}")
            # After storage's check, to keep the rules' order; before the commit: refused, nothing is stored.
            check_agent(answer, answered_by, agent_numbers)
            await uow.commit()
        await self._publisher.publish([self._answered(answer, answer_id, answered_by)])
        return answer_id

    def _answered(self, answer: Answer, answer_id: int, answered_by: str) -> QualificationAnswered:
        return QualificationAnswered(
            answer_id=answer_id,
            sub_qualification_id=answer.sub_qualification_id,
            queue=answer.queue,
            agent=answer.agent,
            callid=answer.callid,
            time=format_time(answer.time),
            answered_by=answered_by,
            occurred_at=datetime.fromtimestamp(self._clock(), UTC),
        )

    async def export_answers(self, queue_id: int, start: str, end: str) -> AsyncIterator[bytes]:
        """The CSV of the queue's answers with start <= time < end, as chunks of UTF-8 bytes.

        Awaiting this checks the bounds (InvalidDate); iterating the result reads and streams."""
        return self._csv(export_range(queue_id, start, end))

    async def _csv(self, answers: ExportRange) -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        async for answer in self._answers(answers):
            writer.writerow(csv_cells(answer))
            if buffer.tell() >= self._chunk_characters:
                yield _drain(buffer)
        yield _drain(buffer)

    async def _answers(self, answers: ExportRange) -> AsyncIterator[Answer]:
        if answers.end <= answers.start:
            return  # an empty range: the header alone
        after: tuple[datetime, int] | None = None
        while True:
            async with self._uow() as uow:
                page = await uow.qualifications.answers_page(answers, after, self._page_rows)
            for answer in page:
                yield answer
            if len(page) < self._page_rows:
                return
            after = (page[-1].time, page[-1].id)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
