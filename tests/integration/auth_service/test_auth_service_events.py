"""The auth service's events on JetStream: login attempts without secrets, user changes, and a
huge login that does not break publishing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import grpc
from nats.js import JetStreamContext

from tests.support.auth_client import CLIENT_ADDRESS, UNAUTHENTICATED, AuthClient, client_for
from tests.support.events import stored_messages
from tests.support.processes import ServiceLauncher
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc import subjects
from xucproto.auth.v1 import auth_pb2
from xucproto.events.v1 import auth_events_pb2


async def test_login_attempts_are_published_without_secrets(auth: AuthClient, js: JetStreamContext) -> None:
    # A login with characters that are not allowed in a subject token: "." and "@" are encoded.
    login = f"frank.{unique_login('')}@example.com"
    password, wrong_password = "frank-correct-horse", "frank-wrong-horse"
    user = await auth.create_user(login, password)
    good = await auth.login(login, password)
    await rpc_error(auth.login(login, wrong_password))

    messages = await stored_messages(js, subjects.LOGIN_ATTEMPTED.for_key(login), count=2)

    expected_subject = "xuc.auth.login." + login.replace(".", "~2E").replace("@", "~40")
    assert [message.subject for message in messages] == [expected_subject] * 2
    assert subjects.LOGIN_ATTEMPTED.key_of(expected_subject) == login
    success, failure = (auth_events_pb2.LoginAttempted.FromString(message.data) for message in messages)
    assert (success.login, success.success, success.user_id, success.reason) == (login, True, user.id, "")
    assert (failure.login, failure.success, failure.user_id, failure.reason) == (login, False, "",
                                                                                 "InvalidCredentials")
    for event in (success, failure):
        assert (event.method, event.client_address, event.software_type, event.application_type) \
            == ("password", CLIENT_ADDRESS, "tests", "integration")
        assert abs(event.occurred_at.ToSeconds() - time.time()) < 60
    secrets_ = [password, wrong_password, good.token, *good.token.split(".")]
    for message in messages:
        assert message.headers is not None
        assert message.headers["Xuc-Event-Type"] == "xuc.events.v1.LoginAttempted"
        raw = message.data + json.dumps(message.headers).encode()
        leaked = [secret for secret in secrets_ if secret.encode() in raw]
        assert not leaked, f"a secret is in the event on {message.subject}"


async def test_user_changes_are_published(auth: AuthClient, js: JetStreamContext) -> None:
    login = unique_login("gina")
    user = await auth.create_user(login, "gina-pw")
    await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, lastname="Gee"), metadata=auth.service)
    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=auth.service)

    messages = await stored_messages(js, subjects.USER_CHANGED.for_key(login), count=3)

    assert {message.subject for message in messages} == {f"xuc.auth.user.{login}"}
    assert [(message.headers or {}).get("Xuc-Event-Type") for message in messages] \
        == ["xuc.events.v1.UserChanged"] * 3
    events = [auth_events_pb2.UserChanged.FromString(message.data) for message in messages]
    assert [(event.login, event.user_id, event.change) for event in events] == [
        (login, user.id, "created"), (login, user.id, "updated"), (login, user.id, "deleted")
    ]


async def test_a_huge_login_does_not_break_event_publishing(
    service_launcher: ServiceLauncher, tmp_path: Path, js: JetStreamContext
) -> None:
    # The login's subject token would exceed NATS's 4 KiB control line: the server would close the
    # connection for good (nats-py does not reconnect after such an error). Own process: if this
    # regresses, the shared service's events are not lost for the other tests.
    service = await asyncio.to_thread(service_launcher.start, "services.auth", "auth",
                                      database_url=f"sqlite:///{tmp_path / 'auth.db'}")
    async with grpc.aio.insecure_channel(service.grpc_address) as channel:
        auth = client_for(channel, service)
        assert await refusal(auth.login("é" * 700, "whatever")) == (UNAUTHENTICATED, "InvalidCredentials")
        login = unique_login("after")
        await auth.create_user(login)
        await stored_messages(js, subjects.USER_CHANGED.for_key(login), count=1)
    await asyncio.to_thread(service.stop)  # and it still exits cleanly
