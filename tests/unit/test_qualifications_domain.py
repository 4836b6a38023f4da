"""Call qualifications: the domain rules (services/contacts/domain/qualifications.py): validating
qualifications, planning PutQualifications, validating answers, export bounds and CSV cells; and
the event message of an answer (services/contacts/adapters/qualification_events.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.contacts.adapters.qualification_events import qualification_event_message
from services.contacts.domain.errors import (
    InvalidDate,
    InvalidQualification,
    InvalidQualificationAnswer,
)
from services.contacts.domain.qualifications import (
    CSV_HEADER,
    MAX_COMMENT,
    MAX_CUSTOM_DATA,
    Qualification,
    QualificationAnswered,
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
from tests.unit.qualifications_fakes import answer_at, fields, spec
from xuc import subjects
from xucproto.events.v1 import contacts_events_pb2


# --- validating qualifications -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([spec("")], "must be 1 to 128 characters"),
        ([spec("x" * 129)], "must be 1 to 128 characters"),
        ([spec("Support\n")], "without control characters"),
        ([spec("Support"), spec("Sales"), spec("Support")], "qualification names appear more than once: Support"),
        ([spec("Support", subs=["Technical", "Technical"])], "appear more than once: Technical"),
        ([spec("Support", subs=[""])], "must be 1 to 128 characters"),
        ([spec("Support", subs=["y" * 129])], "must be 1 to 128 characters"),
        ([spec("Support", queues=[5, 0, -3])], "must be positive, got [-3, 0]"),
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
    with pytest.raises(InvalidQualification, match="more than once"):
        plan_put([SUPPORT], [spec("Support"), spec("Support")])


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
