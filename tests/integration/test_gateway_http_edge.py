"""The gateway's HTTP edge (gateway/http_protocol.py, the error logging of gateway/app.py), served by
uvicorn in this process over loopback, with small limits so that every case is quick.

The application is the real gateway (its services are never reached: an operation that needs one
fails with an unexpected error, which is what the logging tests want), plus a `/slow` route that
answers after a moment (an answer in progress while a pipelined request arrives).

The same limits are checked on the whole system (`xuc up`) in tests/e2e/test_attacks_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
from collections.abc import Iterator
from typing import Any, cast

import pytest
import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from gateway.app import GatewayConfig, create_app
from gateway.http_protocol import HeadLimits, limited_protocol
from tests.support.background import BackgroundLoop
from tests.support.captured_logs import captured_logs, into
from tests.support.processes import wait_for
from tests.support.raw_http import RawAnswer, RawConnection
from xuc.runtime.keys import PublicKeyCache

LIMITS = HeadLimits(max_bytes=1024, timeout_seconds=1.0, keep_alive_seconds=0.5)
SLOW_SECONDS = 0.5
LOGIN = "/xuc/api/2.0/auth/login"
WEBSOCKET_HEADERS = (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


def gateway_app() -> Any:
    unused: Any = None
    keys = PublicKeyCache(cast(Any, unused), "service-token", "xuc")
    gateway = create_app(GatewayConfig("service-token"), unused, keys, unused, unused)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/slow":
            await asyncio.sleep(SLOW_SECONDS)
            await PlainTextResponse("slow")(scope, receive, send)
            return
        await gateway(scope, receive, send)

    return app


class Served:
    def __init__(self, port: int, output: io.StringIO) -> None:
        self.port = port
        self.output = output

    def connect(self) -> RawConnection:
        return RawConnection("127.0.0.1", self.port, timeout=20.0)

    def log_lines(self) -> list[str]:
        return self.output.getvalue().splitlines()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """uvicorn with the gateway's protocol, logging through the gateway's log configuration into
    a buffer."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(gateway_app(), http=limited_protocol(LIMITS), log_config=None, access_log=False,
                            lifespan="off", server_header=False)
    server = uvicorn.Server(config)
    with captured_logs() as output, BackgroundLoop() as loop, contextlib.closing(sock):
        serving = loop.submit(server.serve(sockets=[sock]))
        loop.run(_started(server))
        try:
            yield Served(sock.getsockname()[1], output)
        finally:
            server.should_exit = True
            serving.result(30)


async def _started(server: uvicorn.Server) -> None:
    async with asyncio.timeout(30):
        while not server.started:  # noqa: ASYNC110 (uvicorn has no "started" event)
            await asyncio.sleep(0.01)


@pytest.fixture
def log_level(served: Served) -> Iterator[None]:
    """INFO again after a test that changes it; the buffer emptied first."""
    served.output.seek(0)
    served.output.truncate()
    yield
    into(served.output)


def get(path: str = "/health/live", extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: gateway\r\n" + extra + b"\r\n"


def padded_get(size: int, extra: bytes = b"") -> bytes:
    """A GET /health/live whose head is exactly `size` bytes (padded with one header field)."""
    bare = len(get(extra=extra + b"X-Pad: \r\n"))
    assert size >= bare
    return get(extra=extra + b"X-Pad: " + b"p" * (size - bare) + b"\r\n")


def assert_error(answer: RawAnswer, status: int, code: str) -> None:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    assert answer.json()["error"] == code
    assert answer.json()["message"]
    assert answer.headers["x-request-id"]
    assert answer.closed


# --- size -----------------------------------------------------------------------------------------
def test_a_head_of_the_limit_is_served_and_one_byte_more_is_431(served: Served) -> None:
    with served.connect() as connection:
        connection.send(padded_get(LIMITS.max_bytes))
        assert connection.answer().status == 200
    with served.connect() as connection:
        connection.send(padded_get(LIMITS.max_bytes + 1))
        assert_error(connection.answer(), 431, "RequestHeaderFieldsTooLarge")
        connection.wait_closed()


@pytest.mark.parametrize("head", [
    pytest.param(get(extra=b"X-Big: " + b"b" * 5000 + b"\r\n"), id="one-field"),
    pytest.param(get(extra=b"".join(b"X-%d: v\r\n" % n for n in range(300))), id="many-fields"),
    pytest.param(get("/health/live?" + "q" * 5000), id="long-target"),
    pytest.param(get("/ws", extra=WEBSOCKET_HEADERS + b"X-Big: " + b"b" * 5000 + b"\r\n"), id="websocket-upgrade"),
    pytest.param(b"\r\n" * 2000 + get(), id="blank-lines"),
])
def test_a_head_over_the_limit_is_431_and_closed(served: Served, head: bytes) -> None:
    with served.connect() as connection:
        connection.send(head)
        assert_error(connection.answer(), 431, "RequestHeaderFieldsTooLarge")
        connection.wait_closed()


def test_a_head_trickled_byte_by_byte_is_counted_whole(served: Served) -> None:
    with served.connect() as connection:
        for byte in padded_get(LIMITS.max_bytes + 1):
            connection.send(bytes([byte]))
        assert_error(connection.answer(), 431, "RequestHeaderFieldsTooLarge")


def test_each_request_of_a_connection_has_the_whole_limit(served: Served) -> None:
    request = padded_get(LIMITS.max_bytes * 3 // 4)
    with served.connect() as connection:
        connection.send(request * 3)  # pipelined: one read may hold all three
        assert [connection.answer().status for _ in range(3)] == [200, 200, 200]
        for _ in range(3):  # one at a time
            connection.send(request)
            assert connection.answer().status == 200


def test_a_pipelined_head_over_the_limit_closes_after_the_answer_in_progress(served: Served) -> None:
    with served.connect() as connection:
        connection.send(get("/slow") + get(extra=b"X-Big: " + b"b" * 5000 + b"\r\n"))
        first = connection.answer()
        assert (first.status, first.body) == (200, b"slow")
        connection.wait_closed()  # and nothing written into the middle of the first answer


@pytest.mark.parametrize(("size", "served_too"), [(LIMITS.max_bytes - 24, True), (LIMITS.max_bytes + 80, False)])
def test_a_pipelined_head_begun_in_the_middle_of_a_read_has_the_same_limit(served: Served, size: int,
                                                                           served_too: bool) -> None:
    with served.connect() as connection:
        connection.send(get("/slow") + padded_get(size))  # the second head begins after the first request
        assert connection.answer().body == b"slow"
        if served_too:
            assert connection.answer().status == 200
        else:
            connection.wait_closed()


def test_a_head_under_the_limit_is_handed_to_the_websocket_protocol(served: Served) -> None:
    with served.connect() as connection:
        connection.send(get("/ws", extra=WEBSOCKET_HEADERS))
        # No WebSocket route: refused by uvicorn's WebSocket protocol, not by the head limits.
        assert connection.answer().status == 403


# --- time -----------------------------------------------------------------------------------------
def test_a_head_that_does_not_end_is_408_and_closed(served: Served) -> None:
    with served.connect() as connection:
        connection.send(b"GET /health/live HTTP/1.1\r\nHost: gateway\r\n")
        answer = connection.answer()
        assert_error(answer, 408, "RequestTimeout")
        assert answer.elapsed >= LIMITS.timeout_seconds * 0.9
        connection.wait_closed()


def test_a_websocket_upgrade_that_does_not_end_is_408(served: Served) -> None:
    with served.connect() as connection:
        connection.send(b"GET /ws HTTP/1.1\r\nHost: gateway\r\n" + WEBSOCKET_HEADERS)
        assert_error(connection.answer(), 408, "RequestTimeout")


def test_a_head_sent_in_time_in_pieces_is_served(served: Served) -> None:
    request = get()
    with served.connect() as connection:
        for start in range(0, len(request), 10):
            connection.send(request[start:start + 10])
        assert connection.answer().status == 200


def test_a_pipelined_head_that_does_not_end_is_408_after_the_answer_in_progress(served: Served) -> None:
    with served.connect() as connection:
        connection.send(get("/slow") + b"GET /health/live HTTP/1.1\r\nHost: gate")
        assert connection.answer().body == b"slow"
        assert_error(connection.answer(), 408, "RequestTimeout")


def test_blank_lines_alone_are_closed_without_an_answer(served: Served) -> None:
    with served.connect() as connection:
        connection.send(b"\r\n")
        assert connection.wait_closed() >= LIMITS.timeout_seconds * 0.9


# --- idle -----------------------------------------------------------------------------------------
def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with served.connect() as connection:
        assert connection.wait_closed() >= LIMITS.keep_alive_seconds * 0.9


def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    with served.connect() as connection:
        connection.send(get())
        assert connection.answer().status == 200
        connection.wait_closed()


def test_a_blank_line_after_an_answer_does_not_hold_the_connection_open(served: Served) -> None:
    with served.connect() as connection:
        connection.send(get())
        assert connection.answer().status == 200
        connection.send(b"\r\n")  # uvicorn disarmed its keep-alive timer on it, for good
        connection.wait_closed()


def test_a_keep_alive_connection_serves_requests_until_idle(served: Served) -> None:
    with served.connect() as connection:
        for _ in range(3):
            connection.send(get())
            assert connection.answer().status == 200
        connection.wait_closed()


# --- unhandled errors: one log line -----------------------------------------------------------------
def test_an_unhandled_error_is_one_error_line_with_the_request_id(served: Served, log_level: None) -> None:
    body = b'{"login": "alicej", "password": "secret"}'
    with served.connect() as connection:
        # The auth stub is missing: the route fails with an error nobody expected.
        connection.send(b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: boom-1\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        answer = connection.answer()
        assert answer.status == 500
        assert answer.json()["error"] == "UnhandledError"
        # The next request on the connection is served once the failed one is over (logged and all).
        connection.send(get())
        assert connection.answer().status == 200

    lines = served.log_lines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR   gateway.app: unhandled error"), lines
    assert "request_id=boom-1" in lines[0]
    assert "error=AttributeError" in lines[0]
    assert f"route={LOGIN}" in lines[0]


def test_the_traceback_of_an_unhandled_error_is_logged_at_debug(served: Served, log_level: None) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    body = b'{"login": "alicej", "password": "secret"}'
    with served.connect() as connection:
        connection.send(b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: gateway\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        assert connection.answer().status == 500
        connection.send(get())
        assert connection.answer().status == 200

    text = served.output.getvalue()
    assert "DEBUG   gateway.app: unhandled error: traceback" in text
    assert "Traceback (most recent call last)" in text
    assert "Exception in ASGI application" not in text  # uvicorn's own, traceback and all


def test_a_client_gone_in_the_middle_of_its_body_is_one_debug_line(served: Served, log_level: None) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    with served.connect() as connection:
        connection.send(b"POST " + LOGIN.encode() + b" HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: gone-1\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"login\":")
    wait_for(lambda: any("gone-1" in line for line in served.log_lines()), 20, "the disconnection logged")
    with served.connect() as connection:  # and a request after it, once whatever it logged is logged
        connection.send(get())
        assert connection.answer().status == 200

    about_it = [line for line in served.log_lines() if "gone-1" in line]
    assert about_it == [f"DEBUG   gateway.app: client disconnected before its request was read path={LOGIN} "
                        "request_id=gone-1"], served.log_lines()
    assert not [line for line in served.log_lines() if line.startswith(("ERROR", "WARNING", "Traceback"))]
