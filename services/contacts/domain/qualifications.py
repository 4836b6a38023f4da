"""Call qualifications: what an agent may answer after a call of a queue, and the answers recorded.

A qualification ("Support") has sub-qualifications ("Technical", "General") and is assigned to
queues (ids of the telephony service's queues: plain positive integers, no foreign key). Nothing
is ever deleted: provisioning deactivates what it no longer lists, so that old answers keep
pointing at the sub-qualification they were given for. The rules:

* Names are 1 to 128 characters without control characters; qualification names are unique
  (case-sensitively), sub-qualification names unique within their qualification.
* Provisioning (`plan_put`) makes the listed qualifications exist by name with exactly the listed
  queue ids (a repeated id counts once) and sub-qualifications (by name); a listed inactive one
  is reactivated; active qualifications and sub-qualifications no longer listed are deactivated.
  Each listed qualification is "created", "updated" or "unchanged"; applying the same request
  twice changes nothing the second time.
* An answer's time is "YYYY-MM-DD HH:MM:SS", a valid date-time of the site's wall clock: it is
  stored as given, naive, with no time zone conversion (the original xuc stores what the agent's
  application sends). Its strings are bounded (callid and names 128 characters, comment 4096,
  custom data 16384) and hold no NUL (PostgreSQL text cannot); its queue is a positive id and
  its agent not negative. Then, in this order: its queue must exist (in the telephony service),
  its sub-qualification must be an active one of an active qualification assigned to that queue
  (checked by storage as it stores the answer), and its agent must be one of the calling user's
  agents (`check_agent`): an agent number, given as an integer.
* Export bounds are "YYYY-MM-DD" (midnight) or "YYYY-MM-DD HH:MM:SS"; from inclusive, to exclusive.
* The CSV export has the documented header; every text cell goes through `spreadsheet.neutralize`.

This module imports no gRPC, SQL or NATS; the ports at the end say what the use cases need.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Protocol

from services.contacts.domain.errors import (
    InvalidDate,
    InvalidQualification,
    InvalidQualificationAnswer,
    NotYourAgent,
)
from services.contacts.domain.spreadsheet import neutralize
from xuc.errors import FieldViolation, Path

MAX_NAME = 128
MAX_CALLID = 128
MAX_PERSON_NAME = 128
MAX_COMMENT = 4096
MAX_CUSTOM_DATA = 16384

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
# strptime alone accepts "2018-3-1 1:2:3" and non-ASCII digits: the shape is checked first.
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
SHOWN_NAME = 40  # characters of a name quoted in an error message
SHOWN_AGENTS = 5  # agent numbers quoted in an error message

CSV_HEADER = ("sub_qualification_id", "time", "callid", "agent", "queue", "first_name", "last_name", "comment",
              "custom_data")


# --- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubQualification:
    id: int
    name: str
    active: bool = True


@dataclass(frozen=True)
class Qualification:
    id: int
    name: str
    active: bool = True
    sub_qualifications: tuple[SubQualification, ...] = ()  # ordered by id
    queue_ids: tuple[int, ...] = ()  # ascending

    def sub_named(self, name: str) -> SubQualification | None:
        return next((sub for sub in self.sub_qualifications if sub.name == name), None)


@dataclass(frozen=True)
class QualificationSpec:
    """A qualification as provisioning describes it: what should exist."""

    name: str
    queue_ids: tuple[int, ...] = ()
    sub_qualifications: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerFields:
    """An answer as the agent's application sends it (the time still text)."""

    sub_qualification_id: int
    time: str
    callid: str = ""
    agent: int = 0
    queue: int = 0
    first_name: str = ""
    last_name: str = ""
    comment: str = ""
    custom_data: str = ""


@dataclass(frozen=True)
class Answer:
    """A validated answer; `id` is 0 until stored."""

    sub_qualification_id: int
    time: datetime  # naive: the site's wall-clock time, as given
    callid: str
    agent: int
    queue: int
    first_name: str
    last_name: str
    comment: str
    custom_data: str
    id: int = 0


@dataclass(frozen=True)
class QualificationAnswered:
    """Domain event: an answer was recorded (published after commit)."""

    answer_id: int
    sub_qualification_id: int
    queue: int
    agent: int
    callid: str
    time: str
    answered_by: str  # login of the user who recorded it
    occurred_at: datetime
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


# --- validating qualifications ----------------------------------------------------------------
def _shown(name: str) -> str:
    """The name quoted in a message, cut short: a message must not grow with the input."""
    return repr(name) if len(name) <= SHOWN_NAME else repr(name[:SHOWN_NAME]) + "..."


def _name_problem(name: str, what: str) -> str | None:
    if not 1 <= len(name) <= MAX_NAME or CONTROL_CHARACTERS.search(name):
        return f"{what} {_shown(name)} must be 1 to {MAX_NAME} characters without control characters"
    return None


def _name_violations(names: Sequence[str], path: Path, what: str) -> list[FieldViolation]:
    """Each name that breaks the rules or repeats an earlier one, at `path` + its index."""
    violations = []
    first_at: dict[str, int] = {}
    for index, name in enumerate(names):
        problem = _name_problem(name, what)
        if problem is None and name in first_at:
            problem = f"duplicate {what} {_shown(name)} (also at index {first_at[name]})"
        if problem is not None:
            violations.append(FieldViolation((*path, index), problem))
        first_at.setdefault(name, index)
    return violations


def validated_specs(specs: Sequence[QualificationSpec]) -> list[QualificationSpec]:
    """The specs, each with its queue ids in ascending order and once each; InvalidQualification
    listing every rule broken, each at its path (("qualifications", 0, "sub_qualifications", 1))."""
    violations = [replace(violation, path=(*violation.path, "name")) for violation
                  in _name_violations([spec.name for spec in specs], ("qualifications",), "qualification name")]
    for index, spec in enumerate(specs):
        at = ("qualifications", index)
        violations += _name_violations(spec.sub_qualifications, (*at, "sub_qualifications"), "sub-qualification name")
        violations += [FieldViolation((*at, "queue_ids", position), f"a queue id must be positive, got {queue}")
                       for position, queue in enumerate(spec.queue_ids) if queue <= 0]
    if violations:
        raise InvalidQualification.of_violations(violations)
    return [QualificationSpec(spec.name, tuple(sorted(set(spec.queue_ids))), tuple(spec.sub_qualifications))
            for spec in specs]


# --- planning PutQualifications -----------------------------------------------------------------
@dataclass(frozen=True)
class QualificationChange:
    """What to do to one listed qualification; `existing` None means create it."""

    spec: QualificationSpec
    existing: Qualification | None = None
    reactivate: bool = False
    add_queues: tuple[int, ...] = ()
    remove_queues: tuple[int, ...] = ()
    new_subs: tuple[str, ...] = ()  # in the listed order, so ids follow it
    activate_subs: tuple[int, ...] = ()
    deactivate_subs: tuple[int, ...] = ()

    @property
    def outcome(self) -> str:
        if self.existing is None:
            return CREATED
        changed = (self.reactivate or self.add_queues or self.remove_queues or self.new_subs
                   or self.activate_subs or self.deactivate_subs)
        return UPDATED if changed else UNCHANGED


@dataclass(frozen=True)
class PutPlan:
    changes: tuple[QualificationChange, ...]  # in the request's order
    deactivate: tuple[Qualification, ...]  # active ones the request does not list


def plan_put(existing: Sequence[Qualification], specs: Sequence[QualificationSpec]) -> PutPlan:
    """The changes that make `existing` match `specs` (validated first: InvalidQualification)."""
    specs = validated_specs(specs)
    by_name = {qualification.name: qualification for qualification in existing}
    listed = {spec.name for spec in specs}
    return PutPlan(
        changes=tuple(_change(spec, by_name.get(spec.name)) for spec in specs),
        deactivate=tuple(q for q in existing if q.active and q.name not in listed),
    )


def _change(spec: QualificationSpec, existing: Qualification | None) -> QualificationChange:
    if existing is None:
        return QualificationChange(spec)
    wanted_queues, current_queues = set(spec.queue_ids), set(existing.queue_ids)
    listed_subs = set(spec.sub_qualifications)
    return QualificationChange(
        spec,
        existing,
        reactivate=not existing.active,
        add_queues=tuple(sorted(wanted_queues - current_queues)),
        remove_queues=tuple(sorted(current_queues - wanted_queues)),
        new_subs=tuple(name for name in spec.sub_qualifications if existing.sub_named(name) is None),
        activate_subs=tuple(sub.id for sub in existing.sub_qualifications
                            if sub.name in listed_subs and not sub.active),
        deactivate_subs=tuple(sub.id for sub in existing.sub_qualifications
                              if sub.name not in listed_subs and sub.active),
    )


def offered(assigned: Sequence[Qualification]) -> list[Qualification]:
    """What agents of a queue are offered: its active qualifications, each with its active
    sub-qualifications only, ordered by id."""
    return [
        replace(qualification, sub_qualifications=tuple(sub for sub in qualification.sub_qualifications if sub.active))
        for qualification in sorted(assigned, key=lambda qualification: qualification.id)
        if qualification.active
    ]


# --- validating answers -------------------------------------------------------------------------
def parse_answer_time(text: str) -> datetime:
    if _DATE_TIME.fullmatch(text):
        try:
            return datetime.strptime(text, TIME_FORMAT)
        except ValueError:
            pass  # e.g. 2018-02-30: the shape is right, the date is not
    raise InvalidQualificationAnswer(f"time must be a date-time YYYY-MM-DD HH:MM:SS, got {text[:40]!r}")


def _check_text(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidQualificationAnswer(f"{name} must be at most {limit} characters")
    if "\x00" in value:
        raise InvalidQualificationAnswer(f"{name} must not contain NUL characters")
    return value


def validated_answer(fields: AnswerFields) -> Answer:
    """The answer with its time parsed, or InvalidQualificationAnswer naming the field."""
    if fields.queue <= 0:
        raise InvalidQualificationAnswer(f"queue must be a positive queue id, got {fields.queue}")
    if fields.agent < 0:
        raise InvalidQualificationAnswer(f"agent must not be negative, got {fields.agent}")
    return Answer(
        sub_qualification_id=fields.sub_qualification_id,
        time=parse_answer_time(fields.time),
        callid=_check_text(fields.callid, "callid", MAX_CALLID),
        agent=fields.agent,
        queue=fields.queue,
        first_name=_check_text(fields.first_name, "first_name", MAX_PERSON_NAME),
        last_name=_check_text(fields.last_name, "last_name", MAX_PERSON_NAME),
        comment=_check_text(fields.comment, "comment", MAX_COMMENT),
        custom_data=_check_text(fields.custom_data, "custom_data", MAX_CUSTOM_DATA),
    )


def check_agent(answer: Answer, login: str, agent_numbers: Sequence[str]) -> None:
    """NotYourAgent unless the answer's agent is one of the user's. Agent numbers are digits
    ("2001") and an answer gives its agent as an integer: "02001" is agent 2001."""
    if not any(number.isascii() and number.isdigit() and int(number) == answer.agent for number in agent_numbers):
        theirs = ", ".join(agent_numbers[:SHOWN_AGENTS]) + (", ..." if len(agent_numbers) > SHOWN_AGENTS else "")
        which = f"theirs: {theirs}" if theirs else "they have none"
        raise NotYourAgent(f"agent {answer.agent} is not one of the agents of user {_shown(login)} ({which})")


def format_time(moment: datetime) -> str:
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    return moment.isoformat(sep=" ", timespec="seconds")


# --- export ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportRange:
    queue_id: int
    start: datetime  # inclusive
    end: datetime  # exclusive


def parse_bound(text: str, name: str) -> datetime:
    """A range bound: "YYYY-MM-DD" (midnight) or "YYYY-MM-DD HH:MM:SS"; InvalidDate naming it."""
    for shape, layout in ((_DATE, DATE_FORMAT), (_DATE_TIME, TIME_FORMAT)):
        if shape.fullmatch(text):
            try:
                return datetime.strptime(text, layout)
            except ValueError:
                break
    raise InvalidDate(f"{name} must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, got {text[:40]!r}")


def export_range(queue_id: int, start: str, end: str) -> ExportRange:
    return ExportRange(queue_id, parse_bound(start, "from"), parse_bound(end, "to"))


def csv_cells(answer: Answer) -> tuple[str | int, ...]:
    """One CSV row, in CSV_HEADER's order; text cells made inert for spreadsheets."""
    return (
        answer.sub_qualification_id,
        format_time(answer.time),
        neutralize(answer.callid),
        answer.agent,
        answer.queue,
        neutralize(answer.first_name),
        neutralize(answer.last_name),
        neutralize(answer.comment),
        neutralize(answer.custom_data),
    )


# --- ports: what the use cases need from the world ---------------------------------------------
class QualificationRepository(Protocol):
    async def all(self) -> list[Qualification]: ...
    # Those assigned to the queue, active or not, with all their sub-qualifications.
    async def assigned_to(self, queue_id: int) -> list[Qualification]: ...
    # Taken before reading what to change, so that concurrent provisioning runs one after the other.
    async def lock_for_changes(self) -> None: ...
    async def create(self, spec: QualificationSpec) -> None: ...
    async def change(self, change: QualificationChange) -> None: ...
    async def deactivate(self, qualification_ids: Sequence[int]) -> None: ...
    # The new answer's id; None (nothing stored) unless its sub-qualification and qualification are
    # active and the qualification is assigned to the answer's queue (checked as it is stored).
    async def add_answer(self, answer: Answer, answered_by: str) -> int | None: ...
    async def answers_page(
        self, answers: ExportRange, after: tuple[datetime, int] | None, limit: int
    ) -> list[Answer]: ...


class QualificationsUnitOfWork(Protocol):
    @property
    def qualifications(self) -> QualificationRepository: ...

    async def __aenter__(self) -> QualificationsUnitOfWork: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class QualificationEventPublisher(Protocol):
    async def publish(self, events: Sequence[QualificationAnswered]) -> None: ...

