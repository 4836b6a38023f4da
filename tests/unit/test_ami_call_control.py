"""What the AMI translator keeps for call control (services/telephony/adapters/ami/translate.py):
the Asterisk name of each line's channel, which the Hangup, PlayDTMF, Redirect and Atxfer actions
name."""

from __future__ import annotations

from services.telephony.adapters.ami.frames import Frame
from services.telephony.adapters.ami.translate import AmiTranslator
from tests.support.ami_events import (
    Chan,
    Headers,
    bridge_enter,
    bridge_leave,
    dial_begin,
    hangup,
    newchannel,
    status_item,
)

CALL = "1700000000.1"
ALICE = Chan("PJSIP/1001-00000001", CALL, CALL, "1001", "Alice Jones", exten="1002", state=4)
BOB = Chan("PJSIP/1002-00000002", "1700000000.2", CALL, "1002", connected_num="1001", exten="1002")
TRUNK = Chan("PJSIP/trunk-00000003", "1700000000.3", CALL, "0611223344", exten="0611223344")


def run(translator: AmiTranslator, *events: Headers) -> None:
    for headers in events:
        translator.translate(Frame(headers))


def test_the_names_of_the_channels_of_both_lines_of_a_call() -> None:
    translator = AmiTranslator({"1001", "1002"})
    run(translator, newchannel(ALICE), dial_begin(ALICE, BOB, "PJSIP/1002"))
    assert translator.channel_name("1001", ALICE.unique_id) == "PJSIP/1001-00000001"
    assert translator.channel_name("1002", BOB.unique_id) == "PJSIP/1002-00000002"
    # a channel is named only for its own line, and only while it lives
    assert translator.channel_name("1002", ALICE.unique_id) == ""
    run(translator, hangup(BOB))
    assert translator.channel_name("1002", BOB.unique_id) == ""
    assert translator.channel_name("1001", "1700000000.99") == ""


def test_a_channel_known_from_a_dial_begin_or_a_status_item_only() -> None:
    translator = AmiTranslator({"1002"})
    run(translator, dial_begin(TRUNK, BOB, "PJSIP/1002"))  # an incoming call: no Newchannel seen for bob
    assert translator.channel_name("1002", BOB.unique_id) == BOB.name
    assert translator.channel_name("0611223344", TRUNK.unique_id) == ""  # not a line
    resynchronised = AmiTranslator({"1001"})
    run(resynchronised, status_item(ALICE.with_state(6), bridge_id="b-1"))
    assert resynchronised.channel_name("1001", ALICE.unique_id) == ALICE.name


def test_the_other_party_from_the_dial_then_from_the_bridge() -> None:
    translator = AmiTranslator({"1001", "1002"})
    run(translator, newchannel(ALICE), dial_begin(ALICE, BOB, "PJSIP/1002"))
    assert (translator.peers.of(ALICE.unique_id), translator.peers.of(BOB.unique_id)) == (BOB.name, ALICE.name)
    # bob's call is picked up elsewhere: the bridge says who alice really talks to
    run(translator, bridge_enter(ALICE, "b-1", 1), bridge_enter(TRUNK, "b-1", 2))
    assert translator.peers.of(ALICE.unique_id) == TRUNK.name
    run(translator, bridge_leave(TRUNK, "b-1", 1), hangup(TRUNK))
    assert translator.peers.of(ALICE.unique_id) == BOB.name  # the dial's, left
    run(translator, hangup(BOB), hangup(ALICE))
    assert translator.peers.of(ALICE.unique_id) == ""


def test_no_single_other_party_in_a_conference() -> None:
    translator = AmiTranslator({"1001"})
    run(translator, *(bridge_enter(chan, "b-2", count) for count, chan in enumerate((ALICE, BOB, TRUNK), 1)))
    assert translator.peers.of(ALICE.unique_id) == ""
    translator.connection_lost()
    assert translator.peers.of(BOB.unique_id) == ""


def test_call_data_set_on_a_channel_travels_in_the_later_events_of_every_channel_of_its_call() -> None:
    translator = AmiTranslator({"1001", "1002"})
    run(translator, newchannel(ALICE), dial_begin(ALICE, BOB, "PJSIP/1002"))
    translator.add_call_data(ALICE.unique_id, {"USR_ticket": "42"})
    translator.add_call_data(ALICE.unique_id, {"USR_queue": "sales"})
    events = [event for headers in (bridge_enter(ALICE, "b-1", 1), bridge_enter(BOB, "b-1", 2))
              for event in translator.translate(Frame(headers))]
    assert [(event.number, dict(event.user_data)) for event in events] == [  # type: ignore[union-attr]
        ("1001", {"USR_ticket": "42", "USR_queue": "sales"}), ("1002", {"USR_ticket": "42", "USR_queue": "sales"})]
    translator.add_call_data("1700000000.99", {"USR_x": "1"})  # a channel no longer known: nothing to do
