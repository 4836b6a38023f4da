"""Observability of a stack started by `xuc up` (JSON logs, an event URL), as an operator sees it:
where each component's metrics are (launcher output, ready files), the gateway's requests by
route template, each service's RPCs, the webhooks process's deliveries and the PBX connection; and a client's
request id coming back in the answer, in the services' and the gateway's logs, and in the headers
of the events it caused on NATS."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import nats
import pytest

from tests.e2e.conftest import BASE, Stack
from tests.support.metrics import Samples, value
from tests.support.webhook_receiver import ThreadedWebhookReceiver

T = TypeVar("T")

USERS = {"obs.alice": ("alice-secret", "1001"), "obs.bob": ("bob-secret", None)}
LOGIN = f"{BASE}/auth/login"
PERSONAL = f"{BASE}/contact/personal"
IMPORT = f"{BASE}/contact/import/personal"
WITHIN_SECONDS = 15.0
CONSUMER = "xuc-webhook"  # the webhooks process's consumer: its series carry it
COMPONENTS = ("auth", "telephony", "contacts", "gateway", "webhooks")  # webhooks: XUC_EVENT_URL is set
UP_LINE = re.compile(r"^xuc: (\w+)\s+up  (\S+)  metrics http://(\S+)/metrics$")


# --- helpers ----------------------------------------------------------------------------------------
def eventually(check: Callable[[], T | None], what: str, within: float = WITHIN_SECONDS) -> T:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f} s: {what}")
        time.sleep(0.1)


def scrape(address: str) -> Samples:
    """Every sample of a metrics endpoint (`host:port`), parsed as Prometheus parses it (tests/support/metrics.py:
    `value` fails on a metric family the page does not have)."""
    response = httpx.get(f"http://{address}/metrics", timeout=10.0)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Samples(response.text)


def metrics_address(stack: Stack, component: str) -> str:
    address = stack.run_file(component)["metrics"]
    assert isinstance(address, str)
    return address


def log_records(stack: Stack, component: str) -> list[dict[str, Any]]:
    """The JSON log records `xuc up` relayed from one component (`<name> | {...}` lines)."""
    records = []
    for line in stack.log().splitlines():
        name, separator, text = line.partition(" | ")
        if separator and name.strip() == component and text.startswith("{"):
            records.append(json.loads(text))
    return records


def logged_with(stack: Stack, component: str, request_id: str, message: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((record for record in log_records(stack, component)
                     if record.get("request_id") == request_id and record["message"] == message), None)

    found: dict[str, Any] = eventually(find, f"{component} logging {message!r} with request_id {request_id}")
    return found


def new_request_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


# --- the stack ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def receiver() -> Iterator[ThreadedWebhookReceiver]:
    with ThreadedWebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, receiver: ThreadedWebhookReceiver) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("observed"), extra_env={
        "XUC_LOG_FORMAT": "json", "XUC_EVENT_URL": receiver.url, "XUC_SIM_RING_TIMEOUT": "1"}).start()
    try:
        path = stack.write_file("users.yaml", {"users": [
            {"login": login, "password": password, **({"line": line} if line else {})}
            for login, (password, line) in USERS.items()]})
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture(scope="module")
def http(observed: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=observed.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="module")
def bob(http: httpx.Client) -> dict[str, str]:
    """Headers carrying obs.bob's token."""
    response = http.post(LOGIN, json={"login": "obs.bob", "password": USERS["obs.bob"][0]})
    assert response.status_code == 200, response.text
    return {"X-Auth-Token": response.json()["token"]}


# --- where the metrics are ----------------------------------------------------------------------------
def test_the_launcher_prints_where_each_component_serves_its_metrics(observed: Stack) -> None:
    printed = {match[1]: (match[2], match[3]) for line in observed.log().splitlines()
               if (match := UP_LINE.match(line))}
    assert set(printed) == set(COMPONENTS), observed.log()
    for component in ("auth", "telephony", "contacts"):
        grpc_address, metrics = printed[component]
        assert grpc_address == observed.run_file(component)["grpc"]
        assert metrics == metrics_address(observed, component)
        assert metrics != grpc_address
    gateway_address, gateway_metrics = printed["gateway"]
    assert gateway_address == f"http://{gateway_metrics}" == observed.url
    webhooks_state, webhooks_metrics = printed["webhooks"]  # a worker: it serves only /metrics and /health
    assert webhooks_state == "working"
    assert webhooks_metrics == metrics_address(observed, "webhooks")
    for component in COMPONENTS:
        assert value(scrape(printed[component][1]), "process_cpu_seconds_total") > 0


# --- the gateway ----------------------------------------------------------------------------------------
def test_the_gateway_counts_requests_by_route_template(observed: Stack, http: httpx.Client,
                                                       bob: dict[str, str]) -> None:
    labels = {"route": f"{PERSONAL}/{{contactId}}", "method": "GET", "status": "404"}
    before = value(scrape(metrics_address(observed, "gateway")), "xuc_http_requests_total", **labels)
    missing = [str(uuid.uuid4()) for _ in range(2)]
    for contact_id in missing:
        assert http.get(f"{PERSONAL}/{contact_id}", headers=bob).status_code == 404

    def counted() -> Samples | None:
        samples = scrape(metrics_address(observed, "gateway"))
        return samples if value(samples, "xuc_http_requests_total", **labels) >= before + 2 else None

    samples = eventually(counted, "the gateway counting the two requests")
    assert value(samples, "xuc_http_requests_total", **labels) == before + 2
    assert value(samples, "xuc_http_request_duration_seconds_count", **labels) == before + 2
    assert not any(contact_id in str(key) for key in samples for contact_id in missing)  # templates, not paths


# --- the services -------------------------------------------------------------------------------------
def test_each_service_counts_its_rpcs_on_its_own_endpoint(observed: Stack, http: httpx.Client,
                                                          bob: dict[str, str]) -> None:
    contacts_before = scrape(metrics_address(observed, "contacts"))
    created = http.post(PERSONAL, json={"firstname": "Metric", "lastname": "Counted"}, headers=bob)
    assert created.status_code == 201, created.text
    assert http.get(f"{PERSONAL}/{uuid.uuid4()}", headers=bob).status_code == 404
    create = {"grpc_service": "xuc.contacts.v1.PersonalContacts", "grpc_method": "CreateContact", "grpc_code": "OK"}
    get_missing = {"grpc_service": "xuc.contacts.v1.PersonalContacts", "grpc_method": "GetContact",
                   "grpc_code": "NOT_FOUND"}
    contacts = scrape(metrics_address(observed, "contacts"))
    assert value(contacts, "xuc_grpc_server_handled_total", **create) == \
        value(contacts_before, "xuc_grpc_server_handled_total", **create) + 1
    assert value(contacts, "xuc_grpc_server_handled_total", **get_missing) >= 1
    assert value(contacts, "xuc_grpc_server_handling_seconds_count", **create) >= 1
    assert value(contacts, "xuc_nats_published_total", event="ContactChanged") >= 1

    auth = scrape(metrics_address(observed, "auth"))
    assert value(auth, "xuc_grpc_server_handled_total", grpc_service="xuc.auth.v1.Auth", grpc_method="Login",
                 grpc_code="OK") >= 1
    telephony = scrape(metrics_address(observed, "telephony"))
    assert value(telephony, "xuc_pbx_connected", kind="sim") == 1


def test_phone_events_show_in_the_forwarder_and_telephony_metrics(observed: Stack,
                                                                  receiver: ThreadedWebhookReceiver) -> None:
    observed.xuc("pbx", "call", "0611223344", USERS["obs.alice"][1])
    receiver.wait_for_deliveries(1, within=WITHIN_SECONDS, username="obs.alice")

    def forwarded() -> Samples | None:
        samples = scrape(metrics_address(observed, "webhooks"))
        delivered = value(samples, "xuc_webhook_deliveries_total", consumer=CONSUMER, outcome="delivered")
        return samples if delivered >= 1 else None

    webhooks = eventually(forwarded, "the webhooks process counting a delivery to the event URL")
    assert value(webhooks, "xuc_webhook_events_received_total", consumer=CONSUMER) >= 1
    assert value(webhooks, "xuc_webhook_delivery_duration_seconds_count", consumer=CONSUMER, outcome="delivered") >= 1
    assert ("xuc_event_consumer_pending", frozenset({("consumer", CONSUMER)})) in webhooks
    assert value(webhooks, "xuc_webhook_dead_lettered_total", consumer=CONSUMER, cause="attempts") == 0
    telephony = scrape(metrics_address(observed, "telephony"))
    assert value(telephony, "xuc_grpc_server_handled_total", grpc_service="xuc.telephony.v1.Simulator",
                 grpc_method="PlaceCall", grpc_code="OK") >= 1
    assert value(telephony, "xuc_nats_published_total", event="PhoneEvent") >= 1


# --- request ids --------------------------------------------------------------------------------------
def test_the_gateway_returns_the_clients_request_id_or_a_new_one(http: httpx.Client) -> None:
    request_id = new_request_id()
    assert http.get("/health/ready", headers={"X-Request-Id": request_id}).headers["x-request-id"] == request_id
    made = http.get("/health/ready", headers={"X-Request-Id": "not a sane id"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


async def test_a_request_id_reaches_the_event_a_contact_creation_publishes(observed: Stack,
                                                                           bob: dict[str, str]) -> None:
    request_id = new_request_id()
    client = await nats.connect(observed.nats_url(), name="xuc-e2e-observability", max_reconnect_attempts=0)
    try:
        subscription = await client.subscribe("xuc.contacts.contact.>")
        async with httpx.AsyncClient(base_url=observed.url, timeout=15.0) as http:
            created = await http.post(PERSONAL, json={"firstname": "Traced", "lastname": "Contact"},
                                      headers={**bob, "X-Request-Id": request_id})
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == request_id
        message = await subscription.next_msg(timeout=WITHIN_SECONDS)
    finally:
        await client.close()
    assert message.subject == "xuc.contacts.contact.obs~2Ebob"
    assert (message.headers or {}).get("Xuc-Event-Type") == "xuc.events.v1.ContactChanged"
    assert (message.headers or {}).get("Xuc-Request-Id") == request_id


def test_a_request_id_appears_in_the_logs_of_the_service_and_of_the_gateway(observed: Stack, http: httpx.Client,
                                                                           bob: dict[str, str]) -> None:
    request_id = new_request_id()
    imported = http.post(IMPORT, content=b"firstname,lastname\nLogged,Import\n",
                         headers={**bob, "Content-Type": "text/csv;charset=UTF-8", "X-Request-Id": request_id})
    assert imported.status_code == 201, imported.text
    assert imported.headers["x-request-id"] == request_id
    record = logged_with(observed, "contacts", request_id, "contacts imported")
    assert record["owner"] == "obs.bob"
    assert not any(record.get("request_id") == request_id for record in log_records(observed, "auth"))

    refused_id = new_request_id()  # the 1.0 API answers no one here (DEPRECATED_API_HOST is unset)
    refused = http.post("/xuc/api/1.0/dnd/example.com/obs.bob/", json={"state": True},
                        headers={"X-Request-Id": refused_id})
    assert refused.status_code == 403
    assert refused.headers["x-request-id"] == refused_id
    logged_with(observed, "gateway", refused_id, "1.0 API call refused")
