"""The CTI channel with the Asterisk adapter: `xuc up` with XUC_PBX=ami://... at the scripted AMI
server (tests/support/ami_server.py, in a background event loop). A dial sent on a socket becomes
an AMI Originate; the AMI events of the call become the phone events of both users' sockets,
their phone statuses and hints, as with the simulator."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.ami_events import Chan, bridge_enter, dial_begin, dial_end, hangup, newchannel, newstate
from tests.support.ami_server import ScriptedAmiServer
from tests.support.background import BackgroundLoop
from tests.support.cti_client import CtiClient

pytestmark = pytest.mark.timeout(180)

USERS = {"ami.alice": "1301", "ami.bob": "1302"}
PASSWORD = "ami-cti-secret"


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    with BackgroundLoop() as running:
        yield running


@pytest.fixture
def ami(loop: BackgroundLoop) -> Iterator[ScriptedAmiServer]:
    server = ScriptedAmiServer(username="xuc", secret=f"ami-{secrets.token_hex(8)}")
    loop.run(server.start())
    try:
        yield server
    finally:
        loop.run(server.close())


def _token(stack: Stack, login: str) -> str:
    response = httpx.post(f"{stack.url}/xuc/api/2.0/auth/login", json={"login": login, "password": PASSWORD},
                          timeout=30.0)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def of_type(event_type: str) -> Callable[[Any], bool]:
    return lambda message: message["eventType"] == event_type


def test_a_dial_on_the_socket_is_an_originate_and_the_ami_events_reach_both_sockets(
        make_stack: Callable[..., Stack], ami: ScriptedAmiServer, loop: BackgroundLoop) -> None:
    stack = make_stack(XUC_PBX=ami.url())
    path = stack.write_file("phones.yaml", {"users": [
        {"login": login, "password": PASSWORD, "firstname": login.split(".")[1].capitalize(), "lastname": "Ami",
         "line": line} for login, line in USERS.items()]})
    stack.xuc("provision", str(path))
    loop.run(ami.wait_for_action("Status", within=30.0))  # logged in and resynchronised
    alice_line, bob_line = USERS["ami.alice"], USERS["ami.bob"]
    with CtiClient.open(stack.url, _token(stack, "ami.alice")) as alice, \
            CtiClient.open(stack.url, _token(stack, "ami.bob")) as bob, \
            CtiClient.open(stack.url, _token(stack, "ami.alice")) as watcher:
        for socket in (alice, bob, watcher):
            socket.expect("PhoneStatusUpdate")
        watcher.send("subscribeToPhoneHints", phoneNumbers=[bob_line])
        assert watcher.expect("PhoneHintStatusEvent") == {"number": bob_line, "status": 0}

        alice.send("dial", destination=bob_line, variables={"crm": "7"})
        originate = loop.run(ami.wait_for_action("Originate"))
        assert originate["Exten"] == bob_line
        call = originate["ChannelId"]
        caller = Chan(f"PJSIP/{alice_line}-{secrets.token_hex(4)}", call, call, alice_line, "Alice Ami",
                      exten=bob_line)
        callee_id = f"{call}.2"
        callee = Chan(f"PJSIP/{bob_line}-{secrets.token_hex(4)}", callee_id, call, bob_line, "Bob Ami",
                      alice_line, "Alice Ami")
        loop.run(ami.push_events([newchannel(caller), newstate(caller.with_state(5)), newstate(caller.with_state(6)),
                                  newchannel(callee), dial_begin(caller.with_state(6), callee, f"PJSIP/{bob_line}"),
                                  newstate(callee.with_state(5))]))
        dialing = alice.expect("PhoneEvent", of_type("EventDialing"))
        assert (dialing["DN"], dialing["otherDN"], dialing["callDirection"], dialing["linkedId"]) == (
            alice_line, bob_line, "Outgoing", call)
        assert dialing["userData"]["USR_crm"] == "7"
        ringing = bob.expect("PhoneEvent", of_type("EventRinging"))
        assert (ringing["DN"], ringing["otherDN"], ringing["otherDName"], ringing["callDirection"]) == (
            bob_line, alice_line, "Alice Ami", "Incoming")
        assert watcher.expect("PhoneHintStatusEvent", lambda hint: hint["status"] == 8) == {
            "number": bob_line, "status": 8}

        loop.run(ami.push_events([dial_end(caller.with_state(6), callee.with_state(6)),
                                  bridge_enter(caller.with_state(6), "b-1", 1),
                                  bridge_enter(callee.with_state(6), "b-1", 2)]))
        for socket in (alice, bob):
            socket.expect("PhoneEvent", of_type("EventEstablished"))
        bob.expect("PhoneStatusUpdate", lambda status: status["status"] == "BUSY")
        # Call control through the AMI: DTMF is PlayDTMF on the user's channel; a SIP phone cannot
        # be made to answer or hold from the AMI: the refusal says so.
        alice.send("sendDtmf", key="7")
        dtmf = loop.run(ami.wait_for_action("PlayDTMF"))
        assert (dtmf["Channel"], dtmf["Digit"]) == (caller.name, "7")
        alice.send("hold")
        refused = alice.expect("Error")
        assert (refused["Error"], refused["command"]) == ("NotSupportedByPbx", "hold")
        alice.send("getCurrentCallsPhoneEvents")
        [current] = alice.expect("CurrentCallsPhoneEvents")["events"]
        assert (current["eventType"], current["uniqueId"]) == ("EventEstablished", call)
        bob.send("hangup")
        assert loop.run(ami.wait_for_action("Hangup"))["Channel"] == callee.name
        loop.run(ami.push_events([hangup(callee.with_state(6)), hangup(caller.with_state(6))]))
        for socket in (alice, bob, watcher):
            socket.expect("PhoneEvent", of_type("EventReleased"))
        assert watcher.expect("PhoneHintStatusEvent", lambda hint: hint["status"] == 0)
