"""Telephony end to end, through `xuc up` over HTTP, as the original's clients use it: the 1.0 API
from allowed and refused addresses, phone events at a webhook receiver run by the test (also while
it is down for a while), handshake, call history, push registration, contacts' phone statuses, and
the `xuc pbx` command driving the simulator.

One stack for the module: DEPRECATED_API_HOST=127.0.0.1 (a client bound to 127.0.0.2 is "another
host"), the event URL at the test's receiver and a short event back-off; calls ring until the test
answers or hangs up (the ring timeout is long, see tests/e2e/conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, assert_error
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.http_errors import NO_CREDENTIALS_MESSAGE
from tests.support.metrics import scrape_url
from tests.support.webhook_receiver import ThreadedWebhookReceiver

V1 = "/xuc/api/1.0"
# login -> (password, line)
PHONE_USERS = {
    "alicej": ("alice-secret", "1001"),
    "bobm": ("bob-secret", "1002"),
    "carolq": ("carol-secret", "1003"),
    "davep": ("dave-secret", "1004"),
    "erinh": ("erin-secret", "1005"),
}
AGENT, QUEUE_ID = "2001", 5


@pytest.fixture(scope="module")
def receiver() -> Iterator[ThreadedWebhookReceiver]:
    with ThreadedWebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def phones(tmp_path_factory: pytest.TempPathFactory, receiver: ThreadedWebhookReceiver) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("phones"), extra_env={
        "DEPRECATED_API_HOST": "127.0.0.1",
        "XUC_EVENT_URL": receiver.url,
        "XUC_EVENT_MAX_BACKOFF_MS": "300",
        "XUC_EVENT_MAX_ATTEMPTS": "1000",
    }).start()
    try:
        path = stack.write_file("phones.yaml", {
            "users": [{"login": login, "password": password, "firstname": login.capitalize(), "line": line}
                      for login, (password, line) in PHONE_USERS.items()],
            "agents": [{"number": AGENT, "user": "carolq"}],
            "queues": [{"id": QUEUE_ID, "name": "support", "number": "3000", "agents": [AGENT]}],
        })
        output = stack.xuc("provision", str(path)).stdout.splitlines()
        assert "agents: 1 applied, queues: 1 applied" in output
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture(scope="module")
def http(phones: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=phones.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="module")
def elsewhere(phones: Stack) -> Iterator[httpx.Client]:
    """A client on another host (source address 127.0.0.2), not listed in DEPRECATED_API_HOST."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=phones.url, timeout=15.0, transport=transport) as client:
        yield client


def line(login: str) -> str:
    return PHONE_USERS[login][1]


def phone_events(bodies: list[Any]) -> list[tuple[str, str, str]]:
    return [(body["message"]["ctiMessage"]["eventType"], body["message"]["ctiMessage"]["DN"],
             body["message"]["ctiMessage"]["otherDN"]) for body in bodies if "message" in body]


def events_of(receiver: ThreadedWebhookReceiver, login: str, count: int,
              within: float = EVENT_DEADLINE_SECONDS) -> list[Any]:
    """The user's phone events (not statuses) posted so far, once there are at least `count`."""
    deadline = time.monotonic() + within
    while True:
        events = [body for body in receiver.bodies(login) if "message" in body]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def eventually(check: Callable[[], bool], within: float = EVENT_DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def failed_deliveries(stack: Stack) -> float:
    """The webhooks process's count of failed webhook POSTs (each retried)."""
    metrics = stack.run_file("webhooks")["metrics"]
    return scrape_url(f"http://{metrics}/metrics").value("xuc_webhook_deliveries_total", consumer="xuc-webhook",
                                                          outcome="failed")


def pbx(stack: Stack, *args: str) -> str:
    return stack.xuc("pbx", *args).stdout


def hang_up_everything(stack: Stack) -> None:
    for row in pbx(stack, "calls").splitlines():
        if "->" in row:
            caller = row.split()[1]
            stack.xuc("pbx", "hangup", caller, "--call", row.split()[0], check=False)


# --- allowed clients -----------------------------------------------------------------------------
def test_the_1_0_api_answers_allowed_clients_only(http: httpx.Client, elsewhere: httpx.Client) -> None:
    refused = elsewhere.post(f"{V1}/dnd/avencall.com/alicej/", json={"state": False})
    assert "127.0.0.2" in assert_error(refused, 403, "Forbidden")["message"]
    assert_error(elsewhere.get(f"{V1}/historyByUsername/avencall.com/alicej/?size=1"), 403, "Forbidden")
    # X-Forwarded-For is not believed from a peer that is no trusted proxy
    spoofed = elsewhere.post(f"{V1}/dnd/avencall.com/alicej/", json={"state": False},
                             headers={"X-Forwarded-For": "127.0.0.1"})
    assert_error(spoofed, 403, "Forbidden")
    allowed = http.post(f"{V1}/dnd/avencall.com/alicej/", json={"state": False})
    assert allowed.status_code == 200, allowed.text


# --- every 1.0 route ------------------------------------------------------------------------------
def test_connect_checks_the_password(http: httpx.Client) -> None:
    ok = http.post(f"{V1}/connect/avencall.com/alicej/", json={"password": "alice-secret"})
    assert ok.status_code == 200, ok.text
    assert_error(http.post(f"{V1}/connect/avencall.com/alicej/", json={"password": "nope"}), 401,
                 "InvalidCredentials")
    assert_error(http.post(f"{V1}/connect/avencall.com/alicej/", content=b"{not json"), 400, "JsonErrorDecoding")


@pytest.mark.parametrize(("route", "body"), [
    ("dnd", {"state": True}),
    ("dnd", {"state": False}),
    ("uncForward", {"state": True, "destination": "1003"}),
    ("uncForward", {"state": False, "destination": ""}),
    ("naForward", {"state": True, "destination": "1003"}),
    ("naForward", {"state": False, "destination": "1003"}),
    ("busyForward", {"state": True, "destination": "0612345678"}),
    ("busyForward", {"state": False, "destination": ""}),
])
def test_user_services_answer_200_with_and_without_the_trailing_slash(
    http: httpx.Client, route: str, body: dict[str, Any],
) -> None:
    for path in (f"{V1}/{route}/avencall.com/davep/", f"{V1}/{route}/avencall.com/davep"):
        response = http.post(path, json=body)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {}


def test_unknown_users_bad_bodies_and_bad_numbers(http: httpx.Client) -> None:
    assert_error(http.post(f"{V1}/dial/avencall.com/nobody/", json={"number": "1002"}), 404, "UserNotFound")
    assert_error(http.post(f"{V1}/dial/avencall.com//", json={"number": "1002"}), 404, "UserNotFound")
    assert_error(http.post(f"{V1}/dial/avencall.com/alicej/", content=b'{"number": '), 400, "JsonErrorDecoding")
    assert_error(http.post(f"{V1}/dial/avencall.com/alicej/", json={"number": 1002}), 400, "JsonErrorDecoding")
    assert_error(http.post(f"{V1}/dial/avencall.com/alicej/", json={"number": "call me"}), 400, "InvalidNumber")
    assert_error(http.post(f"{V1}/dialByUsername/avencall.com/alicej/", json={"username": "nobody"}), 404,
                 "UserNotFound")
    assert_error(http.post(f"{V1}/dialFromQueue/avencall.com/alicej/",
                           json={"destination": "1002", "queueId": 999, "callerIdName": "x",
                                 "callerIdNumber": "1", "variables": {}}), 404, "QueueNotFound")
    assert_error(http.post(f"{V1}/agentLogin/", json={"agentphonenumber": "1003", "agentnumber": "9999"}), 404,
                 "AgentNotFound")


def assert_done(response: httpx.Response, status: int = 200) -> None:
    """The success answer of a 1.0 command and of push registration: exactly `{}` (gateway/openapi.yaml)."""
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}


def test_agent_login_pause_and_logout(http: httpx.Client) -> None:
    assert_done(http.post(f"{V1}/agentLogin/", json={"agentphonenumber": line("carolq"), "agentnumber": AGENT}))
    assert_done(http.post(f"{V1}/togglePause/", json={"phoneNumber": line("carolq")}))
    assert_done(http.post(f"{V1}/togglePause", json={"phoneNumber": line("carolq")}))
    assert_done(http.post(f"{V1}/agentLogout/", json={"phoneNumber": line("carolq")}))
    assert_error(http.post(f"{V1}/agentLogout/", json={"phoneNumber": line("carolq")}), 404, "AgentNotFound")


# --- calls and the event URL ------------------------------------------------------------------------
def test_dial_from_queue_rings_the_destination_showing_the_callers_id(
    phones: Stack, http: httpx.Client, receiver: ThreadedWebhookReceiver,
) -> None:
    before = len(events_of(receiver, "bobm", 0))
    response = http.post(f"{V1}/dialFromQueue/avencall.com/alicej/", json={
        "destination": line("bobm"), "queueId": QUEUE_ID, "callerIdName": "Thomas", "callerIdNumber": "999999",
        "variables": {"foo": "bar"}})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"uniqueId", "linkedId", "number"}, answer
    assert answer["number"] == line("bobm")
    assert answer["uniqueId"]
    assert answer["linkedId"]
    ringing = events_of(receiver, "bobm", before + 1)[before]["message"]["ctiMessage"]
    assert (ringing["eventType"], ringing["DN"], ringing["otherDN"]) == ("EventRinging", line("bobm"), "999999")
    assert ringing["linkedId"] == answer["linkedId"]
    eventually(lambda: {"username": "bobm", "status": 8} in receiver.bodies("bobm"))
    pbx(phones, "hangup", line("bobm"))
    eventually(lambda: receiver.bodies("bobm")[-1] == {"username": "bobm", "status": 0})


def test_dial_posts_dialing_for_the_caller_and_ringing_for_the_callee(
    phones: Stack, http: httpx.Client, receiver: ThreadedWebhookReceiver,
) -> None:
    before_alice, before_bob = len(events_of(receiver, "alicej", 0)), len(events_of(receiver, "bobm", 0))
    response = http.post(f"{V1}/dial/avencall.com/alicej/", json={"number": line("bobm")})
    assert response.status_code == 200, response.text

    dialing = events_of(receiver, "alicej", before_alice + 1)[before_alice]
    ringing = events_of(receiver, "bobm", before_bob + 1)[before_bob]
    assert dialing == {"username": "alicej", "message": {"msgType": "PhoneEvent", "ctiMessage": {
        "eventType": "EventDialing", "DN": line("alicej"), "otherDN": line("bobm"),
        "linkedId": response.json()["linkedId"], "uniqueId": response.json()["uniqueId"],
        "userData": dialing["message"]["ctiMessage"]["userData"]}}}
    assert dialing["message"]["ctiMessage"]["userData"]["XIVO_USERID"]
    assert ringing["message"]["ctiMessage"]["eventType"] == "EventRinging"
    assert (ringing["message"]["ctiMessage"]["DN"], ringing["message"]["ctiMessage"]["otherDN"]) == (
        line("bobm"), line("alicej"))
    eventually(lambda: {"username": "bobm", "status": 8} in receiver.bodies("bobm"))
    eventually(lambda: {"username": "alicej", "status": 1} in receiver.bodies("alicej"))

    pbx(phones, "answer", line("bobm"))
    pbx(phones, "hangup", line("alicej"))
    assert [event[0] for event in phone_events(events_of(receiver, "alicej", before_alice + 3))[before_alice:]] == [
        "EventDialing", "EventEstablished", "EventReleased"]
    eventually(lambda: receiver.bodies("bobm")[-1] == {"username": "bobm", "status": 0})


def test_events_wait_for_a_receiver_that_is_down_and_arrive_in_order(
    phones: Stack, http: httpx.Client, receiver: ThreadedWebhookReceiver,
) -> None:
    before = len(events_of(receiver, "erinh", 0))
    failed_before = failed_deliveries(phones)
    receiver.stop()
    try:
        for _ in range(3):
            assert http.post(f"{V1}/dial/avencall.com/erinh/", json={"number": "0611223344"}).status_code == 200
            pbx(phones, "hangup", line("erinh"))
        eventually(lambda: failed_deliveries(phones) >= failed_before + 2, within=30.0)  # retried meanwhile
    finally:
        receiver.start()
    events = phone_events(events_of(receiver, "erinh", before + 6)[before:])
    assert events == [("EventDialing", line("erinh"), "0611223344"),
                      ("EventReleased", line("erinh"), "0611223344")] * 3


def test_handshake_posts_every_users_status(http: httpx.Client, receiver: ThreadedWebhookReceiver) -> None:
    counts = {login: len(receiver.bodies(login)) for login in PHONE_USERS}
    response = http.post(f"{V1}/handshake/avencall.com/")  # empty body, no Content-Type
    assert response.status_code == 200, response.text
    for login in PHONE_USERS:
        eventually(lambda login=login: len(receiver.bodies(login)) > counts[login])
        assert isinstance(receiver.bodies(login)[-1]["status"], int)


def test_history_by_size_and_by_days(phones: Stack, http: httpx.Client, receiver: ThreadedWebhookReceiver) -> None:
    carol_before = len(receiver.bodies("carolq"))
    assert http.post(f"{V1}/dial/avencall.com/davep/", json={"number": line("carolq")}).status_code == 200
    # carol does not answer: once her line rings, dave hangs up, a missed call for her
    eventually(lambda: {"username": "carolq", "status": 8} in receiver.bodies("carolq")[carol_before:], within=30.0)
    pbx(phones, "hangup", line("davep"))
    eventually(lambda: receiver.bodies("carolq")[-1] == {"username": "carolq", "status": 0}, within=30.0)
    assert http.post(f"{V1}/dialByUsername/avencall.com/carolq/", json={"username": "davep"}).status_code == 200
    pbx(phones, "answer", line("davep"))
    pbx(phones, "hangup", line("davep"))

    def history(query: str) -> list[dict[str, str]]:
        response = http.get(f"{V1}/historyByUsername/avencall.com/carolq{query}")
        assert response.status_code == 200, response.text
        calls: list[dict[str, str]] = response.json()
        return calls

    eventually(lambda: len(history("/?size=10")) >= 2)
    newest, older = history("/?size=2")
    assert set(newest) == {"start", "duration", "srcUsername", "dstUsername", "status"}
    assert all(isinstance(value, str) for value in newest.values())
    assert (newest["srcUsername"], newest["dstUsername"], newest["status"]) == ("carolq", "davep", "emitted")
    assert (older["srcUsername"], older["dstUsername"], older["status"]) == ("davep", "carolq", "missed")
    assert len(newest["start"]) == 19
    assert len(older["duration"]) == 8
    assert history("?size=1") == [newest]  # without the trailing slash: no redirect
    assert history("/?days=1")[:2] == [newest, older]
    assert_error(http.get(f"{V1}/historyByUsername/avencall.com/carolq/"), 400, "InvalidRequest")


# --- 2.0: push registration and contacts' phone statuses ------------------------------------------------
def token_of(http: httpx.Client, login: str) -> str:
    response = http.post("/xuc/api/2.0/auth/login", json={"login": login, "password": PHONE_USERS[login][0]})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def test_push_registration(http: httpx.Client) -> None:
    headers = {"X-Auth-Token": token_of(http, "bobm")}
    for path in ("/xuc/api/2.0/config/mobile/push/register/android?apiVersion=2.0",
                 "/xuc/api/2.0/config/mobile/push/register/ios?apiVersion=2.0",
                 "/xuc/api/2.0/mobile/push/register"):
        assert_done(http.post(path, content=b'{"token": "1234-5678",}', headers=headers), 201)
    assert_error(http.post("/xuc/api/2.0/mobile/push/register", json={}, headers=headers), 400, "JsonBodyNotFound")
    assert_error(http.post("/xuc/api/2.0/mobile/push/register", content=b"{", headers=headers), 400,
                 "JsonErrorDecoding")
    assert_error(http.post("/xuc/api/2.0/mobile/push/register", json={"token": "x"}), 401,
                 "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)


def test_contacts_list_shows_phone_statuses_as_lines_ring(phones: Stack, http: httpx.Client) -> None:
    headers = {"X-Auth-Token": token_of(http, "alicej")}
    created = http.post("/xuc/api/2.0/contact/personal", headers=headers,
                        json={"firstname": "Bob", "lastname": "Line", "number": line("bobm")})
    assert created.status_code == 201, created.text

    def status() -> int:
        entries = http.get("/xuc/api/2.0/contact/personal", headers=headers).json()["entries"]
        [entry] = [entry for entry in entries if entry["entry"][2] == line("bobm")]
        value: int = entry["status"]
        return value

    hang_up_everything(phones)
    eventually(lambda: status() == 0)
    pbx(phones, "call", "0699887766", line("bobm"))
    eventually(lambda: status() == 8)
    pbx(phones, "answer", line("bobm"))
    eventually(lambda: status() == 2)
    pbx(phones, "hold", line("bobm"))
    eventually(lambda: status() == 16)
    pbx(phones, "hangup", line("bobm"))
    eventually(lambda: status() == 0)


def test_the_pbx_command(phones: Stack) -> None:
    assert pbx(phones, "state").startswith("sim: connected")
    placed = pbx(phones, "call", "0611111111", line("davep"))
    assert f"0611111111 -> {line('davep')}  ringing" in placed
    assert "0611111111" in pbx(phones, "calls")
    assert "established" in pbx(phones, "answer", line("davep"))
    assert "released" in pbx(phones, "hangup", line("davep"))
    refused = phones.xuc("pbx", "answer", "0000", check=False)
    assert refused.returncode == 1
    assert "CallNotFound" in refused.stderr
