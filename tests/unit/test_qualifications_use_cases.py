"""Call qualifications: the use cases (services/contacts/service_layer/qualifications.py) against
an in-memory fake of their ports (tests/unit/qualifications_fakes.py): PutQualifications, what a
queue offers, answers and the rules they are checked against, the CSV export.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

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
    QualificationAnswered,
)
from tests.unit.qualifications_fakes import NOW, FakeCallCentre, System, answer_at, fields, spec
from xuc.errors import DomainError, ErrorKind, Unreachable


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
