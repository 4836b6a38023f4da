"""Fault 5 (issue 6): the PBX goes away and comes back, through `xuc up` with XUC_PBX=ami://... at
the scripted AMI server (tests/support/ami_server.py, run in a background event loop).

While the PBX is away: the telephony health `xuc.telephony.v1.Pbx` is NOT_SERVING, the metric
`xuc_pbx_connected{kind="ami"}` is 0 on telephony's metrics endpoint (its address from the ready
file), `xuc pbx state` says why, a dial answers 503 `Unreachable` at once, and the calls the PBX
had are forgotten (a contact's status goes back to 0). When it is back (the reconnection back-off
capped at 1 s here): health SERVING, the metric 1, a new login and the resynchronisation
(ExtensionStateList, QueueStatus, Status), the stored DND given to the PBX again, the call that was
answered during the outage known again as established (status 2), and a dial placed. No restart of
anything but the PBX.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import Stack, assert_error
from tests.support.ami_events import Chan, newchannel, newstate, status_item
from tests.support.ami_server import ScriptedAmiServer
from tests.support.background import BackgroundLoop
from tests.support.http_errors import UNREACHABLE_MESSAGE

pytestmark = pytest.mark.timeout(180)

T = TypeVar("T")

V1 = "/xuc/api/1.0"
PBX_HEALTH = "xuc.telephony.v1.Pbx"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
RESYNC_ACTIONS = ("ExtensionStateList", "QueueStatus", "Status")
USERS = {"alicef": ("alice-secret", "1101"), "bobf": ("bob-secret", "1102")}


def eventually(check: Callable[[], T | None], within: float, what: str) -> T:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.1f} s: {what} (last: {result!r})")
        time.sleep(0.05)


def pbx_health(stack: Stack) -> int:
    with grpc.insecure_channel(stack.run_file("telephony")["grpc"]) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=PBX_HEALTH),
                                                          timeout=5.0)
        return int(reply.status)


def pbx_connected_metric(stack: Stack) -> float:
    """`xuc_pbx_connected{kind="ami"}` as telephony's metrics endpoint shows it."""
    response = httpx.get(f"http://{stack.run_file('telephony')['metrics']}/metrics", timeout=10.0)
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith('xuc_pbx_connected{kind="ami"}'):
            return float(line.split()[-1])
    pytest.fail(f"no xuc_pbx_connected{{kind=\"ami\"}} sample in:\n{response.text}")


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


def test_fault_pbx_disconnect_and_return_reconnects_resynchronises_and_reports_the_outage(
    make_stack: Callable[..., Stack], ami: ScriptedAmiServer, loop: BackgroundLoop,
) -> None:
    stack = make_stack(XUC_PBX=ami.url(), XUC_AMI_MAX_BACKOFF_MS="1000", DEPRECATED_API_HOST="127.0.0.1")
    path = stack.write_file("phones.yaml", {"users": [
        {"login": login, "password": password, "firstname": login.capitalize(), "line": line}
        for login, (password, line) in USERS.items()]})
    stack.xuc("provision", str(path))
    (_, alice_line), (_, bob_line) = USERS["alicef"], USERS["bobf"]

    with httpx.Client(base_url=stack.url, timeout=15.0) as http:
        eventually(lambda: pbx_health(stack) == SERVING, 10.0, "the PBX connected")
        assert pbx_connected_metric(stack) == 1.0
        loop.run(ami.wait_for_action("Status", within=15.0))
        assert http.post(f"{V1}/dnd/avencall.com/alicef/", json={"state": True}).status_code == 200
        token = http.post("/xuc/api/2.0/auth/login",
                          json={"login": "alicef", "password": USERS["alicef"][0]}).json()["token"]
        headers = {"X-Auth-Token": token}
        created = http.post("/xuc/api/2.0/contact/personal", headers=headers,
                            json={"firstname": "Bob", "lastname": "Fault", "number": bob_line})
        assert created.status_code == 201, created.text

        def bob_status() -> int:
            entries = http.get("/xuc/api/2.0/contact/personal", headers=headers).json()["entries"]
            [entry] = [entry for entry in entries if entry["entry"][2] == bob_line]
            status: int = entry["status"]
            return status

        # an external caller rings bob
        call = f"{int(time.time())}.{secrets.randbelow(10**6)}"
        bob = Chan(f"PJSIP/{bob_line}-{secrets.token_hex(4)}", call, call, bob_line, "Bob Fault",
                   "0611223344", "Caller")
        loop.run(ami.push_events([newchannel(bob), newstate(bob.with_state(5))]))
        eventually(lambda: bob_status() == 8, 15.0, "bob's line ringing")

        # --- the PBX goes away (it stops listening and drops our connection)
        loop.run(ami.stop_listening())
        loop.run(ami.drop())
        eventually(lambda: pbx_health(stack) == NOT_SERVING, 15.0, "the outage in the health service")
        eventually(lambda: pbx_connected_metric(stack) == 0.0, 15.0, "xuc_pbx_connected 0")
        def outage_shown() -> str | None:
            shown = stack.xuc("pbx", "state").stdout
            return shown if "reconnecting in" in shown else None

        state = eventually(outage_shown, 10.0, "`xuc pbx state` reporting the outage")
        assert state.startswith("ami:"), state
        originates_before_outage = len(ami.actions_named("Originate"))
        refused_dial = http.post(f"{V1}/dial/avencall.com/alicef/", json={"number": bob_line})
        assert_error(refused_dial, 503, "Unreachable", UNREACHABLE_MESSAGE)  # not queued: see the count below
        eventually(lambda: bob_status() == 0, 10.0, "the PBX's calls forgotten")

        def refused_reconnection() -> str | None:
            shown = stack.xuc("pbx", "state").stdout
            return shown if "connection refused" in shown else None

        eventually(refused_reconnection, 30.0, "a reconnection refused while the PBX is away")
        assert pbx_health(stack) == NOT_SERVING
        assert ami.logins == 1

        # --- meanwhile bob answered: the PBX reports the call up in a bridge when asked
        ami.lists["Status"] = [status_item(bob.with_state(6), bridge_id="bridge-1")]
        loop.run(ami.resume_listening())
        eventually(lambda: pbx_health(stack) == SERVING, 15.0, "the PBX connected again")
        assert pbx_connected_metric(stack) == 1.0
        assert ami.logins == 2
        for action in RESYNC_ACTIONS:
            loop.run(ami.wait_for_action(action, count=2, within=15.0))
        assert "connected to" in stack.xuc("pbx", "state").stdout
        eventually(lambda: bob_status() == 2, 15.0, "bob's call resynchronised as established")
        loop.run(ami.wait_until(
            lambda: [(put["Key"], put["Val"]) for put in ami.actions_named("DBPut")
                     if put["Family"] == f"xuc/{alice_line}"].count(("dnd", "1")) == 2,
            15.0, "alice's stored DND given to the PBX again"))
        originates = len(ami.actions_named("Originate"))
        dialled = http.post(f"{V1}/dial/avencall.com/alicef/", json={"number": "0699887766"})
        assert dialled.status_code == 200, dialled.text
        originate = loop.run(ami.wait_for_action("Originate", count=originates + 1, within=10.0))
        assert dialled.json()["uniqueId"] == originate["ChannelId"]
        # the dial refused during the outage was not queued and sent once the PBX came back
        assert originates == originates_before_outage
        assert [action["Exten"] for action in ami.actions_named("Originate")[originates_before_outage:]] == [
            "0699887766"]
    assert ami.secret not in stack.log()
