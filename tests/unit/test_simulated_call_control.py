"""The PBX simulator's call control beyond answer/hold/hang-up (services/telephony/adapters/
simulated_calls.py): DTMF and transfers, with the exact channel events of each party, in order.
Ids come from a fixed clock: the n-th id is f"{EPOCH}.{n}"."""

from __future__ import annotations

import pytest

from services.telephony.adapters.simulated_calls import AsteriskIds, CallState
from services.telephony.adapters.simulated_transfers import TransferringCalls
from services.telephony.domain.errors import (
    CallNotFound,
    CallStateConflict,
    InvalidRequest,
    TransferNotFound,
)
from services.telephony.domain.pbx import CallIds, ChannelEvent, ChannelState, Originate

EPOCH = 1_700_000_000
ALICE, BOB, CAROL, DAVE = "1001", "1002", "1003", "1004"


def uid(n: int) -> str:
    return f"{EPOCH}.{n}"


@pytest.fixture
def pbx() -> TransferringCalls:
    machine = TransferringCalls(AsteriskIds(lambda: EPOCH + 0.75))
    machine.set_lines([ALICE, BOB, CAROL, DAVE])
    return machine


def established(pbx: TransferringCalls, source: str = ALICE, destination: str = BOB) -> str:
    linked = pbx.originate(Originate(source=source, destination=destination), auto_answer=True).ids.linked_id
    pbx.answer(destination)
    return linked


D, R, E, H, X = (ChannelState.DIALING, ChannelState.RINGING, ChannelState.ESTABLISHED, ChannelState.ON_HOLD,
                 ChannelState.RELEASED)


def seen(events: list[ChannelEvent]) -> list[tuple[str, str, ChannelState, str, str]]:
    """(line, other, state, unique id, linked id) of each event."""
    return [(e.number, e.other_number, e.state, e.unique_id, e.linked_id) for e in events]


# --- DTMF ------------------------------------------------------------------------------------------
def test_dtmf_keys_are_recorded_on_the_call_in_order_without_events(pbx: TransferringCalls) -> None:
    established(pbx)
    assert pbx.send_dtmf(ALICE, uid(1), "1").events == []
    pbx.send_dtmf(BOB, None, "#")
    pbx.send_dtmf(ALICE, uid(1), "a")
    [call] = pbx.calls()
    assert (call.state, call.dtmf) == (CallState.ESTABLISHED, "1#A")


def test_dtmf_needs_an_established_call_and_a_key(pbx: TransferringCalls) -> None:
    pbx.originate(Originate(source=ALICE, destination=BOB), auto_answer=True)
    with pytest.raises(CallNotFound, match="No established call"):
        pbx.send_dtmf(BOB, None, "1")  # still ringing
    pbx.answer(BOB)
    with pytest.raises(InvalidRequest, match="a DTMF key is one of"):
        pbx.send_dtmf(ALICE, None, "E")


# --- direct transfer -------------------------------------------------------------------------------
def test_a_direct_transfer_puts_the_other_party_through_to_the_destination(pbx: TransferringCalls) -> None:
    established(pbx)  # alice (1) calls bob (2)
    outcome = pbx.direct_transfer(BOB, uid(2), CAROL)
    assert seen(outcome.events) == [(BOB, ALICE, X, uid(2), uid(1)), (ALICE, CAROL, D, uid(1), uid(1)),
                                    (CAROL, ALICE, R, uid(3), uid(1))]
    assert outcome.ids == CallIds(uid(2), uid(1))
    assert seen(pbx.answer(CAROL).events) == [(CAROL, ALICE, E, uid(3), uid(1)), (ALICE, CAROL, E, uid(1), uid(1))]
    [call] = pbx.calls()
    assert (call.caller, call.callee, call.state) == (ALICE, CAROL, CallState.ESTABLISHED)


def test_a_direct_transfer_from_the_caller_and_to_an_external_number(pbx: TransferringCalls) -> None:
    established(pbx)
    outcome = pbx.direct_transfer(ALICE, None, "0611223344")
    assert seen(outcome.events) == [(ALICE, BOB, X, uid(1), uid(1)), (BOB, "0611223344", D, uid(2), uid(1))]
    pbx.set_dnd(DAVE, True)
    established(pbx, CAROL, ALICE)
    released = pbx.direct_transfer(ALICE, None, DAVE)  # to a line in DND: the call ends
    assert [(e.number, e.state) for e in released.events] == [(ALICE, X), (CAROL, D), (CAROL, X)]


def test_a_direct_transfer_needs_an_answered_call(pbx: TransferringCalls) -> None:
    pbx.originate(Originate(source=ALICE, destination=BOB), auto_answer=True)
    with pytest.raises(CallNotFound):
        pbx.direct_transfer(BOB, None, CAROL)  # bob's phone only rings
    pbx.answer(BOB)
    with pytest.raises(InvalidRequest, match="cannot call itself"):
        pbx.direct_transfer(BOB, None, ALICE)


# --- attended transfer -----------------------------------------------------------------------------
def test_an_attended_transfer_completed(pbx: TransferringCalls) -> None:
    established(pbx)  # alice (1) calls bob (2); bob transfers alice to carol
    started = pbx.attended_transfer(BOB, None, CAROL)
    assert seen(started.events) == [(BOB, ALICE, H, uid(2), uid(1)), (BOB, CAROL, D, uid(3), uid(3)),
                                    (CAROL, BOB, R, uid(4), uid(3))]
    with pytest.raises(CallStateConflict, match="has not answered"):
        pbx.complete_transfer(BOB)
    pbx.answer(CAROL)
    with pytest.raises(CallStateConflict, match="already in progress"):
        pbx.attended_transfer(BOB, uid(1), DAVE)

    completed = pbx.complete_transfer(BOB)

    assert seen(completed.events) == [(BOB, ALICE, X, uid(2), uid(1)), (BOB, CAROL, X, uid(3), uid(3)),
                                      (ALICE, CAROL, E, uid(1), uid(1)), (CAROL, ALICE, E, uid(4), uid(3))]
    assert completed.ids == CallIds(uid(2), uid(1))
    [call] = pbx.calls()
    assert (call.caller, call.callee, call.state, call.unique_ids) == (
        ALICE, CAROL, CallState.ESTABLISHED, (uid(1), uid(4)))
    assert seen(pbx.hangup(CAROL).events) == [(CAROL, ALICE, X, uid(4), uid(3)), (ALICE, CAROL, X, uid(1), uid(1))]
    with pytest.raises(TransferNotFound):
        pbx.complete_transfer(BOB)


def test_an_attended_transfer_cancelled_resumes_the_held_call(pbx: TransferringCalls) -> None:
    established(pbx)
    pbx.attended_transfer(BOB, None, CAROL)  # carol rings: cancelled before she answers
    cancelled = pbx.cancel_transfer(BOB)
    assert seen(cancelled.events) == [(BOB, CAROL, X, uid(3), uid(3)), (CAROL, BOB, X, uid(4), uid(3)),
                                      (BOB, ALICE, E, uid(2), uid(1))]
    assert [call.state for call in pbx.calls()] == [CallState.ESTABLISHED]
    assert pbx.ringing() == {}
    with pytest.raises(TransferNotFound, match="No attended transfer in progress on line 1002"):
        pbx.cancel_transfer(BOB)


def test_an_attended_transfer_whose_held_party_hung_up(pbx: TransferringCalls) -> None:
    established(pbx)
    pbx.attended_transfer(BOB, None, CAROL)
    pbx.answer(CAROL)
    pbx.hangup(ALICE, uid(1))  # the held party leaves
    with pytest.raises(CallNotFound, match="has ended"):
        pbx.complete_transfer(BOB)
    assert [(e.number, e.state) for e in pbx.cancel_transfer(BOB).events] == [(BOB, X), (CAROL, X)]
    assert pbx.calls() == []
