"""The NATS that `xuc up` runs, attacked: it takes no one without credentials, and each user only
for its own job (issue 11, item 3).

Before the fix anyone reaching the port could connect, read every stream (login attempts with
client addresses included) and publish a forged `UserChanged deleted`, after which the telephony
service answered 404 UserNotFound for a live user. Now: no anonymous connection; the read-only
subscriber (the operator's integration credential) reads the events and publishes nothing; a
component may publish only its own subjects and read only what it needs.

One stack for the module, the 1.0 API allowed to 127.0.0.1 (telephony answers there for a user);
and one on a NATS of the test's own, configured as docs/events.md tells an operator (`xuc nats-config`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.e2e.conftest import BASE, XUC, Stack, clean_env
from tests.support.nats_users import component_options, refused_connection, watched_connection
from tests.support.processes import NatsServer
from xuc import subjects
from xucproto.events.v1 import auth_events_pb2
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent

V1 = "/xuc/api/1.0"
VICTIM, VICTIM_LINE = "victim", "1201"
CALLER, CALLER_LINE = "caller", "1202"
WITHIN_SECONDS = 20.0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("nats-attacks"), extra_env={"DEPRECATED_API_HOST": "127.0.0.1"}).start()
    try:
        path = stack.write_file("users.yaml", {"users": [
            {"login": VICTIM, "password": "victim-secret", "line": VICTIM_LINE},
            {"login": CALLER, "password": "caller-secret", "line": CALLER_LINE}]})
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture(scope="module")
def http(guarded: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guarded.url, timeout=15.0) as client:
        yield client


def answers_for(http: httpx.Client, login: str) -> bool:
    """Telephony knows the user (its directory follows the user changes on NATS)."""
    response = http.post(f"{V1}/dnd/avencall.com/{login}/", json={"state": False})
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def wait_until_answered(http: httpx.Client, login: str) -> None:
    deadline = time.monotonic() + WITHIN_SECONDS
    while not answers_for(http, login):
        assert time.monotonic() < deadline, f"telephony never answered for {login}"
        time.sleep(0.1)


def forged_deletion(login: str) -> tuple[str, bytes]:
    return (subjects.USER_CHANGED.for_key(login),
            auth_events_pb2.UserChanged(login=login, change="deleted").SerializeToString())


async def test_nats_refuses_a_connection_without_credentials(guarded: Stack) -> None:
    assert "authorization" in await refused_connection(guarded.nats_url(user=None))
    assert "authorization" in await refused_connection(guarded.nats_url(user=None), user="subscriber",
                                                       password="a-guess")


async def test_a_forged_user_deletion_is_refused_and_telephony_keeps_the_user(guarded: Stack,
                                                                             http: httpx.Client) -> None:
    wait_until_answered(http, VICTIM)
    subject, payload = forged_deletion(VICTIM)
    # Without credentials: no connection at all (before the fix, this publish removed the user).
    await refused_connection(guarded.nats_url(user=None))
    # The subscriber's and telephony's credentials: connected, and refused the subject.
    for user, options in (("subscriber", {}), ("telephony", component_options(guarded.nats_login("telephony")))):
        url = guarded.nats_url(user="subscriber" if user == "subscriber" else None)
        watched = await watched_connection(url, name=f"xuc-e2e-forger-{user}", **options)
        try:
            await watched.connection.publish(subject, payload)
            await watched.refused(f'publish to "{subject}"')
            await watched.refused_while(watched.connection.jetstream().publish(subject, payload),
                                        f'publish to "{subject}"')
        finally:
            await watched.close()
    # A real change after the attempts: once telephony has it, it would have had a forged one too.
    guarded.xuc("user", "add", "barrier", "--password", "barrier-secret", "--line", "1299")
    wait_until_answered(http, "barrier")
    assert answers_for(http, VICTIM)


async def test_the_subscriber_reads_the_phone_events(guarded: Stack, http: httpx.Client) -> None:
    """What the example of docs/events.md does: a durable consumer of the phone events, with the subscriber's
    credentials (`xuc nats-url`), any client's default settings."""
    url = guarded.xuc("nats-url").stdout.strip()
    assert url == guarded.nats_url()
    watched = await watched_connection(url, name="xuc-e2e-subscriber")
    try:
        js = watched.connection.jetstream()
        phone = await js.pull_subscribe(subjects.PHONE_EVENT.all, durable="e2e-crm", stream=subjects.TELEPHONY_STREAM,
                                        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
        dialed = await asyncio.to_thread(http.post, f"{V1}/dial/avencall.com/{CALLER}/", json={"number": VICTIM_LINE})
        assert dialed.status_code == 200, dialed.text
        async with asyncio.timeout(WITHIN_SECONDS):
            while True:
                (message,) = await phone.fetch(1, timeout=WITHIN_SECONDS)
                await message.ack()
                if PhoneEvent.FromString(message.data).username == CALLER:
                    break
    finally:
        await watched.close()


@pytest.mark.parametrize("user", ["contacts", "telephony", "gateway"])
async def test_no_component_but_auth_reads_the_login_attempts(guarded: Stack, user: str) -> None:
    watched = await watched_connection(guarded.nats_url(user=None), name=f"xuc-e2e-{user}",
                                       **component_options(guarded.nats_login(user)))
    try:
        await watched.refused_while(
            watched.connection.jetstream().subscribe(subjects.LOGIN_ATTEMPTED.all, stream=subjects.AUTH_STREAM,
                                                     ordered_consumer=True),
            f'publish to "$js.api.consumer.create.{subjects.AUTH_STREAM}"')
        await watched.connection.subscribe(subjects.LOGIN_ATTEMPTED.all)
        await watched.refused(f'subscription to "{subjects.LOGIN_ATTEMPTED.all}"')
    finally:
        await watched.close()


def test_no_nats_password_is_printed(guarded: Stack) -> None:
    passwords = [guarded.nats_login(user)["password"] for user in ("auth", "contacts", "telephony", "gateway",
                                                                  "subscriber")]
    log = guarded.log_path.read_text(errors="replace")
    assert "xuc: nats     up  nats://127.0.0.1:" in log
    assert not [password for password in passwords if password in log]


def test_xuc_up_on_a_nats_the_operator_runs_with_the_users_xuc_nats_config_prints(
        tmp_path: Path, make_stack: Callable[..., Stack]) -> None:
    """docs/events.md's way with `--nats-url`: `xuc nats-config` makes the credentials file and prints the
    authorization block, which the operator includes in the server's configuration."""
    operator = tmp_path / "operator"
    printed = subprocess.run([str(XUC), "nats-config"], env=clean_env(XUC_DATA_DIR=str(operator)),
                             capture_output=True, text=True, timeout=60, check=True)
    (operator / "users.conf").write_text(printed.stdout)
    (operator / "server.conf").write_text(
        f'host: 127.0.0.1\nport: -1\nports_file_dir: "{operator}"\n'
        f'jetstream {{ store_dir: "{operator / "js"}" }}\ninclude "users.conf"\n')
    server = NatsServer.start(operator, config=operator / "server.conf")
    try:
        stack = make_stack(XUC_NATS_URL=server.url, XUC_NATS_CREDENTIALS=str(operator / "nats-credentials.json"))
        assert f"xuc: nats     external  {server.url}" in stack.log()
        stack.xuc("user", "add", "external", "--password", "external-secret")
        with httpx.Client(base_url=stack.url, timeout=15.0) as http:
            assert http.post(f"{BASE}/auth/login", json={"login": "external", "password": "external-secret"}
                             ).status_code == 200
        asyncio.run(_login_attempt_stored(server.url, operator))
        stack.stop()
    finally:
        server.stop()


async def _login_attempt_stored(url: str, operator: Path) -> None:
    """The login attempt, read by the subscriber of the operator's credentials file."""
    login = json.loads((operator / "nats-credentials.json").read_text())["subscriber"]
    watched = await watched_connection(url, user=login["user"], password=login["password"])
    try:
        js = watched.connection.jetstream()
        subscription = await js.subscribe(subjects.LOGIN_ATTEMPTED.for_key("external"), stream=subjects.AUTH_STREAM,
                                          ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        message = await subscription.next_msg(timeout=WITHIN_SECONDS)
        assert auth_events_pb2.LoginAttempted.FromString(message.data).success
    finally:
        await watched.close()
