"""The PBX simulator's call control beyond answer/hold/hang-up (services/telephony/adapters/
simulated_calls.py): DTMF and transfers, with the exact channel events of each party, in order.
Ids come from a fixed clock: the n-th id is f"{EPOCH}.{n}"."""

from __future__ import annotations

import pytest

from services.telephony.adapters.simulated_calls import AsteriskIds, CallState, SimulatedCalls
from services.telephony.domain.errors import CallNotFound, InvalidRequest
from services.telephony.domain.pbx import Originate

EPOCH = 1_700_000_000
ALICE, BOB, CAROL, DAVE = "1001", "1002", "1003", "1004"


def uid(n: int) -> str:
    return f"{EPOCH}.{n}"


@pytest.fixture
def pbx() -> SimulatedCalls:
    machine = SimulatedCalls(AsteriskIds(lambda: EPOCH + 0.75))
    machine.set_lines([ALICE, BOB, CAROL, DAVE])
    return machine


def established(pbx: SimulatedCalls, source: str = ALICE, destination: str = BOB) -> str:
    linked = pbx.originate(Originate(source=source, destination=destination), auto_answer=True).ids.linked_id
    pbx.answer(destination)
    return linked


# --- DTMF ------------------------------------------------------------------------------------------
def test_dtmf_keys_are_recorded_on_the_call_in_order_without_events(pbx: SimulatedCalls) -> None:
    established(pbx)
    assert pbx.send_dtmf(ALICE, uid(1), "1").events == []
    pbx.send_dtmf(BOB, None, "#")
    pbx.send_dtmf(ALICE, uid(1), "a")
    [call] = pbx.calls()
    assert (call.state, call.dtmf) == (CallState.ESTABLISHED, "1#A")


def test_dtmf_needs_an_established_call_and_a_key(pbx: SimulatedCalls) -> None:
    pbx.originate(Originate(source=ALICE, destination=BOB), auto_answer=True)
    with pytest.raises(CallNotFound, match="No established call"):
        pbx.send_dtmf(BOB, None, "1")  # still ringing
    pbx.answer(BOB)
    with pytest.raises(InvalidRequest, match="a DTMF key is one of"):
        pbx.send_dtmf(ALICE, None, "E")
