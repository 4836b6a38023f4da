"""AMI events -> port events (services/telephony/adapters/ami/translate.py), on realistic event
sequences built from the Asterisk AMI event documentation (tests/support/ami_events.py builders):
internal, incoming and outgoing external calls, originated calls, Local channels, line
availability, queue members (agents), and the resynchronisation after a reconnection."""

from __future__ import annotations

import pytest

from services.telephony.adapters.ami.frames import Frame
from services.telephony.adapters.ami.translate import AmiTranslator, endpoint_of, number_in
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentStatus,
    ChannelEvent,
    ChannelState,
    LineAvailability,
    PbxEvent,
)
from tests.support.ami_events import (
    Chan,
    Headers,
    bridge_enter,
    bridge_leave,
    dial_begin,
    dial_end,
    extension_status,
    hangup,
    hold,
    newchannel,
    newstate,
    queue_member,
    queue_member_added,
    queue_member_pause,
    queue_member_removed,
    status_item,
    unhold,
)

LINES = {"1001", "1002", "1003"}
CALL = "1700000000.1"
ALICE = Chan("PJSIP/1001-00000001", CALL, CALL, "1001", "Alice Jones", exten="1002", state=4)
BOB = Chan("PJSIP/1002-00000002", "1700000000.2", CALL, "1002", connected_num="1001",
           connected_name="Alice Jones", exten="1002")


def run(translator: AmiTranslator, *events: Headers) -> list[PbxEvent]:
    return [event for headers in events for event in translator.translate(Frame(headers))]


def channel(number: str, other: str, state: ChannelState, unique_id: str, linked_id: str = CALL,
            other_name: str = "") -> ChannelEvent:
    return ChannelEvent(number, other, state, unique_id, linked_id, other_name=other_name)


@pytest.fixture
def translator() -> AmiTranslator:
    return AmiTranslator(LINES)


@pytest.mark.parametrize("callee_caller_id", ["1002", "1001", "<unknown>"],
                         ids=["callee-own-number", "caller-number-copied", "unknown"])
def test_an_internal_call_from_dialling_to_hang_up(translator: AmiTranslator, callee_caller_id: str) -> None:
    bob = Chan(BOB.name, BOB.unique_id, CALL, callee_caller_id, connected_num="1001", connected_name="Alice Jones")
    assert run(translator, newchannel(ALICE), newchannel(bob)) == []
    assert run(translator, dial_begin(ALICE, bob, "PJSIP/1002")) == [
        channel("1001", "1002", ChannelState.DIALING, CALL),
        channel("1002", "1001", ChannelState.RINGING, bob.unique_id, other_name="Alice Jones"),
    ]
    assert run(translator, newstate(bob.with_state(5)), newstate(bob.with_state(6))) == []
    established = run(translator, dial_end(ALICE.with_state(6), bob.with_state(6)),
                      bridge_enter(ALICE, "b-1", 1), bridge_enter(bob, "b-1", 2))
    assert established == [
        channel("1001", "1002", ChannelState.ESTABLISHED, CALL),
        channel("1002", "1001", ChannelState.ESTABLISHED, bob.unique_id, other_name="Alice Jones"),
    ]
    assert run(translator, hold(bob)) == [
        channel("1002", "1001", ChannelState.ON_HOLD, bob.unique_id, other_name="Alice Jones")]
    assert run(translator, hold(bob)) == []
    assert run(translator, unhold(bob)) == [
        channel("1002", "1001", ChannelState.ESTABLISHED, bob.unique_id, other_name="Alice Jones")]
    assert run(translator, bridge_leave(bob, "b-1", 1), hangup(bob), bridge_leave(ALICE, "b-1", 0), hangup(ALICE)) == [
        channel("1002", "1001", ChannelState.RELEASED, bob.unique_id, other_name="Alice Jones"),
        channel("1001", "1002", ChannelState.RELEASED, CALL),
    ]


def test_the_bridge_alone_establishes_the_call(translator: AmiTranslator) -> None:
    run(translator, newchannel(ALICE), newchannel(BOB), dial_begin(ALICE, BOB, "1002"))
    assert run(translator, bridge_enter(ALICE, "b-1", 1), bridge_enter(BOB, "b-1", 2)) == [
        channel("1001", "1002", ChannelState.ESTABLISHED, CALL),
        channel("1002", "1001", ChannelState.ESTABLISHED, BOB.unique_id, other_name="Alice Jones"),
    ]


def test_an_incoming_external_call_rings_the_line_with_the_callers_number(translator: AmiTranslator) -> None:
    trunk_id = "1700000100.3"
    trunk = Chan("PJSIP/trunk-00000003", trunk_id, trunk_id, "0611223344", "John Doe", exten="1002",
                 context="from-extern", state=4)
    bob = Chan("PJSIP/1002-00000004", "1700000100.4", trunk_id, "1002", connected_num="0611223344",
               connected_name="John Doe")
    assert run(translator, newchannel(trunk), newchannel(bob)) == []
    assert run(translator, dial_begin(trunk, bob, "PJSIP/1002")) == [
        channel("1002", "0611223344", ChannelState.RINGING, bob.unique_id, trunk_id, "John Doe")]
    assert run(translator, dial_end(trunk, bob.with_state(6)), bridge_enter(trunk, "b-2", 1),
               bridge_enter(bob, "b-2", 2)) == [
        channel("1002", "0611223344", ChannelState.ESTABLISHED, bob.unique_id, trunk_id, "John Doe")]
    assert run(translator, hangup(trunk), hangup(bob)) == [
        channel("1002", "0611223344", ChannelState.RELEASED, bob.unique_id, trunk_id, "John Doe")]


def test_an_unanswered_incoming_call_is_released_from_ringing(translator: AmiTranslator) -> None:
    trunk = Chan("PJSIP/trunk-00000005", "1.5", "1.5", "0611223344", "John Doe", exten="1003", state=4)
    carol = Chan("PJSIP/1003-00000006", "1.6", "1.5", "1003")
    run(translator, newchannel(trunk), newchannel(carol), dial_begin(trunk, carol, "PJSIP/1003"))
    assert run(translator, dial_end(trunk, carol, "NOANSWER"), hangup(carol), hangup(trunk)) == [
        channel("1003", "0611223344", ChannelState.RELEASED, "1.6", "1.5", "John Doe")]


def test_an_outgoing_external_call_dials_the_number(translator: AmiTranslator) -> None:
    alice = Chan("PJSIP/1001-00000007", "2.7", "2.7", "1001", "Alice Jones", exten="0611223344", state=4)
    trunk = Chan("PJSIP/trunk-00000008", "2.8", "2.7", "0611223344")
    assert run(translator, newchannel(alice), newchannel(trunk), dial_begin(alice, trunk, "0611223344@trunk")) == [
        channel("1001", "0611223344", ChannelState.DIALING, "2.7", "2.7")]
    assert run(translator, dial_end(alice, trunk), hangup(trunk), hangup(alice)) == [
        channel("1001", "0611223344", ChannelState.ESTABLISHED, "2.7", "2.7"),
        channel("1001", "0611223344", ChannelState.RELEASED, "2.7", "2.7"),
    ]


def test_an_originated_call_rings_the_source_line_first(translator: AmiTranslator) -> None:
    source = Chan("PJSIP/1001-00000009", "xuc-ab-1", "xuc-ab-1", "<unknown>", exten="s")
    translator.expect_channel("xuc-ab-1", "1001", "1002")
    assert run(translator, newchannel(source)) == []
    assert run(translator, newstate(source.with_state(5))) == [
        channel("1001", "1002", ChannelState.RINGING, "xuc-ab-1", "xuc-ab-1")]
    answered = Chan(source.name, "xuc-ab-1", "xuc-ab-1", "1001", "Alice Jones", exten="1002", state=6)
    bob = Chan("PJSIP/1002-0000000a", "3.10", "xuc-ab-1", "1002")
    assert run(translator, newstate(answered), dial_begin(answered, bob, "PJSIP/1002")) == [
        channel("1001", "1002", ChannelState.DIALING, "xuc-ab-1", "xuc-ab-1"),
        channel("1002", "1001", ChannelState.RINGING, "3.10", "xuc-ab-1", "Alice Jones"),
    ]


def test_every_channel_of_an_originated_call_carries_its_data(translator: AmiTranslator) -> None:
    data = {"XIVO_USERID": "9", "CRM_ID": "42"}
    source = Chan("PJSIP/1001-00000019", "xuc-cd-1", "xuc-cd-1", "1001", "Alice Jones", exten="1002", state=6)
    translator.expect_channel("xuc-cd-1", "1001", "1002", data)
    bob = Chan("PJSIP/1002-0000001a", "3.20", "xuc-cd-1", "1002")
    events = run(translator, newchannel(source), dial_begin(source, bob, "PJSIP/1002"), hangup(bob), hangup(source))
    assert [(event.number, event.state, dict(event.user_data)) for event in events
            if isinstance(event, ChannelEvent)] == [
        ("1001", ChannelState.DIALING, data), ("1002", ChannelState.RINGING, data),
        ("1002", ChannelState.RELEASED, data), ("1001", ChannelState.RELEASED, data)]
    # a later call with the same numbers, not originated by us, carries no data
    again = Chan("PJSIP/1001-0000001b", "3.30", "3.30", "1001", exten="1002", state=4)
    bob2 = Chan("PJSIP/1002-0000001c", "3.31", "3.30", "1002")
    later = run(translator, newchannel(again), dial_begin(again, bob2, "PJSIP/1002"))
    assert [dict(event.user_data) for event in later if isinstance(event, ChannelEvent)] == [{}, {}]


def test_local_channels_are_never_a_lines_channel(translator: AmiTranslator) -> None:
    local1 = Chan("Local/3000@default-00000001;1", "4.1", "4.1", "1001", exten="3000")
    local2 = Chan("Local/3000@default-00000001;2", "4.2", "4.1", "1001", "Alice Jones", exten="3000", state=4)
    bob = Chan("PJSIP/1002-0000000b", "4.3", "4.1", "1002")
    assert run(translator, newchannel(local1), newchannel(local2), newstate(local1.with_state(5))) == []
    assert run(translator, dial_begin(local2, bob, "PJSIP/1002")) == [
        channel("1002", "1001", ChannelState.RINGING, "4.3", "4.1", "Alice Jones")]
    assert run(translator, dial_begin(local1, local2, "Local/1002@default")) == []


def test_channels_of_unknown_lines_are_not_reported(translator: AmiTranslator) -> None:
    dave = Chan("PJSIP/1009-0000000c", "5.1", "5.1", "1009", exten="1008", state=4)
    erin = Chan("PJSIP/1008-0000000d", "5.2", "5.1", "1008")
    assert run(translator, newchannel(dave), newchannel(erin), dial_begin(dave, erin, "PJSIP/1008"),
               dial_end(dave, erin), bridge_enter(dave, "b", 1), hold(dave), hangup(dave), hangup(erin)) == []


def test_the_endpoint_name_maps_a_channel_when_the_caller_id_does_not(translator: AmiTranslator) -> None:
    alice = Chan("PJSIP/1001-0000000e", "6.1", "6.1", "Reception", exten="1003", state=4)
    carol = Chan("PJSIP/1003-0000000f", "6.2", "6.1", "<unknown>")
    assert run(translator, newchannel(alice), dial_begin(alice, carol, "PJSIP/1003")) == [
        channel("1001", "1003", ChannelState.DIALING, "6.1", "6.1"),
        channel("1003", "1001", ChannelState.RINGING, "6.2", "6.1"),  # the calling line, not its caller id
    ]


def test_set_lines_changes_which_channels_are_reported(translator: AmiTranslator) -> None:
    translator.set_lines({"1001"})
    run(translator, newchannel(ALICE), newchannel(BOB))
    assert run(translator, dial_begin(ALICE, BOB, "PJSIP/1002")) == [
        channel("1001", "1002", ChannelState.DIALING, CALL)]


def test_a_hangup_of_a_channel_that_reported_nothing_says_nothing(translator: AmiTranslator) -> None:
    assert run(translator, newchannel(ALICE), hangup(ALICE)) == []


def test_extension_status_gives_line_availability_on_change(translator: AmiTranslator) -> None:
    assert run(translator, extension_status("1001", 0, "Idle"), extension_status("1001", 1, "InUse"),
               extension_status("1001", 8, "Ringing"), extension_status("1001", 4, "Unavailable"),
               extension_status("1001", 4, "Unavailable"), extension_status("1001", 0, "Idle"),
               extension_status("1002", -1, "Unknown"), extension_status("1003", 16, "Hold"),
               extension_status("1999", 4, "Unavailable")) == [
        LineAvailability("1001", True), LineAvailability("1001", False), LineAvailability("1001", True),
        LineAvailability("1002", False), LineAvailability("1003", True),
    ]


def test_queue_member_events_give_agent_states(translator: AmiTranslator) -> None:
    assert run(translator, queue_member_added("support", "2001", "1002")) == [
        AgentEvent("2001", "1002", AgentStatus.READY)]
    assert run(translator, queue_member_pause("support", "2001", "1002", True)) == [
        AgentEvent("2001", "1002", AgentStatus.PAUSED)]
    assert run(translator, queue_member_pause("support", "2001", "1002", False)) == [
        AgentEvent("2001", "1002", AgentStatus.READY)]
    assert run(translator, queue_member_removed("support", "2001", "1002")) == [
        AgentEvent("2001", "", AgentStatus.LOGGED_OUT)]


def test_an_agent_in_several_queues_is_paused_when_paused_in_all(translator: AmiTranslator) -> None:
    assert run(translator, queue_member_added("support", "2001", "1002"),
               queue_member_added("sales", "2001", "1002")) == [AgentEvent("2001", "1002", AgentStatus.READY)]
    assert run(translator, queue_member_pause("support", "2001", "1002", True)) == []
    assert run(translator, queue_member_pause("sales", "2001", "1002", True)) == [
        AgentEvent("2001", "1002", AgentStatus.PAUSED)]
    assert run(translator, queue_member_removed("support", "2001", "1002")) == []
    assert run(translator, queue_member_removed("sales", "2001", "1002")) == [
        AgentEvent("2001", "", AgentStatus.LOGGED_OUT)]


def test_queue_members_that_are_not_agents_are_ignored(translator: AmiTranslator) -> None:
    static = [(key, "PJSIP/1003" if key == "MemberName" else value)
              for key, value in queue_member_added("support", "x", "1003")]
    assert run(translator, static) == []


def test_a_reconnection_reports_lines_agents_and_calls_afresh(translator: AmiTranslator) -> None:
    run(translator, extension_status("1001", 0, "Idle"), queue_member_added("support", "2001", "1001"),
        queue_member_added("support", "2002", "1002"), newchannel(ALICE), newchannel(BOB),
        dial_begin(ALICE, BOB, "1002"))
    translator.connection_lost()
    translator.begin_resync()
    assert run(translator, extension_status("1001", 0, "Idle"), queue_member("support", "2002", "1002", paused=True),
               status_item(BOB.with_state(6), bridge_id="b-9"), status_item(ALICE.with_state(6), bridge_id="b-9")
               ) == [
        LineAvailability("1001", True),
        AgentEvent("2002", "1002", AgentStatus.PAUSED),
        channel("1002", "1001", ChannelState.ESTABLISHED, BOB.unique_id, other_name="Alice Jones"),
        channel("1001", "", ChannelState.ESTABLISHED, CALL),
    ]
    assert translator.end_agent_resync() == [AgentEvent("2001", "", AgentStatus.LOGGED_OUT)]
    assert run(translator, hangup(BOB)) == [
        channel("1002", "1001", ChannelState.RELEASED, BOB.unique_id, other_name="Alice Jones")]


def test_status_items_say_ringing_and_dialing_too(translator: AmiTranslator) -> None:
    assert run(translator, status_item(ALICE.with_state(4)), status_item(BOB.with_state(5))) == [
        channel("1001", "", ChannelState.DIALING, CALL),
        channel("1002", "1001", ChannelState.RINGING, BOB.unique_id, other_name="Alice Jones"),
    ]


def test_events_of_forgotten_channels_are_ignored_after_a_loss(translator: AmiTranslator) -> None:
    run(translator, newchannel(ALICE), newchannel(BOB), dial_begin(ALICE, BOB, "1002"))
    translator.connection_lost()
    assert run(translator, hold(ALICE), hangup(BOB), hangup(ALICE)) == []


@pytest.mark.parametrize(("name", "endpoint"), [("PJSIP/1001-00000001", "1001"), ("SIP/abc-def-0000002a", "abc-def"),
                                                ("Local/1001@default-00000001;1", ""), ("nonsense", "")])
def test_endpoint_of(name: str, endpoint: str) -> None:
    assert endpoint_of(name) == endpoint


@pytest.mark.parametrize(("dial_string", "number"), [("1002", "1002"), ("PJSIP/1002", "1002"),
                                                     ("0611223344@trunk", "0611223344"),
                                                     ("Local/1002@default/n", "1002"),
                                                     ("PJSIP/trunk/sip:0611@host", "0611")])
def test_number_in(dial_string: str, number: str) -> None:
    assert number_in(dial_string) == number


def test_the_channel_our_originate_created_is_the_caller(translator: AmiTranslator) -> None:
    source = Chan("PJSIP/1001-00000029", "xuc-ef-1", "xuc-ef-1", "<unknown>", exten="s")
    translator.expect_channel("xuc-ef-1", "1001", "1002")
    [ringing] = run(translator, newchannel(source), newstate(source.with_state(5)))
    assert isinstance(ringing, ChannelEvent)
    assert (ringing.state, ringing.is_caller) == (ChannelState.RINGING, True)
