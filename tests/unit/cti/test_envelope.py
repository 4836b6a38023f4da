"""The CTI channel's envelope: what a client frame means, and what a bad one is answered."""

from __future__ import annotations

import json

import pytest

from gateway.cti.envelope import PONG, Command, Ping, Refused, encode, parse


def test_a_ping_and_a_command_with_its_arguments() -> None:
    assert parse('{"claz":"ping"}') == Ping()
    command = parse('{"claz":"web","command":"dial","destination":"1002","variables":{"a":"b"}}')
    assert command == Command("dial", {"destination": "1002", "variables": {"a": "b"}})


@pytest.mark.parametrize(("frame", "reason"), [
    ("not json", "MalformedFrame"), (b"\xff\xfe", "MalformedFrame"), ("[1]", "MalformedFrame"),
    ('"text"', "MalformedFrame"), ('{"claz":"web"}', "MalformedFrame"),
    ('{"claz":"web","command":7}', "MalformedFrame"),
    ('{"command":"dial"}', "UnknownClaz"), ('{"claz":"admin","command":"x"}', "UnknownClaz"),
])
def test_frames_that_cannot_be_understood_are_refused_with_a_reason(frame: str, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(frame)
    assert refused.value.reason == reason


def test_arguments_are_read_as_the_original_clients_send_them() -> None:
    command = Command("x", {"number": 1002, "text": " 1002 ", "yes": "TRUE", "no": False, "count": "12",
                           "variables": {"crm": "42", "n": 3}, "list": ["1001", 1002]})
    assert (command.text("number"), command.text("text")) == ("1002", "1002")
    assert (command.flag("yes"), command.flag("no")) == (True, False)
    assert command.integer("count") == 12
    assert command.variables() == {"crm": "42", "n": "3"}
    assert command.call_variables() == {"USR_crm": "42", "USR_n": "3"}
    assert Command("x", {"variables": {"USR_crm": "1"}}).call_variables() == {"USR_crm": "1"}
    assert command.strings("list") == ["1001", "1002"]
    assert command.text("absent", required=False) == ""


@pytest.mark.parametrize(("arguments", "read"), [
    ({}, lambda command: command.text("destination")),
    ({"destination": ""}, lambda command: command.text("destination")),
    ({"destination": True}, lambda command: command.text("destination")),
    ({"destination": {"a": 1}}, lambda command: command.text("destination")),
    ({"destination": "1" * 1025}, lambda command: command.text("destination")),
    ({"state": "maybe"}, lambda command: command.flag("state")),
    ({"size": -1}, lambda command: command.integer("size")),
    ({"size": 1.5}, lambda command: command.integer("size")),
    ({"size": True}, lambda command: command.integer("size")),
    ({"variables": ["a"]}, lambda command: command.variables()),
    ({"variables": {"a": None}}, lambda command: command.variables()),
    ({"list": "1001"}, lambda command: command.strings("list")),
])
def test_bad_arguments_are_invalid_arguments_naming_the_command(arguments: dict[str, object], read: object) -> None:
    with pytest.raises(Refused) as refused:
        read(Command("dial", arguments))  # type: ignore[operator]
    assert (refused.value.reason, refused.value.command) == ("InvalidArgument", "dial")


def test_outgoing_frames_are_the_envelope_in_compact_utf8() -> None:
    assert json.loads(PONG) == {"msgType": "Pong", "ctiMessage": {}}
    assert encode("X", {"name": "Zoé"}) == '{"msgType":"X","ctiMessage":{"name":"Zoé"}}'
    refusal = Refused("InvalidArgument", "bad", "dial", extra={"phoneNb": "1001"})
    assert refusal.cti_message() == {"Error": "InvalidArgument", "message": "bad", "phoneNb": "1001", "command": "dial"}
