"""Metrics (xuc/runtime/metrics.py) as recorded by the real parts: the gateway application (route
templates, methods, statuses), the gRPC edge (methods and status codes, through a real server on
loopback), a service process's own metrics endpoint (serve_grpc, its ready file), the setting
that places it, and the event publisher (counts and headers, with a hand-written NATS fake)."""

from __future__ import annotations

import asyncio
import gc
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import pytest
from prometheus_client import REGISTRY

from gateway.app import GatewayConfig, create_app
from gateway.observability import route_templates
from services.auth.domain.errors import UserNotFound
from xuc.runtime import request_ids
from xuc.runtime.events import NatsEventPublisher
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_edge import Access, Authenticator, EdgeInterceptor
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.metrics import MetricsServer, PublishMetrics, split_listen
from xuc.runtime.process import GrpcService, serve_grpc
from xuc.runtime.settings import Settings, SettingsError
from xucproto.events.v1.contacts_events_pb2 import ContactChanged, ContactsCleared


def sample(name: str, **labels: str) -> float:
    """The current value of one series (0 when it does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(address: str, path: str = "/metrics") -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
            content_type = response.headers["Content-Type"]
            assert content_type.startswith("text/plain"), content_type
            return str(response.read().decode())

    return await asyncio.to_thread(get)


# --- the setting ------------------------------------------------------------------------------------
def test_services_serve_metrics_on_a_free_loopback_port_by_default() -> None:
    assert Settings.from_env("contacts", {}).metrics_listen == "127.0.0.1:0"


def test_the_metrics_address_is_set_for_all_or_per_component() -> None:
    env = {"XUC_METRICS_LISTEN": "0.0.0.0:0", "XUC_AUTH_METRICS_LISTEN": "[::1]:9101"}
    assert Settings.from_env("contacts", env).metrics_listen == "0.0.0.0:0"
    assert Settings.from_env("auth", env).metrics_listen == "[::1]:9101"


@pytest.mark.parametrize("value", ["", "  ", "off", "OFF"])
def test_metrics_are_disabled_by_an_empty_value_or_off(value: str) -> None:
    assert Settings.from_env("auth", {"XUC_METRICS_LISTEN": value}).metrics_listen == ""
    assert Settings.from_env("auth", {"XUC_METRICS_LISTEN": "127.0.0.1:0",
                                      "XUC_AUTH_METRICS_LISTEN": value}).metrics_listen == ""


@pytest.mark.parametrize("value", ["9100", "host:", "host:port", "127.0.0.1:70000", "127.0.0.1:-1"])
def test_a_bad_metrics_address_is_refused_with_its_name(value: str) -> None:
    with pytest.raises(SettingsError, match="XUC_METRICS_LISTEN"):
        Settings.from_env("auth", {"XUC_METRICS_LISTEN": value})


def test_listen_addresses_split() -> None:
    assert split_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert split_listen("[::1]:9100") == ("::1", 9100)
    assert split_listen(":9100") == ("0.0.0.0", 9100)
    with pytest.raises(ValueError, match="host:port"):
        split_listen("nowhere")


# --- a metrics endpoint -----------------------------------------------------------------------------
async def test_the_metrics_server_serves_the_registry_until_closed() -> None:
    server = MetricsServer("127.0.0.1:0")
    host, port = split_listen(server.address)
    assert host == "127.0.0.1"
    assert port > 0
    try:
        text = await scrape(server.address)
        assert "# TYPE xuc_grpc_server_handled_total counter" in text
        assert "# TYPE xuc_nats_published_total counter" in text
        assert "process_cpu_seconds_total" in text
    finally:
        await server.close()
    with pytest.raises(urllib.error.URLError):
        await scrape(server.address)


# --- a service process: serve_grpc with its metrics endpoint ----------------------------------------
PROBE = "test.MetricsProbe"
POLICY = {f"/{PROBE}/Echo": Access.SERVICE, f"/{PROBE}/Missing": Access.SERVICE, f"/{PROBE}/Abort": Access.SERVICE,
          f"/{PROBE}/Count": Access.SERVICE}
SERVICE_TOKEN = "service-token-for-metrics-tests"


async def echo(request: bytes, context: Any) -> bytes:
    return request


async def missing(request: bytes, context: Any) -> bytes:
    raise UserNotFound("no such user")


async def abort(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")
    raise AssertionError("unreachable")


async def count(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for number in range(3):
        yield str(number).encode()


def probe_service(server: grpc.aio.Server) -> None:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Missing": grpc.unary_unary_rpc_method_handler(missing),
        "Abort": grpc.unary_unary_rpc_method_handler(abort),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(PROBE, handlers)])


async def wait_for_ready_file(path: Path, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            try:
                content: dict[str, Any] = json.loads(await asyncio.to_thread(path.read_text))
                return content
            except (FileNotFoundError, json.JSONDecodeError):
                await asyncio.sleep(0.02)


async def test_a_service_process_counts_its_rpcs_on_its_own_metrics_endpoint(tmp_path: Path) -> None:
    ready_file = tmp_path / "run" / "probe.json"
    settings = Settings.from_env("probe", {"XUC_READY_FILE": str(ready_file), "XUC_DATA_DIR": str(tmp_path)})
    stopping = asyncio.Event()
    interceptor = EdgeInterceptor(POLICY, Authenticator(SERVICE_TOKEN, None))
    serving = asyncio.create_task(serve_grpc(settings, "probe", [GrpcService(PROBE, probe_service)], [interceptor],
                                             stopping))
    try:
        ready = await wait_for_ready_file(ready_file)
        assert set(ready) == {"pid", "grpc", "metrics"}
        assert ready["metrics"].startswith("127.0.0.1:")
        assert ready["metrics"] != ready["grpc"]

        def handled(method: str, code: str) -> float:
            return sample("xuc_grpc_server_handled_total", grpc_service=PROBE, grpc_method=method, grpc_code=code)

        before = {(method, code): handled(method, code) for method, code in
                  [("Echo", "OK"), ("Echo", "UNAUTHENTICATED"), ("Missing", "NOT_FOUND"),
                   ("Abort", "FAILED_PRECONDITION"), ("Count", "OK")]}
        metadata = service_metadata(SERVICE_TOKEN)
        async with grpc.aio.insecure_channel(ready["grpc"]) as channel:
            for _ in range(3):
                assert await channel.unary_unary(f"/{PROBE}/Echo")(b"hi", metadata=metadata, timeout=5) == b"hi"
            with pytest.raises(grpc.aio.AioRpcError) as no_credentials:
                await channel.unary_unary(f"/{PROBE}/Echo")(b"hi", timeout=5)
            assert no_credentials.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as not_found:
                await channel.unary_unary(f"/{PROBE}/Missing")(b"", metadata=metadata, timeout=5)
            assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as aborted:
                await channel.unary_unary(f"/{PROBE}/Abort")(b"", metadata=metadata, timeout=5)
            assert aborted.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            streamed = [item async for item in channel.unary_stream(f"/{PROBE}/Count")(b"", metadata=metadata,
                                                                                       timeout=5)]
            assert streamed == [b"0", b"1", b"2"]

        assert handled("Echo", "OK") - before["Echo", "OK"] == 3
        assert handled("Echo", "UNAUTHENTICATED") - before["Echo", "UNAUTHENTICATED"] == 1
        assert handled("Missing", "NOT_FOUND") - before["Missing", "NOT_FOUND"] == 1
        assert handled("Abort", "FAILED_PRECONDITION") - before["Abort", "FAILED_PRECONDITION"] == 1
        assert handled("Count", "OK") - before["Count", "OK"] == 1
        # The same, as Prometheus reads it from the process's endpoint, latency included.
        text = await scrape(ready["metrics"])
        echo_ok = f'grpc_code="OK",grpc_method="Echo",grpc_service="{PROBE}"'
        assert f"xuc_grpc_server_handled_total{{{echo_ok}}} {handled('Echo', 'OK')}" in text
        assert f"xuc_grpc_server_handling_seconds_count{{{echo_ok}}} " in text
        assert f'xuc_grpc_server_handling_seconds_bucket{{{echo_ok},le="10.0"}} ' in text
        # Health checks are not RPCs of the service: not counted.
        assert "grpc.health" not in text
    finally:
        stopping.set()
        await asyncio.wait_for(serving, 15)
        gc.unfreeze()  # serve_grpc froze this test process's objects, as it does a service's
    assert not ready_file.exists()
    with pytest.raises(urllib.error.URLError):
        await scrape(ready["metrics"])


async def test_a_service_process_without_metrics_writes_no_metrics_address(tmp_path: Path) -> None:
    ready_file = tmp_path / "probe.json"
    settings = Settings.from_env("probe", {"XUC_READY_FILE": str(ready_file), "XUC_METRICS_LISTEN": ""})
    stopping = asyncio.Event()
    interceptor = EdgeInterceptor(POLICY, Authenticator(SERVICE_TOKEN, None))
    serving = asyncio.create_task(serve_grpc(settings, "probe", [GrpcService(PROBE, probe_service)], [interceptor],
                                             stopping))
    try:
        assert set(await wait_for_ready_file(ready_file)) == {"pid", "grpc"}
    finally:
        stopping.set()
        await asyncio.wait_for(serving, 15)
        gc.unfreeze()


# --- the gateway: requests by route template --------------------------------------------------------
@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway application; its services are never reached by these requests."""
    unused: Any = None
    keys = PublicKeyCache(cast(Any, unused), "service-token", "xuc")
    app = create_app(GatewayConfig("service-token"), unused, keys, unused, unused)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


def requests_total(route: str, method: str, status: str) -> float:
    return sample("xuc_http_requests_total", route=route, method=method, status=status)


async def test_requests_are_counted_by_route_template_never_by_raw_path(gateway: httpx.AsyncClient) -> None:
    template = "/xuc/api/2.0/contact/personal/{contactId}"
    before = requests_total(template, "GET", "401"), requests_total(template, "DELETE", "401")
    for contact_id in ("one", "two", "three"):
        assert (await gateway.get(f"/xuc/api/2.0/contact/personal/{contact_id}")).status_code == 401
    assert (await gateway.delete("/xuc/api/2.0/contact/personal/four")).status_code == 401
    assert requests_total(template, "GET", "401") - before[0] == 3
    assert requests_total(template, "DELETE", "401") - before[1] == 1
    text = (await gateway.get("/metrics")).text
    assert "/xuc/api/2.0/contact/personal/one" not in text
    assert f'xuc_http_request_duration_seconds_count{{method="GET",route="{template}",status="401"}}' in text


async def test_mounted_unknown_and_refused_requests_have_bounded_labels(gateway: httpx.AsyncClient) -> None:
    dnd = "/xuc/api/1.0/dnd/{domain}/{username}/"
    before = (requests_total(dnd, "POST", "403"), requests_total("unmatched", "GET", "404"),
              requests_total("/xuc/api/1.0/{path}", "POST", "404"), requests_total("/health/live", "other", "405"))
    # The 1.0 API is mounted; 192.0.2.7 is not an allowed client.
    assert (await gateway.post("/xuc/api/1.0/dnd/avencall.com/alicej/", json={"state": True})).status_code == 403
    assert (await gateway.get("/no/such/path/12345")).status_code == 404
    assert (await gateway.post("/xuc/api/1.0/nothing/here/")).status_code == 404
    assert (await gateway.request("BREW", "/health/live")).status_code == 405
    after = (requests_total(dnd, "POST", "403"), requests_total("unmatched", "GET", "404"),
             requests_total("/xuc/api/1.0/{path}", "POST", "404"), requests_total("/health/live", "other", "405"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 1]
    text = (await gateway.get("/metrics")).text
    assert "12345" not in text
    assert "BREW" not in text


async def test_the_metrics_route_answers_in_prometheus_text_format(gateway: httpx.AsyncClient) -> None:
    await gateway.get("/health/live")
    response = await gateway.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert 'xuc_http_requests_total{method="GET",route="/health/live",status="200"}' in response.text
    assert "# TYPE xuc_http_request_duration_seconds histogram" in response.text
    assert "# TYPE xuc_webhook_deliveries_total counter" in response.text


def test_route_templates_cover_mounted_routes() -> None:
    unused: Any = None
    app = create_app(GatewayConfig("service-token"), unused, PublicKeyCache(unused, "t", "xuc"), unused, unused)
    templates = set(route_templates(app.routes).values())
    assert "/xuc/api/2.0/contact/personal/{contactId}" in templates
    assert "/xuc/api/2.0/call_qualification/queue/{queueId:int}" in templates
    assert "/xuc/api/1.0/dial/{domain}/{username}/" in templates
    assert "/xuc/api/1.0/{path}" in templates
    assert "/metrics" in templates


# --- the event publisher ----------------------------------------------------------------------------
class FakeAck:
    def __init__(self, fail: bool) -> None:
        self.fail = fail


class FakeJetStream:
    """Records what is published; fails the subjects it is told to."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self.failing: set[str] = set()

    async def publish(self, subject: str, payload: bytes, timeout: float,  # noqa: ASYNC109 (nats-py's signature)
                      headers: dict[str, str]) -> FakeAck:
        if subject in self.failing:
            raise TimeoutError("no ack")
        self.published.append((subject, payload, headers))
        return FakeAck(False)

    async def publish_async(self, subject: str, payload: bytes, wait_stall: Any, headers: dict[str, str]
                            ) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if subject in self.failing:
            ack.set_exception(RuntimeError("nack"))
        else:
            self.published.append((subject, payload, headers))
            ack.set_result(None)
        return ack


class FakeConnection:
    def __init__(self) -> None:
        self.js = FakeJetStream()
        self.is_connected = True

    def jetstream(self) -> FakeJetStream:
        return self.js


class Changed:
    def __init__(self, event_id: str, owner: str, cleared: bool = False) -> None:
        self.event_id, self.owner, self.cleared = event_id, owner, cleared


def to_message(event: Changed) -> tuple[str, Any]:
    if event.cleared:
        return f"test.cleared.{event.owner}", ContactsCleared(owner_login=event.owner, deleted=1)
    return f"test.contact.{event.owner}", ContactChanged(owner_login=event.owner, contact_id="c1")


@pytest.mark.parametrize("confirm", [True, False])
async def test_the_publisher_counts_events_and_tags_them_with_the_request_id(confirm: bool) -> None:
    connection = FakeConnection()
    counts = PublishMetrics()
    publisher = NatsEventPublisher(cast(Any, connection), to_message, confirm=confirm, metrics=counts)
    published = ("xuc_nats_published_total", "ContactChanged")
    failed = ("xuc_nats_publish_failures_total", "ContactChanged")
    before = sample(published[0], event=published[1]), sample(failed[0], event=failed[1])
    token = request_ids.bind("req-42")
    try:
        await publisher.publish([Changed("e1", "alice"), Changed("e2", "bob"), Changed("e3", "carol")])
    finally:
        request_ids.reset(token)
    await publisher.publish([Changed("e4", "alice")])  # outside a request
    await publisher.close()
    assert sample(published[0], event=published[1]) - before[0] == 4
    assert sample(failed[0], event=failed[1]) - before[1] == 0
    headers = {subject: headers for subject, _, headers in connection.js.published[:3]}
    assert headers["test.contact.alice"]["Xuc-Request-Id"] == "req-42"
    assert headers["test.contact.carol"]["Xuc-Request-Id"] == "req-42"
    assert headers["test.contact.alice"]["Nats-Msg-Id"] == "e1"
    assert "Xuc-Request-Id" not in connection.js.published[3][2]


async def test_events_published_while_nats_is_down_are_held_then_lost_at_stop_and_counted() -> None:
    """Held through an outage (tests/unit/test_event_publisher.py); what NATS never took by the
    end of `close` counts as lost."""
    connection = FakeConnection()
    connection.is_connected = False
    publisher = NatsEventPublisher(cast(Any, connection), to_message, metrics=PublishMetrics(), close_timeout=0.05)
    before = sample("xuc_nats_publish_failures_total", event="ContactsCleared")
    await publisher.publish([Changed("e1", "alice", cleared=True), Changed("e2", "bob", cleared=True)])
    assert sample("xuc_nats_publish_failures_total", event="ContactsCleared") - before == 0
    assert sample("xuc_nats_publish_buffered") >= 2
    await publisher.close()
    assert sample("xuc_nats_publish_failures_total", event="ContactsCleared") - before == 2
    assert connection.js.published == []
