"""Call data and calls from the mobile over the CTI channel, against `xuc up` with the simulator:
`setData` variables travel in the later phone events of both parties, `dialFromMobile` rings the
user's mobile then the destination, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Stack
from tests.e2e.cti.conftest import MOBILES, PHONE_USERS, pbx
from tests.support.cti_client import CtiClient

RITA, SAM = PHONE_USERS["cti.rita"], PHONE_USERS["cti.sam"]


def of_type(event_type: str) -> Callable[[Any], bool]:
    return lambda message: message["eventType"] == event_type


def test_set_data_travels_in_the_later_events_of_both_parties(cti_stack: Stack,
                                                              open_cti: Callable[[str], CtiClient]) -> None:
    rita, sam = open_cti("cti.rita"), open_cti("cti.sam")
    rita.send("setData", variables={"ticket": "42"})
    refused = rita.expect("Error")
    assert (refused["Error"], refused["command"]) == ("NoCurrentCall", "setData")

    rita.send("dial", destination=SAM, variables={"crm": "acme"})
    dialing = rita.expect("PhoneEvent", of_type("EventDialing"))
    assert dialing["userData"]["USR_crm"] == "acme"
    sam.expect("PhoneEvent", of_type("EventRinging"))
    rita.send("setData", variables={"ticket": "42", "USR_step": "2"})
    rita.send("getCurrentCallsPhoneEvents")  # commands of a socket run in order: setData is done
    rita.expect("CurrentCallsPhoneEvents")
    sam.send("answer")
    for socket in (sam, rita):
        established = socket.expect("PhoneEvent", of_type("EventEstablished"))
        assert {key: value for key, value in established["userData"].items() if key.startswith("USR_")} == {
            "USR_crm": "acme", "USR_ticket": "42", "USR_step": "2"}

    rita.send("setData", variables={"bad key": "x"})
    refused = rita.expect("Error")
    assert (refused["Error"], refused["command"]) == ("InvalidCallData", "setData")
    assert "A variable name is 1 to 64 letters, digits or '_'" in refused["message"]
    rita.send("setData", variables={"note": "two\nlines"})
    assert "contains a control character" in rita.expect("Error")["message"]
    rita.send("hangup")
    rita.expect("PhoneEvent", of_type("EventReleased"))
    sam.expect("PhoneEvent", of_type("EventReleased"))


def test_dial_from_mobile_rings_the_mobile_then_the_destination(cti_stack: Stack,
                                                                open_cti: Callable[[str], CtiClient]) -> None:
    sam, rita = open_cti("cti.sam"), open_cti("cti.rita")
    rita.send("dialFromMobile", destination=SAM)  # rita has no mobile
    refused = rita.expect("Error")
    assert (refused["Error"], refused["command"]) == ("NoMobileNumber", "dialFromMobile")
    sam.send("dialFromMobile", destination="")
    assert sam.expect("Error")["Error"] == "InvalidArgument"

    sam.send("dialFromMobile", destination=RITA, variables={"crm": "7"})
    # the simulator's mobile answers at once (auto-answer), and the destination rings
    ringing = rita.expect("PhoneEvent", of_type("EventRinging"))
    assert (ringing["otherDN"], ringing["otherDName"]) == (MOBILES["cti.sam"], "Sam Cti")
    assert ringing["userData"]["USR_crm"] == "7"
    [call] = [row for row in pbx(cti_stack, "calls").splitlines() if row.startswith(ringing["linkedId"])]
    assert f"  {MOBILES['cti.sam']} -> {RITA}  ringing  " in call, call  # the mobile called, rita rings
    rita.send("hangup")
    rita.expect("PhoneEvent", of_type("EventReleased"))
    # sam's line took no part: their sockets got no phone event of the call
    sam.send("getCurrentCallsPhoneEvents")
    assert sam.expect("CurrentCallsPhoneEvents") == {"events": []}
