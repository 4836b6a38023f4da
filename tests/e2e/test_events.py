"""A login over HTTP is published on the stack's NATS JetStream, as a subscriber sees it."""

from __future__ import annotations

import httpx
import nats
from nats.js.api import DeliverPolicy

from tests.e2e.conftest import BASE, USERS, Stack, assert_error, assert_token_answer, login_body
from xucproto.events.v1 import auth_events_pb2

LOGIN = f"{BASE}/auth/login"
EVENT_LOGIN = "carole.events"  # logs in nowhere else
SUBJECT = "xuc.auth.login.carole~2Eevents"  # the dot of the login is escaped in the subject token


async def test_login_attempts_reach_nats_without_the_password(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15.0) as api:
        assert_error(await api.post(LOGIN, json=login_body(EVENT_LOGIN, "a-wrong-password")), 401, "InvalidCredentials")
        assert_token_answer(await api.post(LOGIN, json={**login_body(EVENT_LOGIN), "softwareType": "webBrowser",
                                                        "applicationType": "ccagent"}), EVENT_LOGIN)

    client = await nats.connect(stack.nats_url(), name="xuc-e2e", max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        subscription = await js.subscribe(SUBJECT, stream="XUC_AUTH", ordered_consumer=True,
                                          deliver_policy=DeliverPolicy.ALL)
        messages = [await subscription.next_msg(timeout=10) for _ in range(2)]
        await subscription.unsubscribe()
    finally:
        await client.close()

    events = []
    for message in messages:
        assert message.subject == SUBJECT
        assert (message.headers or {}).get("Xuc-Event-Type") == "xuc.events.v1.LoginAttempted"
        assert USERS[EVENT_LOGIN].encode() not in message.data
        assert b"a-wrong-password" not in message.data
        event = auth_events_pb2.LoginAttempted()
        event.ParseFromString(message.data)
        events.append(event)
    failed, succeeded = events
    assert failed.login == EVENT_LOGIN
    assert not failed.success
    assert failed.reason == "InvalidCredentials"
    assert not failed.user_id
    assert succeeded.login == EVENT_LOGIN
    assert succeeded.success
    assert succeeded.reason == ""
    assert succeeded.method == "password"
    assert succeeded.user_id
    assert succeeded.client_address == "127.0.0.1"
    assert succeeded.software_type == "webBrowser"
    assert succeeded.application_type == "ccagent"
    assert succeeded.occurred_at.seconds >= failed.occurred_at.seconds > 0
