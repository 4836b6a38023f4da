"""`xuc pbx calls`: one line per simulated call, with the DTMF keys its lines sent when any."""

from __future__ import annotations

from xuc.pbx_commands import _render
from xucproto.telephony.v1 import telephony_pb2 as pb


def test_a_call_and_its_dtmf_keys() -> None:
    call = pb.SimulatedCall(linked_id="1.1", caller="1001", callee="1002", state="established",
                            unique_ids=["1.1", "1.2"])
    assert _render(call) == "1.1  1001 -> 1002  established  (1.1, 1.2)"
    call.dtmf = "12#"
    assert _render(call) == "1.1  1001 -> 1002  established  (1.1, 1.2)  dtmf 12#"
