"""Controlling calls in progress over the CTI channel, against `xuc up` with the simulator: answer,
hold and resume, DTMF, attended and direct transfers, the current calls a reconnecting client
rebuilds its screen from, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Stack
from tests.e2e.cti.conftest import pbx
from tests.support.cti_client import CtiClient


def of_type(event_type: str, other: str | None = None) -> Callable[[Any], bool]:
    return lambda message: message["eventType"] == event_type and other in (None, message["otherDN"])


def test_answer_hold_resume_dtmf_current_calls_and_an_attended_transfer(
        cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    nina, omar, pia = open_cti("cti.nina"), open_cti("cti.omar"), open_cti("cti.pia")
    nina.send("dial", destination="1115")
    dialing = nina.expect("PhoneEvent", of_type("EventDialing"))
    omar.expect("PhoneEvent", of_type("EventRinging"))
    omar.send("answer")
    for socket in (nina, omar):
        socket.expect("PhoneEvent", of_type("EventEstablished"))

    nina.send("hold")
    nina.expect("PhoneEvent", of_type("EventOnHold"))
    nina.expect("PhoneStatusUpdate", lambda status: status["status"] == "ONHOLD")
    nina.send("hold")  # a toggle: resumes
    nina.expect("PhoneEvent", of_type("EventEstablished"))
    nina.send("getCurrentCallsPhoneEvents")
    [current] = nina.expect("CurrentCallsPhoneEvents")["events"]
    assert (current["eventType"], current["DN"], current["otherDN"], current["linkedId"]) == (
        "EventEstablished", "1114", "1115", dialing["linkedId"])
    assert current["callDirection"] == "Outgoing"
    nina.send("sendDtmf", key="5")
    nina.send("sendDtmf", key="Z")
    assert nina.expect("Error") == {"Error": "InvalidRequest", "command": "sendDtmf",
                                    "message": "a DTMF key is one of 0-9, *, #, A-D, got 'Z'"}
    [line] = [row for row in pbx(cti_stack, "calls").splitlines() if row.startswith(dialing["linkedId"])]
    assert line.endswith("  dtmf 5"), line

    nina.send("attendedTransfer", destination="1116")
    nina.expect("PhoneEvent", of_type("EventOnHold", "1115"))
    nina.expect("PhoneEvent", of_type("EventDialing", "1116"))
    pia.expect("PhoneEvent", of_type("EventRinging", "1114"))
    pia.send("answer")
    pia.expect("PhoneEvent", of_type("EventEstablished", "1114"))
    nina.send("completeTransfer")
    nina.expect("PhoneEvent", of_type("EventReleased", "1115"))
    nina.expect("PhoneEvent", of_type("EventReleased", "1116"))
    omar.expect("PhoneEvent", of_type("EventEstablished", "1116"))
    pia.expect("PhoneEvent", of_type("EventEstablished", "1115"))
    nina.send("getCurrentCallsPhoneEvents")
    assert nina.expect("CurrentCallsPhoneEvents") == {"events": []}

    omar.send("hangup")
    omar.expect("PhoneEvent", of_type("EventReleased"))
    pia.expect("PhoneEvent", of_type("EventReleased"))


def test_a_direct_transfer_and_the_refusals(cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    quinn, nina = open_cti("cti.quinn"), open_cti("cti.nina")
    quinn.send("hangup")
    refused = quinn.expect("Error")
    assert (refused["Error"], refused["command"]) == ("NoCurrentCall", "hangup")
    quinn.send("completeTransfer")
    assert quinn.expect("Error")["Error"] == "TransferNotFound"
    pbx(cti_stack, "call", "0622334455", "1117")
    quinn.expect("PhoneEvent", of_type("EventRinging"))
    quinn.send("answer")
    quinn.expect("PhoneEvent", of_type("EventEstablished"))
    quinn.send("directTransfer", destination="1114")
    quinn.expect("PhoneEvent", of_type("EventReleased"))
    ringing = nina.expect("PhoneEvent", of_type("EventRinging"))
    assert ringing["otherDN"] == "0622334455"
    nina.send("hangup", uniqueId=ringing["uniqueId"])
    nina.expect("PhoneEvent", of_type("EventReleased"))
    quinn.send("directTransfer")
    assert quinn.expect("Error")["Error"] == "InvalidArgument"
