"""AmiPbx (services/telephony/adapters/ami/) against the scripted AMI server over real TCP
(tests/support/ami_server.py), what crosses the wire: the actions each command sends (Originate,
DBPut, the queue member actions) and the PBX's events in -> port events out, even with frames cut
across TCP writes. Back-off and timeouts are shortened (tests/support/ami_adapter.py)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from services.telephony.adapters.ami import client as client_module
from services.telephony.adapters.ami.adapter import AmiPbx
from services.telephony.adapters.ami.frames import Frame, FrameParser
from services.telephony.domain.errors import InvalidRequest, PbxRefused
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentStatus,
    CallIds,
    ChannelState,
    ForwardKind,
    LineAvailability,
    Originate,
)
from tests.support.ami_adapter import AGENT, Sink, connected, started
from tests.support.ami_events import (
    Chan,
    bridge_enter,
    dial_begin,
    dial_end,
    extension_status,
    hangup,
    hold,
    newchannel,
    newstate,
    queue_member_pause,
)
from tests.support.ami_server import ScriptedAmiServer


async def test_originate_sends_the_action_and_returns_the_channel_ids(server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    ids = await pbx.originate(Originate("1001", "0611223344", caller_id_name="Alice Jones", caller_id_number="1001",
                                        variables={"XUC_CALLID": "42", "NOTE": "a=b: c"}))
    action = await server.wait_for_action("Originate")
    assert action["Channel"] == "PJSIP/1001"
    assert (action["Exten"], action["Context"], action["Priority"], action["Async"]) == (
        "0611223344", "default", "1", "true")
    assert action["CallerID"] == '"Alice Jones" <1001>'
    assert action.all("Variable") == ["XUC_CALLID=42", "NOTE=a=b: c"]
    assert ids == CallIds(action["ChannelId"], action["ChannelId"])


async def test_originate_from_a_queue_uses_a_local_channel(server: ScriptedAmiServer, sink: Sink) -> None:
    pbx = await started(server.url(), sink, context="xuc-internal", channel_template="SIP/{line}")
    try:
        await sink.until(connected(True))
        await pbx.originate(Originate("3000", "1002", from_queue=True))
        action = await server.wait_for_action("Originate")
        assert (action["Channel"], action["Context"]) == ("Local/3000@xuc-internal", "xuc-internal")
        assert "CallerID" not in action
        assert "Variable" not in action
    finally:
        await pbx.close()


async def test_originate_returns_the_ids_of_the_originate_response(sink: Sink) -> None:
    server = ScriptedAmiServer(honour_channel_id=False, originate_response_delay=0.05)
    await server.start()
    pbx = await started(server.url(), sink)
    try:
        await sink.until(connected(True))
        assert await pbx.originate(Originate("1001", "1002")) == CallIds("1700000000.1", "1700000000.1")
    finally:
        await pbx.close()
        await server.close()


async def test_originate_does_not_wait_long_for_the_originate_response(sink: Sink) -> None:
    # The OriginateResponse never comes within the test: an originate that waited for it would not return.
    server = ScriptedAmiServer(honour_channel_id=False, originate_response_delay=3600.0)
    await server.start()
    pbx = await started(server.url(), sink, originate_wait=0.1)
    try:
        await sink.until(connected(True))
        ids = await asyncio.wait_for(pbx.originate(Originate("1001", "1002")), 30.0)
        assert ids.unique_id == ids.linked_id == (await server.wait_for_action("Originate"))["ChannelId"]
    finally:
        await pbx.close()
        await server.close()


async def test_a_line_break_in_a_variable_is_refused_before_anything_is_sent(
        server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    with pytest.raises(InvalidRequest):
        await pbx.originate(Originate("1001", "1002", variables={"X": "1\r\nAction: Hangup"}))
    assert server.actions_named("Originate") == []
    assert server.actions_named("Hangup") == []


async def test_user_services_are_put_in_the_asterisk_database(server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    await pbx.set_dnd("1001", True)
    await pbx.set_dnd("1001", False)
    await pbx.set_forward("1002", ForwardKind.UNCONDITIONAL, True, "0611223344")
    await pbx.set_forward("1002", ForwardKind.NO_ANSWER, False, "0611223344")
    await pbx.set_forward("1002", ForwardKind.BUSY, True, "1001")
    puts = [(frame["Family"], frame["Key"], frame["Val"]) for frame in server.actions_named("DBPut")]
    assert puts == [("xuc/1001", "dnd", "1"), ("xuc/1001", "dnd", "0"), ("xuc/1002", "fwd_unc", "0611223344"),
                    ("xuc/1002", "fwd_rna", ""), ("xuc/1002", "fwd_busy", "1001")]


async def test_agent_commands_are_queue_member_actions(server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    await pbx.agent_login(AGENT)
    await pbx.agent_pause(AGENT, True)
    await pbx.agent_pause(AGENT, False)
    await pbx.agent_logout(AGENT)
    adds = [(f["Queue"], f["Interface"], f["MemberName"]) for f in server.actions_named("QueueAdd")]
    assert adds == [("support", "PJSIP/1002", "Agent/2001"), ("sales", "PJSIP/1002", "Agent/2001")]
    pauses = [(f["Queue"], f["Interface"], f["Paused"]) for f in server.actions_named("QueuePause")]
    assert pauses == [("support", "PJSIP/1002", "true"), ("sales", "PJSIP/1002", "true"),
                      ("support", "PJSIP/1002", "false"), ("sales", "PJSIP/1002", "false")]
    removes = [(f["Queue"], f["Interface"]) for f in server.actions_named("QueueRemove")]
    assert removes == [("support", "PJSIP/1002"), ("sales", "PJSIP/1002")]


async def test_an_agent_already_in_or_already_out_is_not_an_error(server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    server.errors["QueueAdd"] = "Unable to add interface: Already there"
    server.errors["QueueRemove"] = "Unable to remove interface: Not there"
    await pbx.agent_login(AGENT)
    await pbx.agent_logout(AGENT)
    server.errors["QueuePause"] = "Interface not found"
    with pytest.raises(PbxRefused, match="refused QueuePause: Interface not found"):
        await pbx.agent_pause(AGENT, True)


class RecordingParser(FrameParser):
    """Remembers the size of every read the client fed it."""

    reads: ClassVar[list[int]] = []

    def feed(self, data: bytes) -> list[Frame]:
        self.reads.append(len(data))
        return super().feed(data)


async def test_pbx_events_become_port_events_even_cut_across_tcp_writes(
        server: ScriptedAmiServer, sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "FrameParser", RecordingParser)
    monkeypatch.setattr(RecordingParser, "reads", [])
    pbx = await started(server.url(), sink)
    try:
        await sink.until(connected(True))
        await server.wait_for_action("Status")
        reads_before = len(RecordingParser.reads)
        await check_a_call_cut_in_pieces(server, sink)
        assert len(RecordingParser.reads) - reads_before > 50  # the client did see the pieces apart
        assert 1 in RecordingParser.reads[reads_before:]
    finally:
        await pbx.close()


async def check_a_call_cut_in_pieces(server: ScriptedAmiServer, sink: Sink) -> None:
    call = "1700000000.1"
    alice = Chan("PJSIP/1001-00000001", call, call, "1001", "Alice Jones", exten="1002", state=4)
    bob = Chan("PJSIP/1002-00000002", "1700000000.2", call, "1002")
    events = [newchannel(alice), newchannel(bob), dial_begin(alice, bob, "PJSIP/1002"), newstate(bob.with_state(5)),
              dial_end(alice, bob.with_state(6)), bridge_enter(alice, "b-1", 1), bridge_enter(bob, "b-1", 2),
              hold(alice), hangup(bob), hangup(alice)]
    await server.push_events(events, chunk_sizes=[1, 7, 2, 13, 1, 64, 3, 500])
    assert [(e.number, e.other_number, e.state, e.unique_id) for e in await sink.channel_events(7)] == [
        ("1001", "1002", ChannelState.DIALING, call),
        ("1002", "1001", ChannelState.RINGING, bob.unique_id),
        ("1001", "1002", ChannelState.ESTABLISHED, call),
        ("1002", "1001", ChannelState.ESTABLISHED, bob.unique_id),
        ("1001", "1002", ChannelState.ON_HOLD, call),
        ("1002", "1001", ChannelState.RELEASED, bob.unique_id),
        ("1001", "1002", ChannelState.RELEASED, call),
    ]


async def test_line_and_agent_events(server: ScriptedAmiServer, pbx: AmiPbx, sink: Sink) -> None:
    await server.push_event(extension_status("1001", 4, "Unavailable"), chunk_sizes=[5])
    assert await sink.until(lambda e: isinstance(e, LineAvailability)) == LineAvailability("1001", False)
    await server.push_event(queue_member_pause("support", "2001", "1002", True))
    assert await sink.until(lambda e: isinstance(e, AgentEvent)) == AgentEvent("2001", "1002", AgentStatus.PAUSED)
