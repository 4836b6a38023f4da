"""Slow and hostile clients of the CTI channel, against `xuc up`: a client that does not read is
closed with 1013 and counted, not buffered without bound; commands over the socket's rate are
refused while pings are still answered."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import Stack
from tests.support.cti_client import CTI_PATH, CtiClient
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.metrics import scrape_url

pytestmark = pytest.mark.timeout(240)

PING = '{"claz":"ping"}'
LOGON_MESSAGES = ("LoggedOn", "UsersStatuses", "UserStatusUpdate", "UserConfigUpdate", "PhoneStatusUpdate")
BURST = 5_000  # pings between two looks at the gateway's metrics
HINT_COMMANDS = 40  # the socket's burst of commands; those over its rate are answered Error (frames too)
HINTS = json.dumps({"claz": "web", "command": "subscribeToPhoneHints",
                    "phoneNumbers": [str(9_000_000 + index) for index in range(500)]})
MAX_PINGS = 2_000_000  # far more than the kernel buffers and the send queue hold (a bound for the loop only)


def slow_consumers_closed(stack: Stack) -> float:
    return scrape_url(f"{stack.url}/metrics").value("xuc_cti_slow_consumers_closed_total")


def test_a_client_that_does_not_read_is_closed_with_1013_and_counted(
        cti_stack: Stack, token_of: Callable[[str], str]) -> None:
    before = slow_consumers_closed(cti_stack)
    raw = socket.create_connection(("127.0.0.1", int(cti_stack.url.rsplit(":", 1)[1])))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client whose window fills at once
    url = cti_stack.url.replace("http://", "ws://") + f"{CTI_PATH}?token={token_of('cti.heidi')}"
    # max_queue: the client library stops reading its socket once one message waits unread.
    # ping_interval None: the client library's own keepalive would close the socket it stops reading.
    with connect(url, sock=raw, max_queue=1, ping_interval=None) as stuck:
        # The logon first: the flood below then fills the socket's send queue (a flood during the
        # logon fills the queue of events held for after the state, counted the same way).
        for _ in LOGON_MESSAGES:
            stuck.recv(timeout=EVENT_DEADLINE_SECONDS)
        sent = 0
        try:
            while slow_consumers_closed(cti_stack) == before:
                # Hints of 500 numbers: 500 frames an answer, so the kernel's buffers (up to 4 MB on
                # the gateway's side) fill in seconds, not in the 20 s after which uvicorn's own
                # keepalive would close a client that does not answer its pings.
                for _ in range(HINT_COMMANDS):
                    stuck.send(HINTS)
                for _ in range(BURST):
                    stuck.send(PING)
                sent += BURST
                assert sent < MAX_PINGS, "the gateway kept every answer of a client that does not read"
        except ConnectionClosed:
            pass  # closed while the pings were being sent: the counter tells why (below)
        deadline = time.monotonic() + EVENT_DEADLINE_SECONDS
        while slow_consumers_closed(cti_stack) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slow_consumers_closed(cti_stack) == before + 1
        # What the gateway had written before it closed is there to read, then the close frame.
        assert close_code_after_reading_all(stuck) == 1013


def close_code_after_reading_all(client: ClientConnection) -> int | None:
    try:
        while True:
            client.recv(timeout=EVENT_DEADLINE_SECONDS)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def test_commands_over_the_rate_are_refused_and_pings_still_answered(open_cti: Callable[[str], CtiClient]) -> None:
    judy = open_cti("cti.judy")
    for _ in range(100):  # far over the default 20/s with bursts of 40, sent at once
        judy.send("getConfig", objectType="line")
    answers = [judy.read()["msgType"] for _ in range(100)]
    assert answers.count("LineConfig") >= 40
    refused = [frame["ctiMessage"] for frame in judy.received if frame["msgType"] == "Error"]
    assert refused
    assert {(error["Error"], error["command"]) for error in refused} == {("RateLimited", "getConfig")}
    judy.send_raw(PING)
    assert judy.expect("Pong") == {}
    assert refused[0]["message"] == "Too many commands: slow down"


def test_the_gateway_counts_sockets_messages_and_errors(cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    def metrics() -> tuple[float, float, float, float]:
        page = scrape_url(f"{cti_stack.url}/metrics")
        return (page.value("xuc_cti_sockets"), page.value("xuc_cti_messages_total", type="ping", direction="in"),
                page.value("xuc_cti_messages_total", type="Pong", direction="out"),
                page.value("xuc_cti_errors_total", reason="UnknownCommand"))

    before = metrics()
    kim = open_cti("cti.kim")
    kim.send_raw(PING)
    kim.expect("Pong")
    kim.send("noSuchCommand")
    kim.expect("Error")
    sockets, pings, pongs, unknown = metrics()
    assert sockets >= 1  # this one at least (other tests' sockets may be open on the shared stack)
    assert (pings - before[1], pongs - before[2], unknown - before[3]) >= (1, 1, 1)
