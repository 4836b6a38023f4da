"""Calls over the CTI channel against `xuc up` with the simulator: a dial from the socket, the
phone events of both parties with the spec's fields, phone statuses, several sockets of one user,
isolation between users, call history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Stack
from tests.e2e.cti.conftest import PHONE_USERS, pbx
from tests.support.cti_client import CtiClient

PHONE_EVENT_FIELDS = {"eventType", "DN", "otherDN", "otherDName", "linkedId", "uniqueId", "queueName",
                      "callDirection", "userData"}


def of_type(event_type: str) -> Callable[[Any], bool]:
    return lambda message: message["eventType"] == event_type


def barrier(cti: CtiClient) -> list[dict[str, Any]]:
    """Every frame the socket received before the answer to a ping sent now: an event routed to it
    before that moment is among them (the gateway queues a socket's frames in order)."""
    cti.send_raw('{"claz":"ping"}')
    cti.expect("Pong")
    return cti.received


def test_a_dial_from_the_socket_rings_the_callee_and_each_side_sees_its_events(
        cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    alice, bob, alice_again, carol = open_cti("cti.alice"), open_cti("cti.bob"), open_cti("cti.alice"), \
        open_cti("cti.kim")
    alice.send("dial", destination=PHONE_USERS["cti.bob"], variables={"crm": "ticket-42"})
    dialing = alice.expect("PhoneEvent", of_type("EventDialing"))
    assert set(dialing) == PHONE_EVENT_FIELDS
    assert (dialing["DN"], dialing["otherDN"], dialing["callDirection"]) == ("1101", "1102", "Outgoing")
    assert dialing["userData"]["USR_crm"] == "ticket-42"
    ringing = bob.expect("PhoneEvent", of_type("EventRinging"))
    assert (ringing["DN"], ringing["otherDN"], ringing["callDirection"]) == ("1102", "1101", "Incoming")
    assert ringing["linkedId"] == dialing["linkedId"]
    assert ringing["otherDName"] == "Alice Cti"
    assert bob.expect("PhoneStatusUpdate", lambda message: message["status"] == "RINGING")
    assert alice_again.expect("PhoneEvent", of_type("EventDialing"))["uniqueId"] == dialing["uniqueId"]

    pbx(cti_stack, "answer", "1102")
    for socket in (alice, alice_again, bob):
        assert socket.expect("PhoneEvent", of_type("EventEstablished"))["linkedId"] == dialing["linkedId"]
    pbx(cti_stack, "hangup", "1102")
    for socket in (alice, alice_again, bob):
        assert socket.expect("PhoneEvent", of_type("EventReleased"))["linkedId"] == dialing["linkedId"]
    assert bob.expect("PhoneStatusUpdate", lambda message: message["status"] == "AVAILABLE")
    # Another user's socket saw none of it.
    assert [frame for frame in barrier(carol) if frame["msgType"] in ("PhoneEvent", "PhoneStatusUpdate")
            and frame["ctiMessage"].get("DN", "1113") != "1113"] == []


def test_an_incoming_external_call_and_the_history(cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    dave = open_cti("cti.dave")
    pbx(cti_stack, "call", "0611223344", "1104")
    ringing = dave.expect("PhoneEvent", of_type("EventRinging"))
    assert (ringing["otherDN"], ringing["callDirection"]) == ("0611223344", "Incoming")
    pbx(cti_stack, "answer", "1104")
    dave.expect("PhoneStatusUpdate", lambda message: message["status"] == "BUSY")
    pbx(cti_stack, "hangup", "1104")
    dave.expect("PhoneEvent", of_type("EventReleased"))

    def answered_history() -> list[dict[str, Any]]:
        dave.send("getUserCallHistory", size=5)
        calls: list[dict[str, Any]] = dave.expect("CallHistory")
        return calls

    history = answered_history()
    while not history:  # the call is recorded just after its release is published
        history = answered_history()
    newest = history[0]
    assert newest["status"] == "answered"
    assert (newest["srcNum"], newest["dstNum"], newest["dstUsername"]) == ("0611223344", "1104", "cti.dave")
    assert (newest["dstFirstName"], newest["dstLastName"]) == ("Dave", "Cti")
    assert set(newest) >= {"start", "duration", "srcUsername", "srcFirstName", "srcLastName", "srcPhoneStatus",
                           "dstPhoneStatus"}
    dave.send("getUserCallHistoryByDays", days=1)
    assert dave.expect("CallHistory")[0] == newest
    dave.send("getUserCallHistory", size=0)
    assert dave.expect("Error")["Error"] == "InvalidArgument"


def test_dial_refusals_are_errors_and_the_socket_stays(open_cti: Callable[[str], CtiClient]) -> None:
    erin = open_cti("cti.erin")
    erin.send("dial", destination="not a number!")
    assert erin.expect("Error") == {"Error": "InvalidNumber", "message": "'not a number!' has no digit to dial",
                                    "command": "dial"}
    erin.send("dial")
    assert erin.expect("Error")["Error"] == "InvalidArgument"
    erin.send("dialByUsername", username="nobody.here")
    assert erin.expect("Error") == {"Error": "UserNotFound", "message": "No user 'nobody.here'",
                                    "command": "dialByUsername"}
    erin.send_raw('{"claz":"ping"}')
    assert erin.expect("Pong") == {}


def test_phone_hints_follow_the_watched_lines_until_unsubscribed(
        cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    frank = open_cti("cti.frank")
    frank.send("subscribeToPhoneHints", phoneNumbers=["1105", "1106", "0999"])
    hints = [frank.expect("PhoneHintStatusEvent") for _ in range(3)]
    assert sorted((hint["number"], hint["status"]) for hint in hints) == [("0999", -2), ("1105", 0), ("1106", 0)]
    pbx(cti_stack, "call", "0655443322", "1105")
    assert frank.expect("PhoneHintStatusEvent", lambda hint: hint["number"] == "1105")["status"] == 8
    frank.send("unsubscribeFromAllPhoneHints")
    pbx(cti_stack, "hangup", "1105")
    # A later status change of frank's own line: the phone statuses reach the gateway in order, so
    # once it is here the hang-up's has been routed too, after the unsubscription: not as a hint.
    pbx(cti_stack, "call", "0655443322", "1106")
    frank.expect("PhoneStatusUpdate", lambda message: message["status"] == "RINGING")
    pbx(cti_stack, "hangup", "1106")
    hints_sent = [(frame["ctiMessage"]["number"], frame["ctiMessage"]["status"]) for frame in frank.received
                  if frame["msgType"] == "PhoneHintStatusEvent"]
    assert hints_sent == [("0999", -2), ("1105", 0), ("1106", 0), ("1105", 8)]
