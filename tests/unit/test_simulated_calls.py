"""The PBX simulator's call state machine (services/telephony/adapters/simulated_calls.py).

Each test plays a scenario of docs/telephony.md ("Simulator") and checks the exact channel events,
in order. Ids come from a fixed clock, so they are predictable: the n-th id is f"{EPOCH}.{n}".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from services.telephony.adapters.simulated_calls import AsteriskIds, CallState, SimulatedCalls, SimulatedCallView
from services.telephony.domain.errors import CallNotFound, InvalidRequest
from services.telephony.domain.pbx import CallIds, ChannelEvent, ChannelState, ForwardKind, Originate

EPOCH = 1_700_000_000
ALICE, BOB, CAROL, DAVE = "1001", "1002", "1003", "1004"
MOBILE = "0611223344"
VARIABLES = {"XIVO_USERID": "42", "crm": "ticket-7"}

DIALING, RINGING, ESTABLISHED = ChannelState.DIALING, ChannelState.RINGING, ChannelState.ESTABLISHED
ON_HOLD, RELEASED = ChannelState.ON_HOLD, ChannelState.RELEASED


def uid(n: int) -> str:
    return f"{EPOCH}.{n}"


def event(number: str, other: str, state: ChannelState, unique: int, linked: int = 1,
          user_data: Mapping[str, str] | None = None, other_name: str = "") -> ChannelEvent:
    return ChannelEvent(number, other, state, uid(unique), uid(linked),
                        VARIABLES if user_data is None else user_data, other_name)


def click(source: str = ALICE, destination: str = BOB, **options: object) -> Originate:
    return Originate(source=source, destination=destination, caller_id_name="Alice Jones",
                     caller_id_number=source, variables=VARIABLES, **options)  # type: ignore[arg-type]


@pytest.fixture
def pbx() -> SimulatedCalls:
    machine = SimulatedCalls(AsteriskIds(lambda: EPOCH + 0.75))
    machine.set_lines([ALICE, BOB, CAROL, DAVE])
    return machine


def established(pbx: SimulatedCalls, source: str = ALICE, destination: str = BOB) -> str:
    """A call from `source` to `destination`, answered; its linked id."""
    linked = pbx.originate(click(source, destination), auto_answer=True).ids.linked_id
    pbx.answer(destination)
    return linked


# --- click-to-call ---------------------------------------------------------------------------------
def test_click_to_call_with_auto_answer_dials_and_rings_the_line_at_once(pbx: SimulatedCalls) -> None:
    outcome = pbx.originate(click(), auto_answer=True)

    assert outcome.events == [
        event(ALICE, BOB, DIALING, 1),
        event(BOB, ALICE, RINGING, 2, other_name="Alice Jones"),
    ]
    assert outcome.ids == CallIds(uid(1), uid(1))
    assert pbx.calls() == [SimulatedCallView(uid(1), ALICE, BOB, CallState.RINGING, (uid(1), uid(2)))]


def test_click_to_call_without_auto_answer_rings_the_source_first(pbx: SimulatedCalls) -> None:
    first = pbx.originate(click(), auto_answer=False)
    assert first.events == [event(ALICE, BOB, RINGING, 1)]
    assert pbx.ringing() == {uid(1): 1}

    dialled = pbx.answer(ALICE)

    assert dialled.events == [event(ALICE, BOB, DIALING, 1), event(BOB, ALICE, RINGING, 2, other_name="Alice Jones")]
    assert pbx.ringing() == {uid(1): 2}  # a new ring round: the adapter restarts the timer


def test_the_callee_answers_then_either_side_holds_resumes_and_hangs_up(pbx: SimulatedCalls) -> None:
    pbx.originate(click(), auto_answer=True)

    assert pbx.answer(BOB).events == [
        event(BOB, ALICE, ESTABLISHED, 2, other_name="Alice Jones"), event(ALICE, BOB, ESTABLISHED, 1)]
    assert pbx.calls()[0].state is CallState.ESTABLISHED
    assert pbx.ringing() == {}

    assert pbx.hold(ALICE).events == [event(ALICE, BOB, ON_HOLD, 1)]
    assert pbx.calls()[0].state is CallState.ON_HOLD
    assert pbx.hold(BOB).events == [event(BOB, ALICE, ON_HOLD, 2, other_name="Alice Jones")]
    assert pbx.resume(ALICE).events == [event(ALICE, BOB, ESTABLISHED, 1)]
    assert pbx.calls()[0].state is CallState.ON_HOLD  # Bob still holds
    assert pbx.resume(BOB).events == [event(BOB, ALICE, ESTABLISHED, 2, other_name="Alice Jones")]

    hung_up = pbx.hangup(BOB)

    assert hung_up.events == [event(BOB, ALICE, RELEASED, 2, other_name="Alice Jones"), event(ALICE, BOB, RELEASED, 1)]
    assert hung_up.call.state is CallState.RELEASED
    assert hung_up.ids == CallIds(uid(2), uid(1))
    assert pbx.calls() == []


def test_the_caller_hangs_up_a_ringing_call(pbx: SimulatedCalls) -> None:
    pbx.originate(click(), auto_answer=True)

    assert pbx.hangup(ALICE).events == [
        event(ALICE, BOB, RELEASED, 1), event(BOB, ALICE, RELEASED, 2, other_name="Alice Jones")]
    assert pbx.calls() == []


def test_a_call_to_an_external_number_rings_outside_until_that_number_answers(pbx: SimulatedCalls) -> None:
    outcome = pbx.originate(click(destination=MOBILE), auto_answer=True)
    assert outcome.events == [event(ALICE, MOBILE, DIALING, 1)]
    assert pbx.calls() == [SimulatedCallView(uid(1), ALICE, MOBILE, CallState.RINGING, (uid(1),))]

    answered = pbx.answer(MOBILE)
    assert answered.events == [event(ALICE, MOBILE, ESTABLISHED, 1)]
    assert answered.ids == CallIds(uid(1), uid(1))  # the external party has no channel: the call's id

    assert pbx.hold(MOBILE).events == []  # kept, not reported: only lines have channels
    assert pbx.calls()[0].state is CallState.ON_HOLD
    assert pbx.hangup(MOBILE).events == [event(ALICE, MOBILE, RELEASED, 1)]


# --- ring timeout, DND, forwards -----------------------------------------------------------------
def test_an_unanswered_call_is_released_at_the_ring_timeout(pbx: SimulatedCalls) -> None:
    linked = pbx.originate(click(), auto_answer=True).ids.linked_id

    outcome = pbx.ring_timeout(linked)

    assert outcome.events == [event(BOB, ALICE, RELEASED, 2, other_name="Alice Jones"), event(ALICE, BOB, RELEASED, 1)]
    assert outcome.call.state is CallState.RELEASED
    assert pbx.calls() == []


def test_a_ringing_source_that_does_not_answer_is_released(pbx: SimulatedCalls) -> None:
    linked = pbx.originate(click(), auto_answer=False).ids.linked_id

    assert pbx.ring_timeout(linked).events == [event(ALICE, BOB, RELEASED, 1)]


def test_the_ring_timeout_of_an_answered_call_does_nothing(pbx: SimulatedCalls) -> None:
    linked = established(pbx)

    outcome = pbx.ring_timeout(linked)

    assert outcome.events == []
    assert outcome.call.state is CallState.ESTABLISHED


def test_a_line_in_dnd_is_not_rung_and_the_caller_is_released(pbx: SimulatedCalls) -> None:
    pbx.set_dnd(BOB, True)

    outcome = pbx.originate(click(), auto_answer=True)

    assert outcome.events == [event(ALICE, BOB, DIALING, 1), event(ALICE, BOB, RELEASED, 1)]
    assert outcome.call == SimulatedCallView(uid(1), ALICE, BOB, CallState.RELEASED, (uid(1),))
    assert pbx.calls() == []

    pbx.set_dnd(BOB, False)
    assert pbx.originate(click(), auto_answer=True).events[1].state is RINGING


def test_an_unconditional_forward_rings_the_destination_instead(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.UNCONDITIONAL, True, CAROL)

    outcome = pbx.originate(click(), auto_answer=True)

    # Alice dialled Bob; Carol rings
    assert outcome.events == [event(ALICE, BOB, DIALING, 1), event(CAROL, ALICE, RINGING, 2, other_name="Alice Jones")]
    assert outcome.call.callee == CAROL
    assert pbx.answer(CAROL).events[1] == event(ALICE, CAROL, ESTABLISHED, 1)


def test_an_unconditional_forward_to_an_external_number_rings_outside(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.UNCONDITIONAL, True, MOBILE)

    assert pbx.originate(click(), auto_answer=True).events == [event(ALICE, BOB, DIALING, 1)]
    assert pbx.answer(MOBILE).events == [event(ALICE, MOBILE, ESTABLISHED, 1)]


def test_forwards_are_followed_but_never_in_a_loop(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.UNCONDITIONAL, True, CAROL)
    pbx.set_forward(CAROL, ForwardKind.UNCONDITIONAL, True, BOB)  # back to Bob: ignored, Carol rings

    assert pbx.originate(click(), auto_answer=True).call.callee == CAROL

    pbx.set_forward(CAROL, ForwardKind.UNCONDITIONAL, True, ALICE)  # to the caller: ignored too
    assert pbx.originate(click(), auto_answer=True).call.callee == CAROL


def test_a_disabled_forward_is_forgotten(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.UNCONDITIONAL, True, CAROL)
    pbx.set_forward(BOB, ForwardKind.UNCONDITIONAL, False, CAROL)

    assert pbx.originate(click(), auto_answer=True).call.callee == BOB


def test_a_no_answer_forward_rings_the_destination_at_the_ring_timeout(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.NO_ANSWER, True, CAROL)
    linked = pbx.originate(click(), auto_answer=True).ids.linked_id
    assert pbx.ringing() == {linked: 1}

    forwarded = pbx.ring_timeout(linked)

    # the destination rings before Bob is released: the call never looks over
    assert forwarded.events == [
        event(CAROL, ALICE, RINGING, 3, other_name="Alice Jones"),
        event(BOB, ALICE, RELEASED, 2, other_name="Alice Jones"),
    ]
    assert forwarded.call == SimulatedCallView(linked, ALICE, CAROL, CallState.RINGING, (uid(1), uid(3)))
    assert pbx.ringing() == {linked: 2}
    assert pbx.answer(CAROL).events == [
        event(CAROL, ALICE, ESTABLISHED, 3, other_name="Alice Jones"), event(ALICE, CAROL, ESTABLISHED, 1)]
    with pytest.raises(CallNotFound):
        pbx.answer(BOB)


def test_a_no_answer_forward_to_a_line_in_dnd_releases_the_call(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.NO_ANSWER, True, CAROL)
    pbx.set_dnd(CAROL, True)
    linked = pbx.originate(click(), auto_answer=True).ids.linked_id

    assert pbx.ring_timeout(linked).events == [
        event(BOB, ALICE, RELEASED, 2, other_name="Alice Jones"), event(ALICE, BOB, RELEASED, 1)]
    assert pbx.calls() == []


def test_a_busy_forward_applies_when_the_line_is_in_a_call(pbx: SimulatedCalls) -> None:
    pbx.set_forward(BOB, ForwardKind.BUSY, True, CAROL)
    assert pbx.originate(click(), auto_answer=True).call.callee == BOB  # Bob only rang: not busy
    pbx.answer(BOB)

    outcome = pbx.originate(click(DAVE, BOB), auto_answer=True)

    assert outcome.call.callee == CAROL
    assert outcome.events[1] == event(CAROL, DAVE, RINGING, 4, linked=3, other_name="Alice Jones")


def test_a_line_in_a_call_without_busy_forward_rings_again(pbx: SimulatedCalls) -> None:
    first = established(pbx)

    second = pbx.originate(click(DAVE, BOB), auto_answer=True)

    assert second.events[1] == event(BOB, DAVE, RINGING, 4, linked=3, other_name="Alice Jones")
    # Bob's red button ends the call he talks in, not the one ringing
    assert pbx.hangup(BOB).call.linked_id == first
    assert pbx.answer(BOB).call.linked_id == second.ids.linked_id


def test_the_unique_id_picks_the_call_when_a_line_has_several(pbx: SimulatedCalls) -> None:
    pbx.originate(click(ALICE, BOB), auto_answer=True)
    second = pbx.originate(click(CAROL, BOB), auto_answer=True)
    bob_channel = second.events[1].unique_id

    assert pbx.answer(BOB, unique_id=bob_channel).call.linked_id == second.ids.linked_id
    assert pbx.hangup(BOB, unique_id=second.ids.linked_id).call.linked_id == second.ids.linked_id
    with pytest.raises(CallNotFound, match=r"9\.9"):
        pbx.answer(BOB, unique_id="9.9")


# --- queue calls and calls placed through the Simulator API ------------------------------------------
def test_a_queue_call_rings_the_destination_with_the_caller_id(pbx: SimulatedCalls) -> None:
    outcome = pbx.originate(Originate(source="3000", destination=BOB, caller_id_name="Support",
                                      caller_id_number="0140000000", variables=VARIABLES, from_queue=True),
                            auto_answer=True)

    assert outcome.events == [event(BOB, "0140000000", RINGING, 1, other_name="Support")]
    assert outcome.ids == CallIds(uid(1), uid(1))
    assert pbx.calls() == [SimulatedCallView(uid(1), "0140000000", BOB, CallState.RINGING, (uid(1),))]
    assert pbx.answer(BOB).events == [event(BOB, "0140000000", ESTABLISHED, 1, other_name="Support")]


def test_a_queue_call_to_an_external_number_has_no_channel_but_an_id(pbx: SimulatedCalls) -> None:
    outcome = pbx.originate(Originate(source="3000", destination=MOBILE, from_queue=True), auto_answer=True)

    assert outcome.events == []
    assert outcome.ids == CallIds(uid(1), uid(1))
    assert pbx.calls() == [SimulatedCallView(uid(1), "3000", MOBILE, CallState.RINGING, ())]
    assert pbx.hangup(MOBILE).call.state is CallState.RELEASED


def test_an_external_number_calls_a_line(pbx: SimulatedCalls) -> None:
    placed = pbx.place_call(MOBILE, BOB)
    assert placed.events == [event(BOB, MOBILE, RINGING, 1, user_data={})]
    assert placed.call == SimulatedCallView(uid(1), MOBILE, BOB, CallState.RINGING, (uid(1),))

    assert pbx.answer(BOB).events == [event(BOB, MOBILE, ESTABLISHED, 1, user_data={})]
    assert pbx.hangup(MOBILE).events == [event(BOB, MOBILE, RELEASED, 1, user_data={})]


def test_a_line_placed_as_caller_dials_at_once(pbx: SimulatedCalls) -> None:
    assert pbx.place_call(ALICE, BOB).events == [
        event(ALICE, BOB, DIALING, 1, user_data={}), event(BOB, ALICE, RINGING, 2, user_data={})]


def test_an_external_call_to_a_line_in_dnd_is_released_at_once(pbx: SimulatedCalls) -> None:
    pbx.set_dnd(BOB, True)

    placed = pbx.place_call(MOBILE, BOB)

    assert placed.events == []
    assert placed.call.state is CallState.RELEASED


# --- ids and errors ----------------------------------------------------------------------------------
def test_ids_look_like_asterisk_and_every_channel_of_a_call_shares_the_linked_id(pbx: SimulatedCalls) -> None:
    pbx.originate(click(), auto_answer=True)
    pbx.answer(BOB)
    events = pbx.hangup(ALICE).events

    assert {e.linked_id for e in events} == {uid(1)}
    assert all(re.fullmatch(rf"{EPOCH}\.\d+", e.unique_id) for e in events)
    assert pbx.originate(click(), auto_answer=True).ids == CallIds(uid(3), uid(3))  # the sequence goes on


def test_user_data_is_the_originate_variables_and_nothing_else(pbx: SimulatedCalls) -> None:
    pbx.originate(click(), auto_answer=True)
    events = pbx.answer(BOB).events + pbx.hangup(BOB).events

    assert all(dict(e.user_data) == VARIABLES for e in events)


def test_unknown_numbers_and_calls_raise_call_not_found(pbx: SimulatedCalls) -> None:
    with pytest.raises(CallNotFound, match="5555: it is not a line"):
        pbx.originate(click(source="5555"), auto_answer=True)
    with pytest.raises(CallNotFound):
        pbx.answer(BOB)  # nothing rings
    with pytest.raises(CallNotFound):
        pbx.hangup(MOBILE)
    with pytest.raises(CallNotFound):
        pbx.ring_timeout("1.1")
    with pytest.raises(CallNotFound, match="Neither"):
        pbx.place_call(MOBILE, "0799887766")

    pbx.originate(click(), auto_answer=True)
    with pytest.raises(CallNotFound, match="established"):
        pbx.hold(ALICE)  # dialling, not established
    with pytest.raises(CallNotFound, match="on hold"):
        pbx.resume(BOB)


def test_a_line_cannot_call_itself(pbx: SimulatedCalls) -> None:
    with pytest.raises(InvalidRequest):
        pbx.originate(click(ALICE, ALICE), auto_answer=True)


def test_only_the_current_lines_ring(pbx: SimulatedCalls) -> None:
    pbx.set_lines([ALICE])

    assert pbx.originate(click(), auto_answer=True).events == [event(ALICE, BOB, DIALING, 1)]  # Bob is outside
    with pytest.raises(CallNotFound):
        pbx.originate(click(source=BOB, destination=ALICE), auto_answer=True)


def test_the_callers_events_say_so(pbx: SimulatedCalls) -> None:
    rang = pbx.originate(click(), auto_answer=False)
    assert [(e.number, e.state, e.is_caller) for e in rang.events] == [(ALICE, RINGING, True)]
    dialled = pbx.answer(ALICE)
    assert [(e.number, e.state, e.is_caller) for e in dialled.events] == [
        (ALICE, DIALING, True), (BOB, RINGING, False)]
