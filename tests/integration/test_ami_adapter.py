"""AmiPbx (services/telephony/adapters/ami/) against the scripted AMI server over real TCP
(tests/support/ami_server.py): login, refused credentials, the actions each command sends,
events in -> port events out (frames cut across TCP writes), losing and regaining the
connection (with the resynchronisation), and commands while the PBX is down. Back-off and
timeouts are shortened so that every test takes well under 3 s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from services.telephony.adapters.ami import client as client_module
from services.telephony.adapters.ami.adapter import AmiPbx, parse_ami_url
from services.telephony.adapters.ami.frames import Frame, FrameParser
from services.telephony.domain.errors import InvalidRequest, PbxRefused, PbxUnreachable
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentLine,
    AgentStatus,
    CallIds,
    ChannelEvent,
    ChannelState,
    ConnectionChanged,
    ForwardKind,
    LineAvailability,
    Originate,
    PbxConnection,
    PbxEvent,
)
from tests.support.ami_server import (
    Chan,
    ScriptedAmiServer,
    bridge_enter,
    dial_begin,
    dial_end,
    extension_status,
    hangup,
    hold,
    newchannel,
    newstate,
    queue_member,
    queue_member_pause,
    status_item,
)

FAST: dict[str, Any] = {"backoff_initial": 0.05, "backoff_max": 0.2, "action_timeout": 1.0, "connect_timeout": 1.0,
                        "originate_wait": 0.3, "ping_interval": None}
LINES = {"1001", "1002"}
AGENT = AgentLine("2001", "1002", ["support", "sales"])


class Sink:
    """The adapter's event sink: every event, in order, for the test to wait on."""

    def __init__(self) -> None:
        self.received: list[PbxEvent] = []
        self._queue: asyncio.Queue[PbxEvent] = asyncio.Queue()

    async def __call__(self, event: PbxEvent) -> None:
        self.received.append(event)
        await self._queue.put(event)

    async def next(self, within: float = 2.0) -> PbxEvent:
        return await asyncio.wait_for(self._queue.get(), within)

    async def until(self, wanted: Callable[[PbxEvent], bool], within: float = 2.0) -> PbxEvent:
        """The next event that is `wanted` (others are skipped)."""
        async with asyncio.timeout(within):
            while not wanted(event := await self._queue.get()):
                pass
        return event

    async def channel_events(self, count: int, within: float = 2.0) -> list[ChannelEvent]:
        events: list[ChannelEvent] = []
        async with asyncio.timeout(within):
            while len(events) < count:
                event = await self._queue.get()
                if isinstance(event, ChannelEvent):
                    events.append(event)
        return events


def connected(up: bool) -> Callable[[PbxEvent], bool]:
    return lambda event: isinstance(event, ConnectionChanged) and event.connected is up


@pytest.fixture
async def server() -> AsyncIterator[ScriptedAmiServer]:
    ami = ScriptedAmiServer(username="xuc", secret="s3cret")
    await ami.start()
    try:
        yield ami
    finally:
        await ami.close()


async def started(url: str, sink: Sink, **options: Any) -> AmiPbx:
    pbx = AmiPbx(url, **{**FAST, **options})
    await pbx.set_lines(LINES)
    await pbx.start(sink)
    return pbx


@pytest.fixture
async def sink() -> Sink:
    return Sink()


@pytest.fixture
async def pbx(server: ScriptedAmiServer, sink: Sink) -> AsyncIterator[AmiPbx]:
    adapter = await started(server.url(), sink)
    try:
        await sink.until(connected(True))
        await server.wait_for_action("Status")  # the resynchronisation is done: tests start clean
        yield adapter
    finally:
        await adapter.close()


async def test_it_logs_in_reports_the_connection_and_resynchronises(server: ScriptedAmiServer) -> None:
    sink = Sink()
    pbx = await started(server.url(), sink)
    try:
        assert await sink.next() == ConnectionChanged(True, f"connected to 127.0.0.1:{server.port}")
        assert pbx.connection() == PbxConnection("ami", True, f"connected to 127.0.0.1:{server.port}")
        login = await server.wait_for_action("Login")
        assert (login["Username"], login["Secret"], login["Events"]) == ("xuc", "s3cret", "on")
        assert login["ActionID"]
        for action in ("ExtensionStateList", "QueueStatus", "Status"):
            await server.wait_for_action(action)
    finally:
        await pbx.close()
    assert pbx.connection() == PbxConnection("ami", False, f"closed (was 127.0.0.1:{server.port})")
    assert not any(isinstance(event, ConnectionChanged) and not event.connected for event in sink.received)


async def test_start_returns_at_once_and_close_stops_reconnecting(server: ScriptedAmiServer) -> None:
    await server.stop_listening()
    sink = Sink()
    # The server never listens during this test: a start that waited for the connection would not return.
    pbx = await asyncio.wait_for(started(server.url(), sink), 30.0)
    assert pbx.connection().kind == "ami"
    assert not pbx.connection().connected
    await server.wait_until(lambda: "connection refused" in pbx.connection().detail, 30.0, "a refused connection")
    await asyncio.wait_for(pbx.close(), 30.0)
    assert sink.received == []


async def test_a_wrong_secret_is_reported_and_retried(server: ScriptedAmiServer) -> None:
    sink = Sink()
    pbx = await started(server.url(secret="wrong"), sink)
    try:
        await server.wait_for_action("Login", count=3)
        state = pbx.connection()
        assert not state.connected
        assert "login refused: Authentication failed" in state.detail
        assert state.detail.startswith("reconnecting in ")
        with pytest.raises(PbxUnreachable):
            await asyncio.wait_for(pbx.set_dnd("1001", True), 0.5)
        assert sink.received == []  # it never was up
    finally:
        await pbx.close()


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


async def test_a_dropped_connection_is_announced_regained_and_resynchronised(
        server: ScriptedAmiServer, pbx: AmiPbx, sink: Sink) -> None:
    server.lists["ExtensionStateList"] = [extension_status("1001", 0, "Idle"),
                                          extension_status("1002", 4, "Unavailable")]
    server.lists["QueueStatus"] = [queue_member("support", "2001", "1002")]
    server.lists["Status"] = [status_item(Chan("PJSIP/1001-00000003", "9.1", "9.1", "1001", exten="1002", state=6),
                                          bridge_id="b-7")]
    await server.drop()
    lost = await sink.until(connected(False))
    assert isinstance(lost, ConnectionChanged)
    assert "connection closed by the PBX" in lost.detail
    assert await sink.until(connected(True)) == ConnectionChanged(True, f"connected to 127.0.0.1:{server.port}")
    assert [await sink.next() for _ in range(4)] == [
        LineAvailability("1001", True), LineAvailability("1002", False),
        AgentEvent("2001", "1002", AgentStatus.READY),
        ChannelEvent("1001", "", ChannelState.ESTABLISHED, "9.1", "9.1"),
    ]
    assert len(server.actions_named("ExtensionStateList")) == 2
    assert server.logins == 2


async def test_commands_fail_quickly_while_the_pbx_is_down_and_work_again_after(
        server: ScriptedAmiServer, pbx: AmiPbx, sink: Sink) -> None:
    await server.stop_listening()
    await server.drop()
    await sink.until(connected(False))
    for command in (pbx.originate(Originate("1001", "1002")), pbx.set_dnd("1001", True), pbx.agent_login(AGENT)):
        # refused at once, not queued until an action timeout (whose message says "did not answer")
        with pytest.raises(PbxUnreachable, match=r"^the PBX is not connected \("):
            await asyncio.wait_for(command, 30.0)
    await server.wait_until(lambda: "connection refused" in pbx.connection().detail, 1.0, "a refused connection")
    assert pbx.connection().detail.startswith("reconnecting in ")
    await server.resume_listening()
    await sink.until(connected(True))
    await pbx.set_dnd("1001", True)
    assert server.actions_named("DBPut")[-1]["Val"] == "1"


async def test_a_connection_closed_at_once_is_retried_with_back_off(
        server: ScriptedAmiServer, pbx: AmiPbx, sink: Sink) -> None:
    server.reject = True
    await server.drop()
    await sink.until(connected(False))
    await server.wait_until(lambda: server.connections_accepted >= 4, 2.0, "reconnection attempts")
    assert not pbx.connection().connected
    server.reject = False
    await sink.until(connected(True))


async def test_a_pending_action_fails_when_the_connection_drops(server: ScriptedAmiServer, pbx: AmiPbx) -> None:
    server.mute = True
    command = asyncio.create_task(pbx.set_dnd("1001", True))
    await server.wait_for_action("DBPut")
    await server.drop()
    # failed by the drop itself, not by the action timeout (whose message says "did not answer")
    with pytest.raises(PbxUnreachable, match="lost during DBPut"):
        await asyncio.wait_for(command, 30.0)


async def test_an_unanswered_action_times_out(server: ScriptedAmiServer, sink: Sink) -> None:
    pbx = await started(server.url(), sink, action_timeout=0.2)
    try:
        await sink.until(connected(True))
        server.mute = True
        with pytest.raises(PbxUnreachable, match=r"did not answer DBPut within 0\.2 s"):
            await pbx.set_dnd("1001", True)
    finally:
        await pbx.close()


async def test_a_silent_pbx_is_detected_by_the_keepalive(server: ScriptedAmiServer, sink: Sink) -> None:
    pbx = await started(server.url(), sink, ping_interval=0.1, action_timeout=0.2)
    try:
        await sink.until(connected(True))
        await server.wait_for_action("Ping")  # answered
        server.mute = True
        lost = await sink.until(connected(False))
        assert isinstance(lost, ConnectionChanged)
        assert "Ping" in lost.detail
        await sink.until(connected(True))  # logins are answered even when muted
    finally:
        await pbx.close()


async def test_a_sink_that_fails_does_not_stop_the_events(server: ScriptedAmiServer) -> None:
    sink = Sink()

    async def failing(event: PbxEvent) -> None:
        await sink(event)
        raise RuntimeError("the service broke")

    pbx = AmiPbx(server.url(), **FAST)
    await pbx.set_lines(LINES)
    await pbx.start(failing)
    try:
        await sink.until(connected(True))
        await server.push_event(extension_status("1001", 4, "Unavailable"))
        assert await sink.until(lambda e: isinstance(e, LineAvailability)) == LineAvailability("1001", False)
    finally:
        await pbx.close()


@pytest.mark.parametrize(("url", "expected"), [
    ("ami://xuc:s3cret@pbx.example:5039", ("pbx.example", 5039, "xuc", "s3cret")),
    ("ami://xuc:s3cret@10.0.0.1", ("10.0.0.1", 5038, "xuc", "s3cret")),
    ("ami://x%40y:p%3Ass@[::1]:5038", ("::1", 5038, "x@y", "p:ss")),
])
def test_the_ami_url_is_parsed(url: str, expected: tuple[str, int, str, str]) -> None:
    address = parse_ami_url(url)
    assert (address.host, address.port, address.username, address.secret) == expected
    assert "s3cret" not in repr(address)


@pytest.mark.parametrize("url", ["http://xuc:s@host", "ami://host:5038", "ami://xuc@host", "ami://xuc:s@host:port",
                                 "ami://xuc:s%0D%0AAction:%20Hangup@host"])
def test_a_bad_ami_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="AMI"):
        AmiPbx(url)
