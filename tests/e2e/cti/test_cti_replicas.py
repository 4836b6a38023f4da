"""Sockets on a scaled-out gateway (`xuc up` with two gateway replicas sharing the port): events
reach a user's sockets whichever replica holds them, and when a replica is killed its clients
reconnect (to the other one, or to the replica started again), rebuild their screen with
getCurrentCallsPhoneEvents and are served as before."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.e2e.conftest import Stack
from tests.support.cti_client import CtiClient
from tests.support.deadlines import EVENT_DEADLINE_SECONDS

SOCKETS = 16  # spread by the kernel over the two replicas: all on one is a 1 in 32,768 chance
USER, PASSWORD, LINE = "replica.cti", "replica-secret", "1201"
RECONNECT_PAUSE_SECONDS = 0.2  # between a client's attempts to open a socket again


def _token(stack: Stack) -> str:
    response = httpx.post(f"{stack.url}/xuc/api/2.0/auth/login", json={"login": USER, "password": PASSWORD},
                          timeout=30.0)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def reconnect(stack: Stack, token: str) -> CtiClient:
    """A new socket, logged on, retried like a client's reconnection: the first attempts may reach
    the killed replica's listening socket while the kernel tears it down (the connection is reset)."""
    deadline = time.monotonic() + EVENT_DEADLINE_SECONDS
    while True:
        try:
            client = CtiClient.open(stack.url, token)
            if client.read()["msgType"] == "LoggedOn":
                return client
            client.connection.close()
        except (OSError, InvalidHandshake, ConnectionClosed):
            if time.monotonic() > deadline:
                raise
        time.sleep(RECONNECT_PAUSE_SECONDS)


def _ringing(message: dict[str, str]) -> bool:
    return message["eventType"] == "EventRinging"


def test_sockets_on_both_replicas_get_the_events_and_survive_a_killed_replica(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(XUC_REPLICAS="gateway=2")
    stack.xuc("user", "add", USER, "--password", PASSWORD, "--line", LINE)
    token = _token(stack)
    sockets = [CtiClient.open(stack.url, token) for _ in range(SOCKETS)]
    try:
        for socket in sockets:
            socket.expect("PhoneStatusUpdate")
        stack.xuc("pbx", "call", "0601020304", LINE)
        for socket in sockets:
            assert socket.expect("PhoneEvent", _ringing)["otherDN"] == "0601020304"

        os.kill(int(stack.run_file("gateway")["pid"]), signal.SIGKILL)
        survivors, reconnected = [], []
        for socket in sockets[:SOCKETS]:
            try:
                socket.send_raw('{"claz":"ping"}')
                socket.expect("Pong", within=EVENT_DEADLINE_SECONDS)
                survivors.append(socket)
            except ConnectionClosed:
                # As a client does: open a new socket, which the kernel gives to a live replica.
                again = reconnect(stack, token)
                sockets.append(again)
                again.expect("PhoneStatusUpdate", lambda status: status["status"] == "RINGING")
                again.send("getCurrentCallsPhoneEvents")  # the screen rebuilt: the call still ringing
                [current] = again.expect("CurrentCallsPhoneEvents")["events"]
                assert (current["eventType"], current["otherDN"]) == ("EventRinging", "0601020304")
                reconnected.append(again)
        assert survivors, "every socket was on the killed replica"
        assert reconnected, "no socket was on the killed replica"

        stack.xuc("pbx", "hangup", LINE)
        for socket in survivors + reconnected:
            socket.expect("PhoneEvent", lambda message: message["eventType"] == "EventReleased")
    finally:
        for socket in sockets:
            socket.connection.close()
