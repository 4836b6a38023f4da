"""The auth use cases (services/auth/service_layer/auth_service.py) against hand-written fakes:
login (the token, the published attempts, rehashing) and refresh."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.auth.adapters.notifier import to_message
from services.auth.domain.errors import InvalidCredentials
from services.auth.domain.model import LoginAttempted
from services.auth.service_layer.auth_service import PASSWORD_METHOD
from tests.unit.auth_system import (
    CLIENT,
    PASSWORD,
    TTL,
    System,
    alice,
    assert_published_after_commit,
    spec,
)
from xuc import subjects
from xuc.errors import InvalidToken
from xuc.security.tokens import Claims


@pytest.fixture
def system() -> System:
    return System([alice()])


# --- login ----------------------------------------------------------------------------------------
async def test_login_returns_a_token_of_the_user(system: System) -> None:
    issued = await system.service.login("alice", PASSWORD, CLIENT)
    claims = system.verifier.verify(issued.token)
    assert claims.login == "alice"
    assert claims.user_id == system.user("alice").id
    assert issued.login == "alice"
    assert issued.ttl == TTL
    assert issued.expires == int(system.now) + TTL


async def test_login_publishes_a_successful_attempt_without_the_password(system: System) -> None:
    await system.service.login("alice", PASSWORD, CLIENT)
    assert system.publisher.events == [
        LoginAttempted(
            login="alice", success=True, reason="", method=PASSWORD_METHOD, client=CLIENT,
            user_id=system.user("alice").id, occurred_at=datetime.fromtimestamp(system.now, UTC),
            event_id=system.publisher.events[0].event_id,
        )
    ]
    event = system.publisher.events[0]
    assert PASSWORD not in repr(event)
    subject, message = to_message(event)
    assert subject == subjects.LOGIN_ATTEMPTED.for_key("alice")
    assert PASSWORD.encode() not in message.SerializeToString()


async def test_a_login_does_not_write_when_the_hash_is_current(system: System) -> None:
    await system.service.login("alice", PASSWORD, CLIENT)
    assert system.database.commits == 0
    assert system.user("alice").password_hash == f"hash:{PASSWORD}"


@pytest.mark.parametrize(("login", "password"), [("alice", "wrong"), ("alice", ""), ("nobody", PASSWORD)])
async def test_a_failed_login_is_invalid_credentials_and_published(login: str, password: str) -> None:
    system = System([alice()])
    with pytest.raises(InvalidCredentials):
        await system.service.login(login, password, CLIENT)
    [event] = system.publisher.events
    assert isinstance(event, LoginAttempted)
    assert (event.login, event.success, event.reason, event.user_id) == (login, False, "InvalidCredentials", "")
    assert event.client == CLIENT
    assert event.method == PASSWORD_METHOD
    if password:
        assert password not in repr(event)
        assert password.encode() not in to_message(event)[1].SerializeToString()
    assert system.database.commits == 0


async def test_wrong_password_and_unknown_user_answer_the_same(system: System) -> None:
    with pytest.raises(InvalidCredentials) as wrong_password:
        await system.service.login("alice", "wrong", CLIENT)
    with pytest.raises(InvalidCredentials) as unknown_user:
        await system.service.login("nobody", "wrong", CLIENT)
    assert str(wrong_password.value) == str(unknown_user.value)
    assert wrong_password.value.reason == unknown_user.value.reason == "InvalidCredentials"


async def test_an_unknown_user_still_costs_a_password_verification(system: System) -> None:
    with pytest.raises(InvalidCredentials):
        await system.service.login("nobody", "guess", CLIENT)
    assert [password for _, password in system.hasher.verified] == ["guess"]


async def test_the_dummy_hash_for_unknown_users_is_made_once(system: System) -> None:
    for attempt in ("one", "two", "three"):
        with pytest.raises(InvalidCredentials):
            await system.service.login("nobody", attempt, CLIENT)
    assert len(system.hasher.hashed) == 1
    assert [password for _, password in system.hasher.verified] == ["one", "two", "three"]


async def test_login_rehashes_an_outdated_hash() -> None:
    system = System([alice(scheme="old")])
    issued = await system.service.login("alice", PASSWORD, CLIENT)
    assert system.verifier.verify(issued.token).login == "alice"
    assert system.user("alice").password_hash == f"hash:{PASSWORD}"
    assert system.database.commits == 1
    assert system.hasher.hashed == [PASSWORD]
    assert_published_after_commit(system)


async def test_a_wrong_password_does_not_rehash() -> None:
    system = System([alice(scheme="old")])
    with pytest.raises(InvalidCredentials):
        await system.service.login("alice", "wrong", CLIENT)
    assert system.user("alice").password_hash == f"old:{PASSWORD}"
    assert system.hasher.hashed == []


# --- refresh ------------------------------------------------------------------------------------
async def claims_of_a_login(system: System) -> Claims:
    return system.verifier.verify((await system.service.login("alice", PASSWORD, CLIENT)).token)


async def test_refresh_issues_a_new_token_for_an_existing_user(system: System) -> None:
    claims = await claims_of_a_login(system)
    system.now += 60
    refreshed = system.verifier.verify((await system.service.refresh(claims)).token)
    assert refreshed.login == "alice"
    assert refreshed.user_id == claims.user_id
    assert refreshed.token_id != claims.token_id
    assert refreshed.expires == claims.expires + 60


async def test_refresh_refuses_the_token_of_a_deleted_user(system: System) -> None:
    claims = await claims_of_a_login(system)
    await system.service.delete_user("alice")
    with pytest.raises(InvalidToken):
        await system.service.refresh(claims)


async def test_refresh_refuses_the_token_of_a_deleted_then_recreated_user(system: System) -> None:
    claims = await claims_of_a_login(system)
    await system.service.delete_user("alice")
    await system.service.create_user(spec("alice"))
    with pytest.raises(InvalidToken):
        await system.service.refresh(claims)
