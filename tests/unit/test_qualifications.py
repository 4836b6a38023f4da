"""Call qualifications: the domain rules (services/contacts/domain/qualifications.py), the use cases
(services/contacts/service_layer/qualifications.py) against an in-memory fake, and the event message.

The fake keeps the real adapter's contract: a unit of work works on a copy of the committed state,
which `commit` writes back; answers of an inactive sub-qualification or qualification are refused.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pytest

from services.contacts.adapters.qualification_events import qualification_event_message
from services.contacts.domain.errors import (
    AnswersNotConfigured,
    InvalidDate,
    InvalidQualification,
    InvalidQualificationAnswer,
    NotYourAgent,
    UnknownQueue,
    UnknownSubQualification,
)
from services.contacts.domain.qualifications import (
    CSV_HEADER,
    MAX_COMMENT,
    MAX_CUSTOM_DATA,
    Answer,
    AnswerFields,
    ExportRange,
    Qualification,
    QualificationAnswered,
    QualificationChange,
    QualificationSpec,
    SubQualification,
    csv_cells,
    format_time,
    offered,
    parse_answer_time,
    parse_bound,
    plan_put,
    validated_answer,
    validated_specs,
)
from services.contacts.service_layer.qualifications import QualificationsService
from xuc import subjects
from xuc.errors import DomainError, ErrorKind, Unreachable
from xucproto.events.v1 import contacts_events_pb2

NOW = 1_700_000_000.0


# --- an in-memory fake of the ports --------------------------------------------------------------
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


# --- validating qualifications -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([spec("")], "must be 1 to 128 characters"),
        ([spec("x" * 129)], "must be 1 to 128 characters"),
        ([spec("Support\n")], "without control characters"),
        ([spec("Support"), spec("Sales"), spec("Support")],
         "qualifications[2].name: duplicate qualification name 'Support' (also at index 0)"),
        ([spec("Support", subs=["Technical", "Technical"])],
         "qualifications[0].sub_qualifications[1]: duplicate sub-qualification name 'Technical' (also at index 0)"),
        ([spec("Support", subs=[""])], "must be 1 to 128 characters"),
        ([spec("Support", subs=["y" * 129])], "must be 1 to 128 characters"),
        ([spec("Support", queues=[5, 0, -3])],
         "qualifications[0].queue_ids[1]: a queue id must be positive, got 0; "
         "qualifications[0].queue_ids[2]: a queue id must be positive, got -3"),
    ],
    ids=["empty", "too-long", "control", "duplicate", "duplicate-sub", "empty-sub", "long-sub", "queue-id"],
)
def test_invalid_specs_are_refused(specs: list[QualificationSpec], message: str) -> None:
    with pytest.raises(InvalidQualification, match=re.escape(message)):
        validated_specs(specs)


def test_messages_quote_long_input_cut_short() -> None:
    with pytest.raises(InvalidQualification) as raised:
        validated_specs([spec("x" * 100_000)])

    assert len(raised.value.message) < 200


def test_names_of_128_characters_and_repeated_queue_ids_are_accepted() -> None:
    [validated] = validated_specs([spec("x" * 128, queues=[7, 5, 7], subs=["y" * 128, "Y" * 128])])

    assert validated.queue_ids == (5, 7)  # a set of queues, in order
    assert validated.sub_qualifications == ("y" * 128, "Y" * 128)  # names are case-sensitive


# --- planning PutQualifications ------------------------------------------------------------------
SUPPORT = Qualification(1, "Support", True, (SubQualification(2, "Technical"), SubQualification(3, "General")), (5,))


def test_a_new_qualification_is_created() -> None:
    plan = plan_put([], [spec("Support", [5], ["Technical"])])

    assert [(change.existing, change.outcome) for change in plan.changes] == [(None, "created")]
    assert plan.deactivate == ()


def test_the_same_description_is_unchanged() -> None:
    plan = plan_put([SUPPORT], [spec("Support", [5], ["Technical", "General"])])

    assert [change.outcome for change in plan.changes] == ["unchanged"]
    assert plan.deactivate == ()


def test_queues_and_subs_are_made_exactly_the_listed_ones() -> None:
    [change] = plan_put([SUPPORT], [spec("Support", [6, 7], ["General", "Billing"])]).changes

    assert change.outcome == "updated"
    assert (change.add_queues, change.remove_queues) == ((6, 7), (5,))
    assert (change.new_subs, change.activate_subs, change.deactivate_subs) == (("Billing",), (), (2,))
    assert not change.reactivate


def test_listed_inactive_qualifications_and_subs_are_reactivated() -> None:
    inactive = replace(SUPPORT, active=False, sub_qualifications=(SubQualification(2, "Technical", active=False),
                                                                  SubQualification(3, "General")))

    [change] = plan_put([inactive], [spec("Support", [5], ["Technical", "General"])]).changes

    assert (change.outcome, change.reactivate, change.activate_subs) == ("updated", True, (2,))


def test_active_qualifications_no_longer_listed_are_deactivated_once() -> None:
    sales = Qualification(10, "Sales")
    old = Qualification(11, "Old", active=False)

    plan = plan_put([SUPPORT, sales, old], [spec("Support", [5], ["Technical", "General"])])

    assert [q.name for q in plan.deactivate] == ["Sales"]  # "Old" is already inactive
    assert [q.name for q in plan_put([SUPPORT, sales, old], []).deactivate] == ["Support", "Sales"]


def test_planning_checks_the_request() -> None:
    with pytest.raises(InvalidQualification, match="duplicate qualification name"):
        plan_put([SUPPORT], [spec("Support"), spec("Support")])


def test_every_broken_rule_is_answered_at_its_path() -> None:
    with pytest.raises(InvalidQualification) as raised:
        validated_specs([spec("", subs=["ok", "a\nb"]), spec("Sales", queues=[-1])])

    assert [violation.field for violation in raised.value.violations] == [
        "qualifications[0].name", "qualifications[0].sub_qualifications[1]", "qualifications[1].queue_ids[0]"]


def test_agents_are_offered_active_qualifications_with_active_subs_by_id() -> None:
    later = Qualification(9, "Later", True, (SubQualification(21, "B"), SubQualification(20, "A", active=False)))
    hidden = Qualification(4, "Hidden", active=False, sub_qualifications=(SubQualification(30, "C"),))

    assert offered([later, hidden, SUPPORT]) == [
        SUPPORT, replace(later, sub_qualifications=(SubQualification(21, "B"),))]


# --- validating answers --------------------------------------------------------------------------
def test_the_documented_answer_is_valid() -> None:
    answer = validated_answer(fields(1))

    assert answer.time == datetime(2018, 3, 21, 17, 0, 0)  # naive: the site's wall clock, as given
    assert (answer.callid, answer.agent, answer.queue, answer.comment) == ("callid1", 1, 1, "some comment")


@pytest.mark.parametrize(
    "text",
    ["", "2018-03-21", "2018-03-21T17:00:00", "2018-3-21 17:00:00", "2018-03-21 17:00", "2018-03-21 17:00:00.5",
     "2018-02-30 10:00:00", "2018-03-21 24:00:00", "٢٠١٨-03-21 17:00:00", " 2018-03-21 17:00:00",
     "2018-03-21 17:00:00Z"],
)
def test_an_answer_time_must_be_an_exact_valid_date_time(text: str) -> None:
    with pytest.raises(InvalidQualificationAnswer, match=r"^time must be"):
        parse_answer_time(text)


@pytest.mark.parametrize(
    ("name", "limit"),
    [("callid", 128), ("first_name", 128), ("last_name", 128), ("comment", MAX_COMMENT),
     ("custom_data", MAX_CUSTOM_DATA)],
)
def test_answer_strings_are_bounded(name: str, limit: int) -> None:
    assert getattr(validated_answer(fields(1, **{name: "é" * limit})), name) == "é" * limit

    with pytest.raises(InvalidQualificationAnswer, match=f"^{name} must be at most {limit} characters"):
        validated_answer(fields(1, **{name: "é" * (limit + 1)}))
    with pytest.raises(InvalidQualificationAnswer, match=f"^{name} must not contain NUL"):
        validated_answer(fields(1, **{name: "a\x00b"}))


def test_an_answer_needs_a_positive_queue_and_an_agent_not_negative() -> None:
    with pytest.raises(InvalidQualificationAnswer, match=r"^queue"):
        validated_answer(fields(1, queue=0))
    with pytest.raises(InvalidQualificationAnswer, match=r"^agent"):
        validated_answer(fields(1, agent=-1))
    assert validated_answer(fields(1, agent=0)).agent == 0


# --- export bounds and CSV cells -----------------------------------------------------------------
def test_a_bound_is_a_date_at_midnight_or_a_date_time() -> None:
    assert parse_bound("2018-03-21", "from") == datetime(2018, 3, 21)
    assert parse_bound("2018-03-21 17:05:09", "to") == datetime(2018, 3, 21, 17, 5, 9)


@pytest.mark.parametrize("text", ["", "21/03/2018", "2018-03-32", "2018-03-21 17:00", "2018-03-21T17:00:00",
                                  "today"])
def test_other_bounds_are_invalid_dates_naming_the_bound(text: str) -> None:
    with pytest.raises(InvalidDate, match=r"^to must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"):
        parse_bound(text, "to")


def test_times_are_written_as_given_even_before_the_year_1000() -> None:
    assert format_time(parse_answer_time("0999-01-02 03:04:05")) == "0999-01-02 03:04:05"


def test_csv_cells_follow_the_header_and_neutralise_text() -> None:
    answer = answer_at("2018-03-21 17:00:00", 7, callid="=1+1", first_name="@me", last_name="-x",
                       comment="+33 6", custom_data="\tdata")

    assert len(csv_cells(answer)) == len(CSV_HEADER)
    assert csv_cells(answer) == (1, "2018-03-21 17:00:00", "'=1+1", 1, 1, "'@me", "'-x", "'+33 6", "'\tdata")


# --- the use cases -------------------------------------------------------------------------------
async def test_put_creates_then_is_idempotent_then_deactivates_what_is_no_longer_listed() -> None:
    system = System()
    request = [spec("Support", [5], ["Technical", "General"]), spec("Sales", [5, 6])]

    created = await system.service.put_qualifications(request)
    again = await system.service.put_qualifications(request)
    fewer = await system.service.put_qualifications(request[:1])

    assert (created.outcomes, created.deactivated) == (["created", "created"], [])
    assert [q.name for q in created.qualifications] == ["Support", "Sales"]
    assert [sub.name for sub in created.qualifications[0].sub_qualifications] == ["Technical", "General"]
    assert (again.outcomes, again.deactivated) == (["unchanged", "unchanged"], [])
    assert again.qualifications == created.qualifications
    assert (fewer.outcomes, fewer.deactivated) == (["unchanged"], ["Sales"])
    assert [(q.name, q.active) for q in await system.service.list_qualifications()] == [("Support", True),
                                                                                         ("Sales", False)]
    assert system.database.locks == 3


async def test_an_invalid_put_changes_nothing() -> None:
    system = System()
    await system.service.put_qualifications([spec("Support", [5])])

    with pytest.raises(InvalidQualification, match="positive"):
        await system.service.put_qualifications([spec("Sales"), spec("Bad", [0])])

    assert [(q.name, q.active) for q in await system.service.list_qualifications()] == [("Support", True)]


async def test_a_queue_offers_its_active_qualifications_and_an_unknown_queue_none() -> None:
    system = System()
    await system.service.put_qualifications([spec("Support", [5], ["Technical", "General"]), spec("Sales", [6])])
    await system.service.put_qualifications([spec("Support", [5], ["General"]), spec("Other", [5])])

    offered_to_5 = await system.service.queue_qualifications(5)

    assert [(q.name, [sub.name for sub in q.sub_qualifications]) for q in offered_to_5] == [
        ("Support", ["General"]), ("Other", [])]
    assert await system.service.queue_qualifications(6) == []  # Sales was deactivated
    assert await system.service.queue_qualifications(404) == []
    assert await system.service.queue_qualifications(0) == []


async def test_an_answer_is_stored_then_announced() -> None:
    system = System()
    [support] = (await system.service.put_qualifications([spec("Support", [1], ["Technical"])])).qualifications
    sub_id = support.sub_qualifications[0].id

    answer_id = await system.service.create_answer(fields(sub_id, agent=12, queue=1, callid="c-1"), "alicej")

    [(event, commits_then)] = system.publisher.published
    assert commits_then == system.database.commits  # published after the answer's commit
    assert event == QualificationAnswered(answer_id, sub_id, 1, 12, "c-1", "2018-03-21 17:00:00", "alicej",
                                          datetime.fromtimestamp(NOW, UTC), event.event_id)
    assert system.state.answered_by == {answer_id: "alicej"}


async def test_answers_of_unknown_or_inactive_sub_qualifications_are_refused_unannounced() -> None:
    system = System()
    [support] = (await system.service.put_qualifications([spec("Support", [1], ["Technical", "General"])])
                 ).qualifications
    technical, general = (sub.id for sub in support.sub_qualifications)
    await system.service.put_qualifications([spec("Support", [1], ["General"]), spec("Sales")])
    await system.service.put_qualifications([spec("Sales")])  # Support deactivated, General with it

    for sub_id in (technical, general, 999):
        with pytest.raises(UnknownSubQualification, match=rf"^sub-qualification {sub_id} is not an active "
                                                          r"sub-qualification of a qualification of queue 1$"):
            await system.service.create_answer(fields(sub_id), "alicej")
    with pytest.raises(InvalidQualificationAnswer, match=r"^time"):
        await system.service.create_answer(fields(technical, "yesterday"), "alicej")

    assert system.state.answers == []
    assert system.publisher.published == []


async def put_queue_5_and_6(system: System) -> tuple[int, int]:
    """Qualifications of queue 5 and of queue 6: a sub-qualification of each."""
    put = await system.service.put_qualifications([spec("Support", [5], ["Technical"]), spec("Sales", [6], ["Deal"])])
    support, sales = put.qualifications
    return support.sub_qualifications[0].id, sales.sub_qualifications[0].id


async def test_a_sub_qualification_of_another_queue_is_refused() -> None:
    system = System()
    of_5, of_6 = await put_queue_5_and_6(system)

    with pytest.raises(UnknownSubQualification) as refused:
        await system.service.create_answer(fields(of_6, queue=5, agent=2001), "alicej")

    assert refused.value.message == (f"sub-qualification {of_6} is not an active sub-qualification of a "
                                     "qualification of queue 5")
    assert await system.service.create_answer(fields(of_5, queue=5, agent=2001), "alicej") > 0
    assert [(answer.sub_qualification_id, answer.queue) for answer in system.state.answers] == [(of_5, 5)]


async def test_an_answer_for_a_queue_that_does_not_exist_is_refused() -> None:
    system = System()
    await system.service.put_qualifications([spec("Support", [424242], ["Technical"])])  # provisioned, yet no queue
    [support] = await system.service.list_qualifications()

    with pytest.raises(UnknownQueue) as refused:
        await system.service.create_answer(fields(support.sub_qualifications[0].id, queue=424242), "alicej")

    assert refused.value.message == "queue 424242 does not exist"
    assert (system.state.answers, system.publisher.published) == ([], [])
    assert "queue 424242" in system.call_centre.asked  # asked with the agents, at once: one round trip


@pytest.mark.parametrize(("login", "agent", "theirs"), [
    ("bobm", 2001, "theirs: 2002"),  # alicej's agent, given by bobm
    ("carole", 2001, "they have none"),
    ("alicej", 0, "theirs: 2001, 12, 1"),  # no agent named
    ("alicej", 2002, "theirs: 2001, 12, 1"),
])
async def test_an_answer_in_the_name_of_an_agent_not_the_callers_is_refused(login: str, agent: int,
                                                                             theirs: str) -> None:
    system = System()
    of_5, _ = await put_queue_5_and_6(system)

    with pytest.raises(NotYourAgent) as refused:
        await system.service.create_answer(fields(of_5, queue=5, agent=agent), login)

    assert refused.value.message == f"agent {agent} is not one of the agents of user {login!r} ({theirs})"
    assert (system.state.answers, system.publisher.published) == ([], [])


async def test_an_agent_number_is_compared_as_an_integer() -> None:
    system = System(call_centre=FakeCallCentre(agents={"alicej": ["agent-x", "\u00b2", "02001"]}))
    of_5, _ = await put_queue_5_and_6(system)

    assert await system.service.create_answer(fields(of_5, queue=5, agent=2001), "alicej") > 0
    with pytest.raises(NotYourAgent):
        await system.service.create_answer(fields(of_5, queue=5, agent=2), "alicej")


async def test_the_rules_are_checked_in_order_queue_sub_qualification_agent() -> None:
    system = System()
    of_5, of_6 = await put_queue_5_and_6(system)

    with pytest.raises(UnknownQueue):
        await system.service.create_answer(fields(of_6, queue=7, agent=2002), "alicej")
    with pytest.raises(UnknownSubQualification):
        await system.service.create_answer(fields(of_6, queue=5, agent=2002), "alicej")
    with pytest.raises(NotYourAgent):
        await system.service.create_answer(fields(of_5, queue=5, agent=2002), "alicej")
    with pytest.raises(InvalidQualificationAnswer):  # the answer's own shape comes before any of them
        await system.service.create_answer(fields(of_6, "yesterday", queue=7, agent=2002), "alicej")
    assert system.state.answers == []


async def test_without_telephony_answers_are_refused_and_nothing_is_stored() -> None:
    unconfigured, down = System(telephony=False), System(call_centre=FakeCallCentre(down=True))
    for system, error in ((unconfigured, AnswersNotConfigured), (down, Unreachable)):
        of_5, _ = await put_queue_5_and_6(system)
        with pytest.raises(error):
            await system.service.create_answer(fields(of_5, queue=5, agent=2001), "alicej")
        assert (system.state.answers, system.publisher.published) == ([], [])
    assert isinstance(AnswersNotConfigured(), DomainError)
    assert AnswersNotConfigured().kind is ErrorKind.NOT_CONFIGURED
    assert "XUC_TELEPHONY_ADDRESS" in AnswersNotConfigured().message


def read_csv(chunks: list[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))


async def test_export_selects_the_queue_and_range_in_time_order() -> None:
    system = System()
    system.state.answers = [
        answer_at("2018-03-22 00:00:00", 1),  # `to`: excluded
        answer_at("2018-03-21 09:30:00", 2, comment="second"),
        answer_at("2018-03-21 00:00:00", 3, comment="first, at from"),
        answer_at("2018-03-21 12:00:00", 4, queue=2),  # another queue
        answer_at("2018-03-20 23:59:59", 5),  # before `from`
        answer_at("2018-03-21 09:30:00", 6, comment="same time, later id"),
    ]

    rows = read_csv(await system.export(1, "2018-03-21", "2018-03-22"))

    assert rows[0] == list(CSV_HEADER)
    assert [(row[1], row[7]) for row in rows[1:]] == [("2018-03-21 00:00:00", "first, at from"),
                                                      ("2018-03-21 09:30:00", "second"),
                                                      ("2018-03-21 09:30:00", "same time, later id")]
    assert read_csv(await system.export(1, "2018-03-21 09:30:00", "2018-03-21 09:30:01"))[1:] == rows[2:]


async def test_an_empty_or_reversed_range_gives_the_header_alone() -> None:
    system = System()
    system.state.answers = [answer_at("2018-03-21 10:00:00", 1)]

    assert await system.export(1, "2018-03-21", "2018-03-21") == [
        b"sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,custom_data\r\n"]
    assert read_csv(await system.export(1, "2018-03-22", "2018-03-21")) == [list(CSV_HEADER)]
    assert system.database.pages_read == 0


async def test_bad_bounds_are_refused_before_anything_is_read() -> None:
    system = System()

    with pytest.raises(InvalidDate, match=r"^from"):
        await system.service.export_answers(1, "2018-13-01", "2018-03-21")
    with pytest.raises(InvalidDate, match=r"^to"):
        await system.service.export_answers(1, "2018-03-21", "tomorrow")


async def test_a_large_export_is_read_in_pages_and_sent_in_chunks() -> None:
    system = System(page_rows=10, chunk_characters=1000)
    system.state.answers = [answer_at(f"2018-03-21 10:{i // 60:02d}:{i % 60:02d}", 100 + i,
                                      comment=f"line {i}\nwith \"quotes\", commas and é")
                            for i in range(95)]

    chunks = await system.export(1, "2018-03-21", "2018-03-22")

    rows = read_csv(chunks)
    assert [row[7] for row in rows[1:]] == [f"line {i}\nwith \"quotes\", commas and é" for i in range(95)]
    assert system.database.pages_read == 10  # 9 full pages, then one short
    assert len(chunks) > 5
    assert all(len(chunk) < 1000 + 200 for chunk in chunks)  # a chunk ends at the row passing the size


# --- the event message ---------------------------------------------------------------------------
def test_an_answer_event_goes_to_its_queue_subject() -> None:
    event = QualificationAnswered(42, 7, 3, 12, "c-1", "2018-03-21 17:00:00", "alicej",
                                  datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))

    subject, message = qualification_event_message(event)

    assert subject == subjects.QUALIFICATION_ANSWERED.for_key("3") == "xuc.contacts.qualification.3"
    assert isinstance(message, contacts_events_pb2.QualificationAnswered)
    assert (message.answer_id, message.sub_qualification_id, message.queue, message.agent, message.callid,
            message.time, message.answered_by) == (42, 7, 3, 12, "c-1", "2018-03-21 17:00:00", "alicej")
    assert message.occurred_at.ToDatetime(UTC) == event.occurred_at
