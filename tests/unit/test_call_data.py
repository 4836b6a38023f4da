"""Call data (services/telephony/domain/call_data.py) and the simulator's side of it: variables
attached to a call in progress, and a call placed from an outside number (a user's mobile)."""

from __future__ import annotations

import pytest

from services.telephony.adapters.simulated_calls import AsteriskIds, CallState, SimulatedCalls
from services.telephony.domain.call_data import MAX_KEY, MAX_VALUE, MAX_VARIABLES, checked_call_data
from services.telephony.domain.errors import CallNotFound, InvalidCallData, InvalidRequest
from services.telephony.domain.pbx import ChannelState, Originate

EPOCH = 1_700_000_000
ALICE, BOB, MOBILE = "1001", "1002", "0611223344"


@pytest.fixture
def pbx() -> SimulatedCalls:
    machine = SimulatedCalls(AsteriskIds(lambda: EPOCH))
    machine.set_lines([ALICE, BOB])
    return machine


def test_valid_call_data_is_kept_as_given() -> None:
    assert checked_call_data({"USR_ticket": "42 / é", "USR_empty": ""}) == {"USR_ticket": "42 / é", "USR_empty": ""}
    assert checked_call_data({}, required=False) == {}


@pytest.mark.parametrize(("variables", "message"), [
    ({}, "at least one variable"),
    ({f"K{n}": "v" for n in range(MAX_VARIABLES + 1)}, f"At most {MAX_VARIABLES} variables"),
    ({"": "v"}, "A variable name is 1 to"),
    ({"USR_a b": "v"}, "A variable name is 1 to"),
    ({"USR_a=b": "v"}, "A variable name is 1 to"),
    ({"K" * (MAX_KEY + 1): "v"}, "A variable name is 1 to"),
    ({"USR_k": "v" * (MAX_VALUE + 1)}, f"longer than {MAX_VALUE} characters"),
    ({"USR_k": "line\r\nAction: Hangup"}, "contains a control character"),
    ({"USR_k": "nul\x00"}, "contains a control character"),
])
def test_call_data_that_breaks_a_rule_is_refused_with_the_rule(variables: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidCallData, match=message):
        checked_call_data(variables)


def test_data_set_on_a_call_is_carried_by_both_parties_later_events(pbx: SimulatedCalls) -> None:
    pbx.originate(Originate(source=ALICE, destination=BOB, variables={"USR_a": "1"}), auto_answer=True)
    assert pbx.set_data(ALICE, None, {"USR_b": "2"}).events == []  # no event of its own
    answered = pbx.answer(BOB).events
    assert [(event.number, dict(event.user_data)) for event in answered] == [
        (BOB, {"USR_a": "1", "USR_b": "2"}), (ALICE, {"USR_a": "1", "USR_b": "2"})]
    pbx.set_data(BOB, None, {"USR_a": "changed"})
    assert dict(pbx.hold(ALICE).events[0].user_data) == {"USR_a": "changed", "USR_b": "2"}


def test_data_needs_a_call_of_the_line(pbx: SimulatedCalls) -> None:
    with pytest.raises(CallNotFound):
        pbx.set_data(ALICE, None, {"USR_a": "1"})


def test_a_call_from_an_outside_number_rings_it_first_then_the_destination(pbx: SimulatedCalls) -> None:
    request = Originate(source=MOBILE, destination=BOB, caller_id_name="Alice Jones", caller_id_number=ALICE,
                        variables={"USR_a": "1"}, external_source=True)
    outcome = pbx.originate(request, auto_answer=False)
    assert outcome.events == []  # the mobile rings: no line of ours, no channel, no event
    assert (outcome.call.caller, outcome.call.callee, outcome.call.state) == (MOBILE, BOB, CallState.RINGING)
    assert outcome.ids.unique_id == outcome.ids.linked_id == outcome.call.linked_id
    ringing = pbx.answer(MOBILE).events  # the mobile answers: the destination is dialled
    assert [(e.number, e.other_number, e.state, e.other_name, dict(e.user_data)) for e in ringing] == [
        (BOB, MOBILE, ChannelState.RINGING, "Alice Jones", {"USR_a": "1"})]
    assert ringing[0].linked_id == outcome.call.linked_id


def test_with_auto_answer_the_outside_number_answers_at_once(pbx: SimulatedCalls) -> None:
    outcome = pbx.originate(Originate(source=MOBILE, destination=BOB, external_source=True), auto_answer=True)
    assert [(e.number, e.state) for e in outcome.events] == [(BOB, ChannelState.RINGING)]
    with pytest.raises(InvalidRequest):
        pbx.originate(Originate(source=MOBILE, destination=MOBILE, external_source=True), auto_answer=True)
    assert pbx.ring_timeout(outcome.call.linked_id).call.state is CallState.RELEASED
