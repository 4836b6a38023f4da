"""The calls in progress per line and the choice of a command's current call (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.telephony.domain.current_calls import CallCommand, CurrentCalls, checked_dtmf_key
from services.telephony.domain.errors import CallNotFound, CallStateConflict, InvalidRequest, NoCurrentCall
from services.telephony.domain.model import PhoneEventOccurred
from services.telephony.domain.pbx import ChannelEvent, ChannelState

D, R, E, H, X = (ChannelState.DIALING, ChannelState.RINGING, ChannelState.ESTABLISHED, ChannelState.ON_HOLD,
                 ChannelState.RELEASED)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(state: ChannelState, unique_id: str, linked_id: str = "", number: str = "1001") -> PhoneEventOccurred:
    return PhoneEventOccurred("alice", ChannelEvent(number, "1002", state, unique_id, linked_id or unique_id), NOW)


def calls_of(*events: PhoneEventOccurred) -> CurrentCalls:
    calls = CurrentCalls()
    for one in events:
        calls.apply(one)
    return calls


def test_the_latest_event_of_each_call_in_progress_oldest_call_first() -> None:
    calls = calls_of(event(D, "1.1"), event(R, "1.2"), event(E, "1.1"), event(R, "9.9", number="1002"))
    assert [(one.channel.unique_id, one.channel.state) for one in calls.of_line("1001")] == [("1.1", E), ("1.2", R)]
    calls.apply(event(X, "1.1"))
    assert [one.channel.unique_id for one in calls.of_line("1001")] == ["1.2"]
    calls.apply(event(X, "1.2"))
    assert calls.of_line("1001") == []
    assert len(calls.of_line("1002")) == 1
    calls.forget_all()
    assert calls.of_line("1002") == []


def test_a_released_channel_never_seen_is_ignored() -> None:
    calls = calls_of(event(X, "1.1"))
    assert calls.of_line("1001") == []


@pytest.mark.parametrize(("states", "command", "chosen"), [
    ((R,), CallCommand.ANSWER, 0),
    ((H, R, R), CallCommand.ANSWER, 1),  # the oldest ringing
    ((H, E), CallCommand.HOLD, 1),  # established before on hold
    ((H, R), CallCommand.HOLD, 0),  # nothing established: resume
    ((H, R, E), CallCommand.HANGUP, 2),
    ((H, R, D), CallCommand.HANGUP, 2),
    ((H, R), CallCommand.HANGUP, 1),
    ((H,), CallCommand.HANGUP, 0),
    ((R, E), CallCommand.DTMF, 1),
    ((H, R), CallCommand.TRANSFER, 0),
])
def test_the_current_call_without_unique_id(states: tuple[ChannelState, ...], command: CallCommand,
                                             chosen: int) -> None:
    calls = calls_of(*(event(state, f"1.{index}") for index, state in enumerate(states)))
    assert calls.choose("1001", command).unique_id == f"1.{chosen}"


def test_a_unique_id_names_the_channel_or_the_call() -> None:
    calls = calls_of(event(E, "1.1"), event(R, "2.2", "2.1"))
    assert calls.choose("1001", CallCommand.HANGUP, "2.2").unique_id == "2.2"
    assert calls.choose("1001", CallCommand.HANGUP, "2.1").unique_id == "2.2"  # by its linked id
    assert calls.choose("1001", CallCommand.ANSWER, "2.1").unique_id == "2.2"


def test_errors_say_why_there_is_nothing_to_act_on() -> None:
    with pytest.raises(NoCurrentCall, match="No call in progress on line 1001"):
        CurrentCalls().choose("1001", CallCommand.HANGUP)
    calls = calls_of(event(E, "1.1"))
    with pytest.raises(NoCurrentCall, match="No call to answer on line 1001: its calls are established"):
        calls.choose("1001", CallCommand.ANSWER)
    with pytest.raises(CallNotFound, match=re.escape("'7.7'")):
        calls.choose("1001", CallCommand.HANGUP, "7.7")
    with pytest.raises(CallNotFound):  # another line's call is not this line's
        calls_of(event(E, "3.3", number="1002")).choose("1001", CallCommand.HANGUP, "3.3")
    with pytest.raises(CallStateConflict, match=re.escape("Cannot answer call '1.1': it is established")):
        calls.choose("1001", CallCommand.ANSWER, "1.1")


@pytest.mark.parametrize("key", ["0", "9", "*", "#", "A", "d"])
def test_dtmf_keys(key: str) -> None:
    assert checked_dtmf_key(key) == key.upper()


@pytest.mark.parametrize("key", ["", "10", "E", "x", "**", "\n"])
def test_bad_dtmf_keys(key: str) -> None:
    with pytest.raises(InvalidRequest, match="a DTMF key is one of 0-9"):
        checked_dtmf_key(key)
