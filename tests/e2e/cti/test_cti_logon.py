"""The CTI channel's logon, heartbeat and envelope errors, against `xuc up`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import Stack, forge
from tests.e2e.cti.conftest import PHONE_USERS
from tests.support.cti_client import CTI_PATH, CtiClient


def test_logon_sends_loggedon_then_the_users_state_in_order(
        cti_stack: Stack, token_of: Callable[[str], str]) -> None:
    with CtiClient.open(cti_stack.url, token_of("cti.alice")) as cti:
        first = [cti.read() for _ in range(5)]
    assert [frame["msgType"] for frame in first] == ["LoggedOn", "UsersStatuses", "UserStatusUpdate",
                                                     "UserConfigUpdate", "PhoneStatusUpdate"]
    assert first[0]["ctiMessage"] == {}
    statuses = first[1]["ctiMessage"]
    assert [status["name"] for status in statuses] == ["available", "away", "outtolunch", "donotdisturb",
                                                       "berightback"]
    assert statuses[3] == {"name": "donotdisturb", "color": "#FF032D", "longName": "Do not disturb",
                           "actions": [{"name": "enablednd", "parameters": "true"}]}
    assert first[2]["ctiMessage"] == {"status": "available"}  # who never chose has the first status
    config = first[3]["ctiMessage"]
    assert config["fullName"] == "Alice Cti"
    assert (config["dndEnabled"], config["uncFwdEnabled"], config["agentId"]) == (False, False, 0)
    assert set(config) == {"userId", "fullName", "mobileNumber", "agentId", "dndEnabled", "naFwdEnabled",
                           "naFwdDestination", "uncFwdEnabled", "uncFwdDestination", "busyFwdEnabled",
                           "busyFwdDestination", "voiceMailId", "voiceMailEnabled"}
    assert first[4]["ctiMessage"] == {"status": "AVAILABLE"}


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_a_bad_token_gets_loggedonerror_then_1008(cti_stack: Stack, token: str) -> None:
    with CtiClient.open(cti_stack.url, token) as cti:
        assert cti.read() == {"msgType": "LoggedOnError", "ctiMessage": {"Error": "loggedOnFailed"}}
        assert cti.closed_with() == 1008


@pytest.mark.parametrize("kind", ["alg-none", "hs256-with-the-public-key", "es256-with-another-key",
                                  "tampered-login", "tampered-expiry", "unknown-kid", "truncated-signature"])
def test_a_forged_token_gets_loggedonerror_then_1008(cti_stack: Stack, token_of: Callable[[str], str],
                                                     kind: str) -> None:
    with CtiClient.open(cti_stack.url, forge(kind, token_of("cti.alice"), cti_stack)) as cti:
        assert cti.read() == {"msgType": "LoggedOnError", "ctiMessage": {"Error": "loggedOnFailed"}}
        assert cti.closed_with() == 1008


def test_every_ping_is_answered_and_bad_frames_get_an_error_the_socket_staying_open(
        open_cti: Callable[[str], CtiClient]) -> None:
    cti = open_cti("cti.bob")
    for _ in range(3):
        cti.send_raw('{"claz":"ping"}')
        assert cti.expect("Pong") == {}
    cti.send_raw("not json")
    assert cti.expect("Error")["Error"] == "MalformedFrame"
    cti.send_raw("[1, 2]")
    assert cti.expect("Error")["Error"] == "MalformedFrame"
    cti.send_raw(json.dumps({"claz": "other"}))
    assert cti.expect("Error")["Error"] == "UnknownClaz"
    cti.send("noSuchCommand")
    assert cti.expect("Error") == {"Error": "UnknownCommand", "message": "Unknown command 'noSuchCommand'",
                                   "command": "noSuchCommand"}
    cti.send("dnd", state="maybe")
    refused = cti.expect("Error")
    assert (refused["Error"], refused["command"]) == ("InvalidArgument", "dnd")
    cti.send_raw('{"claz":"ping"}')
    assert cti.expect("Pong") == {}


def test_a_frame_over_64_kib_closes_the_socket_with_1009(open_cti: Callable[[str], CtiClient]) -> None:
    cti = open_cti("cti.bob")
    cti.send("dial", destination="1" * (64 * 1024))
    assert cti.closed_with() == 1009


def test_a_page_of_another_origin_cannot_open_the_socket(
        cti_stack: Stack, token_of: Callable[[str], str]) -> None:
    url = cti_stack.url.replace("http://", "ws://") + f"{CTI_PATH}?token={token_of('cti.bob')}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with connect(url, origin=cti_stack.url) as same_origin:  # type: ignore[arg-type]
        assert json.loads(same_origin.recv(timeout=30))["msgType"] == "LoggedOn"


def test_the_token_is_not_written_to_the_log(cti_stack: Stack, token_of: Callable[[str], str]) -> None:
    token = token_of("cti.bob")
    with CtiClient.open(cti_stack.url, token) as cti:
        cti.expect("PhoneStatusUpdate")
    assert token not in cti_stack.log()
    assert PHONE_USERS["cti.bob"]
