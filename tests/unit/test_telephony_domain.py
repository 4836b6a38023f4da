"""Pure telephony rules: number sanitisation, phone status, call history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.telephony.domain.errors import InvalidNumber, InvalidQueues, InvalidRequest
from services.telephony.domain.history import (
    CallTracker,
    EndedCall,
    entry_for,
    format_duration,
    format_start,
)
from services.telephony.domain.model import Agent, Queue, check_agents_and_queues, checked_forward
from services.telephony.domain.numbers import sanitize
from services.telephony.domain.pbx import ChannelEvent, ChannelState
from services.telephony.domain.phone_status import LineStatuses, PhoneStatus, status_of

S = ChannelState


@pytest.mark.parametrize(("typed", "dialled"), [
    ("1002", "1002"),  # internal short numbers pass unchanged
    ("+33 (0)1 23 45 67 89", "0033123456789"),  # the trunk zero in parentheses is dropped
    ("+33(0)123456789", "0033123456789"),
    ("0033 (0)1 23 45 67 89", "0033123456789"),
    ("+39 06 1234 5678", "00390612345678"),  # Italy keeps its zero
    ("+44 20 7946 0958", "00442079460958"),
    ("01.23.45.67.89", "0123456789"),
    ("01-23-45-67-89", "0123456789"),
    ("01/23/45/67/89", "0123456789"),
    ("  06 12 34 56 78  ", "0612345678"),
    ("*31#", "*31#"),
    ("tel: 1002 ext", "1002"),
    ("1-800-FLOWERS", "1800"),  # letters are dropped, not translated
    ("(01) 23 45", "012345"),  # parentheses of a national number go, the digits stay
    ("+1 (555) 010-9999", "0015550109999"),
    ("+", None),
    ("", None),
    ("abc", None),
])
def test_sanitize(typed: str, dialled: str | None) -> None:
    if dialled is None:
        with pytest.raises(InvalidNumber):
            sanitize(typed)
    else:
        assert sanitize(typed) == dialled


@given(st.text(max_size=40))
def test_sanitize_keeps_only_dialable_characters(typed: str) -> None:
    try:
        dialled = sanitize(typed)
    except InvalidNumber:
        return
    assert dialled
    assert set(dialled) <= set("0123456789*#")


# --- phone status -------------------------------------------------------------------------------
@pytest.mark.parametrize(("states", "status"), [
    ([], PhoneStatus.AVAILABLE),
    ([S.RELEASED], PhoneStatus.AVAILABLE),
    ([S.DIALING], PhoneStatus.CALLING),
    ([S.ESTABLISHED], PhoneStatus.BUSY),
    ([S.RINGING], PhoneStatus.RINGING),
    ([S.ESTABLISHED, S.RINGING], PhoneStatus.BUSY_AND_RINGING),
    ([S.DIALING, S.RINGING], PhoneStatus.BUSY_AND_RINGING),
    ([S.ON_HOLD], PhoneStatus.ON_HOLD),
    ([S.ON_HOLD, S.ON_HOLD], PhoneStatus.ON_HOLD),
    ([S.ON_HOLD, S.ESTABLISHED], PhoneStatus.BUSY),
    ([S.ON_HOLD, S.RINGING], PhoneStatus.BUSY_AND_RINGING),
])
def test_status_of_channels(states: list[ChannelState], status: PhoneStatus) -> None:
    assert status_of(states) is status


def test_status_of_an_unavailable_line_without_calls() -> None:
    assert status_of([], available=False) is PhoneStatus.UNAVAILABLE
    assert status_of([S.RINGING], available=False) is PhoneStatus.RINGING


def channel(number: str, state: ChannelState, unique_id: str, linked_id: str = "1.1", other: str = "") -> ChannelEvent:
    return ChannelEvent(number, other, state, unique_id, linked_id)


def test_line_statuses_report_changes_only() -> None:
    lines = LineStatuses()
    assert lines.apply(channel("1001", S.DIALING, "1.1")) is PhoneStatus.CALLING
    assert lines.apply(channel("1001", S.DIALING, "1.1")) is None
    assert lines.apply(channel("1001", S.ESTABLISHED, "1.1")) is PhoneStatus.BUSY
    assert lines.apply(channel("1001", S.RINGING, "1.5", "1.5")) is PhoneStatus.BUSY_AND_RINGING
    assert lines.apply(channel("1001", S.RELEASED, "1.5", "1.5")) is PhoneStatus.BUSY
    assert lines.apply(channel("1001", S.RELEASED, "1.1")) is PhoneStatus.AVAILABLE
    assert lines.status("1001") is PhoneStatus.AVAILABLE
    assert lines.status("9999") is PhoneStatus.AVAILABLE


def test_line_availability_and_reset() -> None:
    lines = LineStatuses()
    assert lines.set_available("1001", False) is PhoneStatus.UNAVAILABLE
    assert lines.set_available("1001", False) is None
    assert lines.set_available("1001", True) is PhoneStatus.AVAILABLE
    lines.apply(channel("1001", S.RINGING, "1.1"))
    lines.apply(channel("1002", S.DIALING, "1.2"))
    assert sorted(lines.reset()) == ["1001", "1002"]
    assert lines.status("1001") is PhoneStatus.AVAILABLE


# --- history ------------------------------------------------------------------------------------
T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def play(events: list[tuple[int, ChannelEvent]]) -> list[EndedCall]:
    tracker = CallTracker()
    ended = [tracker.apply(event, T0 + timedelta(seconds=at)) for at, event in events]
    return [call for call in ended if call is not None]


def test_an_answered_internal_call_is_recorded_when_its_last_channel_ends() -> None:
    calls = play([
        (0, channel("1001", S.DIALING, "1.1", other="1002")),
        (0, channel("1002", S.RINGING, "1.2", other="1001")),
        (3, channel("1001", S.ESTABLISHED, "1.1", other="1002")),
        (3, channel("1002", S.ESTABLISHED, "1.2", other="1001")),
        (20, channel("1002", S.RELEASED, "1.2")),
        (21, channel("1001", S.RELEASED, "1.1")),
    ])
    assert calls == [EndedCall("1.1", "1001", "1002", T0, T0 + timedelta(seconds=21), True)]


def test_a_click_to_call_whose_own_line_rang_first_is_from_the_caller() -> None:
    calls = play([
        (0, channel("1001", S.RINGING, "1.1", other="0612345678")),
        (2, channel("1001", S.DIALING, "1.1", other="0612345678")),
        (9, channel("1001", S.RELEASED, "1.1")),
    ])
    assert [(c.src_number, c.dst_number, c.answered) for c in calls] == [("1001", "0612345678", False)]


def test_an_incoming_external_call_missed() -> None:
    calls = play([
        (0, channel("1002", S.RINGING, "7.1", "7.1", other="0612345678")),
        (18, channel("1002", S.RELEASED, "7.1", "7.1")),
    ])
    assert [(c.src_number, c.dst_number, c.answered, c.end - c.start) for c in calls] == [
        ("0612345678", "1002", False, timedelta(seconds=18))]


def test_history_entries_from_each_side() -> None:
    call = EndedCall("1.1", "1001", "1002", T0, T0 + timedelta(seconds=62), answered=False)
    assert entry_for(call, "bruce", "alicej", "bruce").status == "emitted"
    assert entry_for(call, "bruce", "alicej", "alicej").status == "missed"
    answered = EndedCall("1.1", "1001", "1002", T0, T0 + timedelta(seconds=62), answered=True)
    entry = entry_for(answered, "bruce", "alicej", "alicej")
    assert (entry.status, format_start(entry.start), format_duration(entry.duration)) == (
        "answered", "2026-11-28 09:00:00", "00:01:02")
    assert format_duration(timedelta(hours=27, seconds=5)) == "27:00:05"


# --- definitions --------------------------------------------------------------------------------
def test_forward_destination_rules() -> None:
    assert checked_forward(True, " 1002 ").destination == "1002"
    assert checked_forward(False, "").enabled is False
    with pytest.raises(InvalidRequest, match="needs a destination"):
        checked_forward(True, "")
    with pytest.raises(InvalidRequest, match="not a phone number"):
        checked_forward(True, "10;02")


def test_agents_and_queues_consistency() -> None:
    check_agents_and_queues([Agent("2001", "alicej")], [Queue(5, "support", "3000", ("2001",))])
    with pytest.raises(InvalidQueues) as error:
        check_agents_and_queues([Agent("2001", "alicej"), Agent("2001", "bruce")],
                                [Queue(5, "support", "3000", ("2002",)), Queue(5, "other", "3001")])
    assert [(violation.field, violation.message) for violation in error.value.violations] == [
        ("agents[1].number", "duplicate agent number '2001' (also at index 0)"),
        ("queues[0].agents[0]", "unknown agent '2002': not among the agents"),
        ("queues[1].id", "duplicate queue id 5 (also at index 0)"),
    ]


def test_agent_and_queue_values_follow_the_telephony_rules() -> None:
    with pytest.raises(InvalidQueues) as error:
        check_agents_and_queues([Agent("20 01", "alicej"), Agent("", "")],
                                [Queue(0, "", "3000"), Queue(6, "x" * 129, "+" + "1" * 40)])
    assert [(violation.field, violation.message[:30]) for violation in error.value.violations] == [
        ("agents[0].number", "an agent number must be a phon"),
        ("agents[1].number", "an agent number is required"),
        ("agents[1].login", "an agent needs a user"),
        ("queues[0].id", "a queue id must be positive, g"),
        ("queues[0].name", "a queue name must be 1 to 128 "),
        ("queues[1].name", "a queue name must be 1 to 128 "),
        ("queues[1].number", "a queue number must be a phone"),
    ]


def test_sanitize_refuses_an_endless_number() -> None:
    assert sanitize("1" * 40) == "1" * 40
    with pytest.raises(InvalidNumber, match="at most 40"):
        sanitize("1" * 41)


def test_a_click_to_call_nobody_picked_up_is_the_callers_not_a_missed_incoming_call() -> None:
    # Without auto-answer the caller's own line rings first; nobody answers it.
    calls = play([
        (0, ChannelEvent("1001", "1002", S.RINGING, "1.1", "1.1", is_caller=True)),
        (20, ChannelEvent("1001", "1002", S.RELEASED, "1.1", "1.1", is_caller=True)),
    ])
    assert [(c.src_number, c.dst_number, c.answered) for c in calls] == [("1001", "1002", False)]
