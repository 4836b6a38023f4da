"""The telephony service as a real process with XUC_PBX=ami://... against a scripted AMI server
of its own (tests/support/ami_server.py): an outage is reported and recovered from, a bad secret
is reported. Each test gets its own telephony process and AMI server.

The AMI back-off cannot be shortened from the environment (the composition root builds
`AmiPbx(settings.pbx)` with its defaults: 0.5 s doubling to 30 s), so the outage test keeps the
PBX away for ~1.5 s (one refused attempt) and allows for the default back-off when waiting for the
reconnection.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from tests.support.ami_events import newchannel, newstate
from tests.support.ami_server import ScriptedAmiServer
from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import reason_of, refusal, rpc_error
from tests.support.telephony_ami import (
    NOT_SERVING,
    RESYNC_ACTIONS,
    SERVING,
    Telephony,
    call_ids,
    channel_of,
    client_of,
    eventually,
    launch,
    running_ami_server,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

# The AMI client's defaults, which the environment cannot change (see the module docstring).
BACKOFF_INITIAL_SECONDS = 0.5


@pytest_asyncio.fixture(loop_scope="module")
async def own_ami() -> AsyncIterator[ScriptedAmiServer]:
    async with running_ami_server() as server:
        yield server


StartTelephony = Callable[[str], Awaitable[Telephony]]


@pytest_asyncio.fixture(loop_scope="module")
async def start_telephony(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory, tmp_path: Path,
) -> AsyncIterator[StartTelephony]:
    """Start a telephony process of the test's own on an AMI URL; stopped (exit 0 checked) after it."""
    async with AsyncExitStack() as stack:
        launcher = ServiceLauncher(nats_server, tmp_path)
        stack.push_async_callback(asyncio.to_thread, launcher.stop_all)

        async def start(ami_url: str) -> Telephony:
            process = await asyncio.to_thread(launch, launcher, auth_service, database_factory.create().url, ami_url)
            return await stack.enter_async_context(client_of(process, auth_service))

        yield start


# --- outage ----------------------------------------------------------------------------------------
async def test_an_outage_is_reported_commands_fail_fast_and_the_service_reconnects(
    own_ami: ScriptedAmiServer, start_telephony: StartTelephony,
) -> None:
    telephony = await start_telephony(own_ami.url())
    await telephony.wait_for_health(SERVING, within=5.0)
    await own_ami.wait_for_action("Status", within=3.0)
    alice, bob = await telephony.new_user(), await telephony.new_user()
    await telephony.set_dnd(alice, True)
    call = call_ids()
    callee = channel_of(bob, call, call, connected_num="0611223344")
    await own_ami.push_events([newchannel(callee), newstate(callee.with_state(5))])  # an incoming call rings bob
    await eventually(lambda: telephony.statuses(bob.line), lambda statuses: statuses[bob.line] == 8, 2.0,
                     "bob ringing")

    await own_ami.stop_listening()
    await own_ami.drop()
    await telephony.wait_for_health(NOT_SERVING, within=2.0)
    state = await eventually(telephony.pbx_state, lambda current: current.detail.startswith("reconnecting in "),
                             2.0, "the outage in GetPbxState")
    assert (state.kind, state.connected) == ("ami", False)
    assert "connection closed by the PBX" in state.detail or "connection refused" in state.detail
    refused = await rpc_error(telephony.dial(alice, bob.line))
    assert (refused.code(), reason_of(refused)) == (grpc.StatusCode.UNAVAILABLE, "PbxUnreachable")
    # refused at once, not after an action timeout (whose message says "did not answer")
    assert "the PBX is not connected" in (refused.details() or ""), refused.details()
    assert await telephony.statuses(bob.line) == {bob.line: 0}  # the PBX's calls are unknown now
    # the first attempt (0.5 s after the drop, default back-off) is refused; the next comes 1 s later
    state = await eventually(telephony.pbx_state, lambda current: "connection refused" in current.detail,
                             BACKOFF_INITIAL_SECONDS * 4, "a refused reconnection in GetPbxState")
    assert not state.connected
    assert await telephony.health() == NOT_SERVING

    await own_ami.resume_listening()
    await telephony.wait_for_health(SERVING, within=BACKOFF_INITIAL_SECONDS * 8)
    assert own_ami.logins == 2
    for action in RESYNC_ACTIONS:
        await own_ami.wait_for_action(action, count=2)
    # the stored user services are given to the PBX again (it may have lost them)
    await own_ami.wait_until(lambda: [(put["Key"], put["Val"]) for put in own_ami.actions_named("DBPut")
                                      if put["Family"] == f"xuc/{alice.line}"].count(("dnd", "1")) == 2,
                             2.0, "the stored DND put again")
    state = await telephony.pbx_state()
    assert (state.connected, state.detail) == (True, f"connected to 127.0.0.1:{own_ami.port}")
    reply = await telephony.dial(alice, bob.line)
    assert reply.unique_id == (await own_ami.wait_for_action("Originate"))["ChannelId"]


async def test_a_refused_login_is_reported_and_the_service_runs_anyway(
    own_ami: ScriptedAmiServer, start_telephony: StartTelephony,
) -> None:
    bad_secret = f"bad-{secrets.token_hex(8)}"
    telephony = await start_telephony(own_ami.url(secret=bad_secret))
    await own_ami.wait_for_action("Login", within=3.0)
    state = await eventually(telephony.pbx_state, lambda current: "login refused" in current.detail, 3.0,
                             "the refused login in GetPbxState")
    assert (state.kind, state.connected) == ("ami", False)
    assert "Authentication failed" in state.detail
    assert await telephony.health() == NOT_SERVING
    assert await telephony.health("xuc.telephony.v1.Telephony") == SERVING
    assert own_ami.logins == 0
    alice = await telephony.new_user()
    assert await refusal(telephony.dial(alice, "1234")) == (grpc.StatusCode.UNAVAILABLE, "PbxUnreachable")
    assert bad_secret not in telephony.process.log()
