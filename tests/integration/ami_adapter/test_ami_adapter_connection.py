"""AmiPbx (services/telephony/adapters/ami/) against the scripted AMI server over real TCP
(tests/support/ami_server.py), the connection: login, refused credentials, losing and regaining
the connection (with the resynchronisation), commands while the PBX is down, timeouts, the
keepalive, and the AMI URL. Back-off and timeouts are shortened so that every test takes well
under 3 s (tests/support/ami_adapter.py)."""

from __future__ import annotations

import asyncio

import pytest

from services.telephony.adapters.ami.adapter import AmiPbx, parse_ami_url
from services.telephony.domain.errors import PbxUnreachable
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentStatus,
    ChannelEvent,
    ChannelState,
    ConnectionChanged,
    LineAvailability,
    Originate,
    PbxConnection,
    PbxEvent,
)
from tests.support.ami_adapter import AGENT, FAST, LINES, Sink, connected, started
from tests.support.ami_events import Chan, extension_status, queue_member, status_item
from tests.support.ami_server import ScriptedAmiServer


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
