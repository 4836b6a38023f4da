"""An in-memory fake of the ports of the qualifications use cases
(services/contacts/service_layer/qualifications.py), the service wired to it (`System`), and
builders of specs and answers, for tests/unit/test_qualifications_*.py.

The fake keeps the real adapter's contract: a unit of work works on a copy of the committed state,
which `commit` writes back; answers of an inactive sub-qualification or qualification are refused.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any

from services.contacts.domain.qualifications import (
    Answer,
    AnswerFields,
    ExportRange,
    Qualification,
    QualificationAnswered,
    QualificationChange,
    QualificationSpec,
    SubQualification,
    validated_answer,
)
from services.contacts.service_layer.qualifications import QualificationsService
from xuc.errors import Unreachable

NOW = 1_700_000_000.0


@dataclass
class State:
    """The stored data: what a unit of work copies, and its commit writes back."""

    qualifications: dict[int, Qualification] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    answered_by: dict[int, str] = field(default_factory=dict)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


@dataclass
class FakeDatabase:
    state: State = field(default_factory=State)
    commits: int = 0
    pages_read: int = 0
    locks: int = 0


class FakeRepository:
    def __init__(self, state: State, database: FakeDatabase) -> None:
        self.state = state
        self.database = database

    async def all(self) -> list[Qualification]:
        return [self.state.qualifications[key] for key in sorted(self.state.qualifications)]

    async def assigned_to(self, queue_id: int) -> list[Qualification]:
        return [q for q in await self.all() if queue_id in q.queue_ids]

    async def lock_for_changes(self) -> None:
        self.database.locks += 1

    async def create(self, spec: QualificationSpec) -> None:
        qualification_id = self.state.new_id()
        subs = tuple(SubQualification(self.state.new_id(), name) for name in spec.sub_qualifications)
        self.state.qualifications[qualification_id] = Qualification(qualification_id, spec.name, True, subs,
                                                                    spec.queue_ids)

    async def change(self, change: QualificationChange) -> None:
        assert change.existing is not None
        current = self.state.qualifications[change.existing.id]
        queues = (set(current.queue_ids) | set(change.add_queues)) - set(change.remove_queues)
        subs = [replace(sub, active=True) if sub.id in change.activate_subs
                else replace(sub, active=False) if sub.id in change.deactivate_subs else sub
                for sub in current.sub_qualifications]
        subs += [SubQualification(self.state.new_id(), name) for name in change.new_subs]
        self.state.qualifications[current.id] = Qualification(current.id, current.name, True, tuple(subs),
                                                              tuple(sorted(queues)))

    async def deactivate(self, qualification_ids: Sequence[int]) -> None:
        for qualification_id in qualification_ids:
            self.state.qualifications[qualification_id] = replace(self.state.qualifications[qualification_id],
                                                                  active=False)

    async def add_answer(self, answer: Answer, answered_by: str) -> int | None:
        answerable = any(q.active and answer.queue in q.queue_ids
                         and any(sub.id == answer.sub_qualification_id and sub.active for sub in q.sub_qualifications)
                         for q in self.state.qualifications.values())
        if not answerable:
            return None
        stored = replace(answer, id=self.state.new_id())
        self.state.answers.append(stored)
        self.state.answered_by[stored.id] = answered_by
        return stored.id

    async def answers_page(self, answers: ExportRange, after: tuple[datetime, int] | None,
                           limit: int) -> list[Answer]:
        self.database.pages_read += 1
        rows = sorted((a for a in self.state.answers
                       if a.queue == answers.queue_id and answers.start <= a.time < answers.end
                       and (after is None or (a.time, a.id) > after)), key=lambda a: (a.time, a.id))
        return rows[:limit]


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._work = copy.deepcopy(database.state)
        self.qualifications = FakeRepository(self._work, database)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass  # not committed: the copy is dropped

    async def commit(self) -> None:
        self._database.state = self._work
        self._database.commits += 1


class RecordingPublisher:
    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.published: list[tuple[QualificationAnswered, int]] = []  # (event, commits when published)

    async def publish(self, events: Sequence[QualificationAnswered]) -> None:
        self.published += [(event, self.database.commits) for event in events]


@dataclass
class FakeCallCentre:
    """The telephony service's queues and agents (login -> agent numbers); `down` makes it unreachable."""

    queues: set[int] = field(default_factory=lambda: {1, 3, 5, 6})
    agents: dict[str, list[str]] = field(default_factory=lambda: {"alicej": ["2001", "12", "1"], "bobm": ["2002"]})
    down: bool = False
    asked: list[str] = field(default_factory=list)

    async def queue_exists(self, queue_id: int) -> bool:
        self._ask(f"queue {queue_id}")
        return queue_id in self.queues

    async def agent_numbers(self, login: str) -> list[str]:
        self._ask(f"agents of {login}")
        return list(self.agents.get(login, []))

    def _ask(self, what: str) -> None:
        self.asked.append(what)
        if self.down:
            raise Unreachable("telephony is down")


class System:
    """The service under test and the fakes around it."""

    def __init__(self, page_rows: int = 1000, chunk_characters: int = 64 * 1024,
                 call_centre: FakeCallCentre | None = None, telephony: bool = True) -> None:
        self.database = FakeDatabase()
        self.publisher = RecordingPublisher(self.database)
        self.call_centre = call_centre or FakeCallCentre()
        self.service = QualificationsService(lambda: FakeUnitOfWork(self.database), self.publisher,
                                             self.call_centre if telephony else None,
                                             clock=lambda: NOW, page_rows=page_rows,
                                             chunk_characters=chunk_characters)

    @property
    def state(self) -> State:
        return self.database.state

    async def export(self, queue: int, start: str, end: str) -> list[bytes]:
        return [chunk async for chunk in await self.service.export_answers(queue, start, end)]


def spec(name: str, queues: Sequence[int] = (), subs: Sequence[str] = ()) -> QualificationSpec:
    return QualificationSpec(name, tuple(queues), tuple(subs))


def fields(sub_id: int, time: str = "2018-03-21 17:00:00", **others: Any) -> AnswerFields:
    documented = AnswerFields(sub_id, time, callid="callid1", agent=1, queue=1, first_name="john", last_name="doe",
                              comment="some comment", custom_data="some custom data")
    return replace(documented, **others)


def answer_at(time: str, answer_id: int, queue: int = 1, **others: str) -> Answer:
    return replace(validated_answer(fields(1, time, queue=queue, **others)), id=answer_id)
