"""Request ids (xuc/runtime/request_ids.py): which client ids are kept, how an id reaches gRPC
metadata, log records, a service's handler (through the real EdgeInterceptor on loopback) and the
gateway's answers (through the real gateway application)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import grpc
import httpx
import pytest

from gateway.app import GatewayConfig, create_app
from tests.support.captured_logs import captured_logs
from xuc.runtime import logs, request_ids
from xuc.runtime.grpc_client import service_metadata, user_metadata, with_request_id
from xuc.runtime.grpc_edge import SERVICE_TOKEN_METADATA, Access, Authenticator, EdgeInterceptor
from xuc.runtime.keys import PublicKeyCache

HEX_ID = re.compile(r"[0-9a-f]{32}")


# --- which ids a client may choose ------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a", "abc-123", "A.b_C-9", "x" * 64, "0af7651916cd43dd8448eb211c80319c"])
def test_sane_ids_are_kept(value: str) -> None:
    assert request_ids.accept(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * 65, "a b", "a\nb", "a\r\nX-Injected: 1", "é", "a/b", "a:b",
                                   "a;b", "{id}", "a\x00b", "\uff41"])
def test_other_ids_are_refused(value: str | None) -> None:
    assert request_ids.accept(value) is None


def test_new_ids_are_32_hex_digits_and_distinct() -> None:
    made = {request_ids.new() for _ in range(1000)}
    assert len(made) == 1000
    assert all(HEX_ID.fullmatch(made_id) for made_id in made)
    assert all(request_ids.accept(made_id) == made_id for made_id in made)


# --- the context ------------------------------------------------------------------------------------
def test_bind_and_reset() -> None:
    assert request_ids.current() is None
    token = request_ids.bind("req-1")
    try:
        assert request_ids.current() == "req-1"
    finally:
        request_ids.reset(token)
    assert request_ids.current() is None


def test_call_metadata_carries_the_current_id() -> None:
    base = service_metadata("service-secret")
    assert with_request_id(base) is base  # outside a request: unchanged, nothing allocated
    assert user_metadata("tok") == (("authorization", "Bearer tok"),)
    token = request_ids.bind("req-2")
    try:
        assert with_request_id(base) == ((SERVICE_TOKEN_METADATA, "service-secret"), ("x-request-id", "req-2"))
        assert user_metadata("tok") == (("authorization", "Bearer tok"), ("x-request-id", "req-2"))
    finally:
        request_ids.reset(token)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The process's log configuration (logs.configure), writing to a buffer."""
    with captured_logs("INFO", "json") as output:
        yield output


def test_log_records_carry_the_request_id_while_it_is_bound(json_logs: io.StringIO) -> None:
    log = logging.getLogger("tests.some.module")
    log.info("before")
    token = request_ids.bind("req-3")
    try:
        log.info("during", extra={"owner": "alicej"})
        logging.getLogger("another.logger").warning("also during")
    finally:
        request_ids.reset(token)
    log.info("after")
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [record["message"] for record in records] == ["before", "during", "also during", "after"]
    assert [record.get("request_id") for record in records] == [None, "req-3", "req-3", None]
    assert records[1]["owner"] == "alicej"


def test_text_logs_show_the_request_id() -> None:
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hello"})
    token = request_ids.bind("req-4")
    try:
        assert request_ids.RequestIdFilter().filter(record)
    finally:
        request_ids.reset(token)
    assert logs.TextFormatter().format(record) == "INFO    x: hello request_id=req-4"


# --- a service: the id in the call's metadata is bound for its handler ------------------------------
SERVICE_TOKEN = "service-token-for-request-id-tests"
PROBE = "test.RequestIds"


async def seen_request_id(request: bytes, context: Any) -> bytes:
    return (request_ids.current() or "none").encode()


async def seen_request_ids_streamed(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield (request_ids.current() or "none").encode()


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    policy = {f"/{PROBE}/Unary": Access.SERVICE, f"/{PROBE}/Stream": Access.SERVICE}
    server = grpc.aio.server(interceptors=[EdgeInterceptor(policy, Authenticator(SERVICE_TOKEN, None))])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(seen_request_id),
        "Stream": grpc.unary_stream_rpc_method_handler(seen_request_ids_streamed),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(PROBE, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as open_channel:
            yield open_channel
    finally:
        await server.stop(None)


@pytest.mark.parametrize(("sent", "seen"), [("req-5", "req-5"), (None, "none"), ("not sane!", "none"),
                                            ("y" * 65, "none")])
async def test_a_service_binds_the_request_id_of_the_call(channel: grpc.aio.Channel, sent: str | None,
                                                          seen: str) -> None:
    metadata = service_metadata(SERVICE_TOKEN) + ((("x-request-id", sent),) if sent is not None else ())
    unary = await channel.unary_unary(f"/{PROBE}/Unary")(b"", metadata=metadata, timeout=5)
    assert unary == seen.encode()
    streamed = [item async for item in channel.unary_stream(f"/{PROBE}/Stream")(b"", metadata=metadata, timeout=5)]
    assert streamed == [seen.encode()]
    assert request_ids.current() is None  # the caller's own context is untouched


# --- the gateway: the id of each answer -------------------------------------------------------------
@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway application; its services are never reached by these requests."""
    unused: Any = None
    keys = PublicKeyCache(cast(Any, unused), "service-token", "xuc")
    app = create_app(GatewayConfig("service-token", cors_origins=("http://app.example",)), unused, keys, unused,
                     unused)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_the_gateway_answers_with_a_new_id_when_the_client_sends_none(gateway: httpx.AsyncClient) -> None:
    first = (await gateway.get("/health/live")).headers["x-request-id"]
    second = (await gateway.get("/health/live")).headers["x-request-id"]
    assert HEX_ID.fullmatch(first)
    assert HEX_ID.fullmatch(second)
    assert first != second


async def test_the_gateway_returns_the_clients_sane_id(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/health/live", headers={"X-Request-Id": "client-chosen.id_1"})
    assert response.headers.get_list("x-request-id") == ["client-chosen.id_1"]


@pytest.mark.parametrize("sent", ["has space", "x" * 65, "a,b", "</script>"])
async def test_the_gateway_replaces_an_insane_id(gateway: httpx.AsyncClient, sent: str) -> None:
    response = await gateway.get("/health/live", headers={"X-Request-Id": sent})
    assert HEX_ID.fullmatch(response.headers["x-request-id"])


async def test_errors_and_unknown_paths_carry_the_id_too(gateway: httpx.AsyncClient) -> None:
    unauthorized = await gateway.get("/xuc/api/2.0/contact/personal/abc", headers={"X-Request-Id": "req-401"})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["x-request-id"] == "req-401"
    unknown = await gateway.get("/nowhere", headers={"X-Request-Id": "req-404"})
    assert unknown.status_code == 404
    assert unknown.headers["x-request-id"] == "req-404"


async def test_browsers_may_send_and_read_the_id(gateway: httpx.AsyncClient) -> None:
    preflight = await gateway.options("/xuc/api/2.0/auth/check", headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Request-Id"})
    assert preflight.status_code == 200
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
    answer = await gateway.get("/health/live", headers={"Origin": "http://app.example"})
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
