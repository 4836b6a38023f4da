"""Sessions that end: the credentials time, the revocation set, the longest session.

The auth use cases run against the hand-written fakes (tests/unit/fakes.py); tokens are real ES256
tokens, verified by a real TokenVerifier whose revocation set is fed as the events would feed it.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.errors import InvalidCredentials
from services.auth.domain.model import ClientInfo, Profile, User, UserChanged, UserSpec
from services.auth.service_layer.auth_service import AuthService
from tests.unit.fakes import FakeDatabase, FakeHasher, FakeUnitOfWorkFactory, RecordingPublisher
from xuc.errors import InvalidToken, TokenExpired
from xuc.security.revocations import FUTURE_SKEW_MS, MARGIN_SECONDS, Revocations, retention_for
from xuc.security.tokens import ALGORITHM, Claims, TokenVerifier, key_id

KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = "xuc"
TTL = 3600
MAX_SESSION = 4 * TTL
PASSWORD = "first-secret"
CLIENT = ClientInfo(address="192.0.2.10")


class System:
    """Auth with fakes, and a verifier that hears of every UserChanged, as a gateway would."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))
        self.database = FakeDatabase([User("alice", f"hash:{PASSWORD}", Profile(line="1001"))])
        self.publisher = RecordingPublisher(self.database)
        self.service = AuthService(FakeUnitOfWorkFactory(self.database), FakeHasher(),
                                   JwtIssuer(KEY, ISSUER, TTL, MAX_SESSION), self.publisher,
                                   clock=lambda: self.now, token_ttl=TTL)
        self.revocations = Revocations(retention_for(TTL), clock=lambda: self.now)
        self.verifier = TokenVerifier(ISSUER, [KEY.public_key()], clock=lambda: self.now,
                                      revocations=self.revocations)

    def deliver_events(self) -> None:
        for event in self.publisher.events:
            if isinstance(event, UserChanged):
                self.revocations.revoke(event.user_id, event.credentials_changed_at)

    async def login(self, password: str = PASSWORD) -> tuple[str, Claims]:
        token = (await self.service.login("alice", password, CLIENT)).token
        return token, self.verifier.verify(token)

    def later(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def system() -> System:
    return System()


async def test_a_password_change_revokes_the_tokens_issued_before_it(system: System) -> None:
    old_token, old_claims = await system.login()
    system.later(1)
    await system.service.update_user("alice", "second-secret", {})
    system.deliver_events()
    with pytest.raises(InvalidToken, match="revoked"):
        system.verifier.verify(old_token)  # remembered as verified: refused all the same
    with pytest.raises(InvalidToken, match="revoked"):
        await system.service.refresh(old_claims)  # and auth refuses to refresh it, events or not
    new_token, _ = await system.login("second-secret")
    assert system.verifier.verify(new_token).login == "alice"


async def test_auth_refuses_the_refresh_before_hearing_the_event(system: System) -> None:
    _, claims = await system.login()
    await system.service.update_user("alice", "second-secret", {})
    with pytest.raises(InvalidToken):
        await system.service.refresh(claims)  # read from the database: no event needed


async def test_a_token_issued_in_the_same_second_after_the_change_is_valid(system: System) -> None:
    await system.service.update_user("alice", "second-secret", {})
    system.deliver_events()
    token, _ = await system.login("second-secret")  # no clock moved: the same millisecond
    assert system.verifier.verify(token).login == "alice"


async def test_a_profile_change_revokes_nothing(system: System) -> None:
    token, claims = await system.login()
    await system.service.update_user("alice", None, {"firstname": "Alicia"})
    system.deliver_events()
    assert system.verifier.verify(token).login == "alice"
    assert (await system.service.refresh(claims)).login == "alice"


async def test_provisioning_moves_the_time_only_when_the_password_changes(system: System) -> None:
    token, _ = await system.login()
    await system.service.put_users([UserSpec("alice", PASSWORD, Profile(line="1002"))])
    system.deliver_events()
    assert system.verifier.verify(token).login == "alice"
    await system.service.put_users([UserSpec("alice", "new-secret", Profile(line="1002"))])
    system.deliver_events()
    with pytest.raises(InvalidToken):
        system.verifier.verify(token)


async def test_a_disabled_user_cannot_log_in_and_their_tokens_are_refused(system: System) -> None:
    token, claims = await system.login()
    await system.service.update_user("alice", None, {}, disabled=True)
    system.deliver_events()
    with pytest.raises(InvalidToken):
        system.verifier.verify(token)
    with pytest.raises(InvalidToken):
        await system.service.refresh(claims)
    with pytest.raises(InvalidCredentials):
        await system.login()
    await system.service.update_user("alice", None, {}, disabled=False)
    system.deliver_events()
    new_token, _ = await system.login()
    assert system.verifier.verify(new_token).login == "alice"
    with pytest.raises(InvalidToken):
        system.verifier.verify(token)  # enabling again does not bring the old tokens back


async def test_a_disable_in_the_provisioning_file_revokes_too(system: System) -> None:
    token, _ = await system.login()
    await system.service.put_users([UserSpec("alice", PASSWORD, Profile(line="1001"), disabled=True)])
    system.deliver_events()
    with pytest.raises(InvalidToken):
        system.verifier.verify(token)


async def test_a_deleted_user_is_listed_for_verifiers_that_start_later(system: System) -> None:
    token, _ = await system.login()
    user_id = system.database.by_login("alice").id  # type: ignore[union-attr]
    await system.service.delete_user("alice")
    starting = System()  # a verifier starting now, that heard no event
    starting.revocations.revoke_all(await system.service.list_revocations())
    fresh = TokenVerifier(ISSUER, [KEY.public_key()], revocations=starting.revocations)
    with pytest.raises(InvalidToken):
        fresh.verify(token)
    assert [user for user, _ in await system.service.list_revocations()] == [user_id]


async def test_revocations_older_than_a_token_lifetime_are_forgotten(system: System) -> None:
    await system.service.delete_user("alice")
    system.later(TTL + MARGIN_SECONDS + 1)
    assert await system.service.list_revocations() == []  # no longer listed...
    assert system.database.revocations != {}
    await system.service.forget_old_revocations()  # ...and gone at auth's next maintenance
    assert system.database.revocations == {}


async def test_the_credentials_time_always_moves_forward(system: System) -> None:
    await system.service.update_user("alice", "second-secret", {})
    first = system.database.by_login("alice").credentials_changed_at  # type: ignore[union-attr]
    system.later(-30)  # another replica, whose clock is behind
    await system.service.update_user("alice", "third-secret", {})
    second = system.database.by_login("alice").credentials_changed_at  # type: ignore[union-attr]
    assert second > first


async def test_an_upgraded_hash_revokes_nothing() -> None:
    system = System()
    system.database.users = {user.id: User(user.login, f"old:{PASSWORD}", user.profile, id=user.id)
                             for user in system.database.users.values()}
    before = system.database.by_login("alice").credentials_changed_at  # type: ignore[union-attr]
    await system.login()  # the "old" scheme is rehashed
    after = system.database.by_login("alice")
    assert after is not None
    assert after.password_hash == f"hash:{PASSWORD}"
    assert after.credentials_changed_at == before


async def test_events_carry_the_credentials_time_and_the_disabled_flag(system: System) -> None:
    await system.service.update_user("alice", None, {}, disabled=True)
    event = system.publisher.events[-1]
    assert isinstance(event, UserChanged)
    assert event.disabled is True
    assert event.credentials_changed_at == int(system.now * 1000)


# --- the longest session ------------------------------------------------------------------------
async def test_refresh_keeps_the_login_time_and_stops_at_the_longest_session(system: System) -> None:
    _, claims = await system.login()
    started = claims.auth_time
    assert started == int(system.now)
    while system.now + TTL < started + MAX_SESSION:
        system.later(TTL - 60)
        claims = system.verifier.verify((await system.service.refresh(claims)).token)
        assert claims.auth_time == started
    assert claims.expires == started + MAX_SESSION  # the last refresh is cut at the session's end
    system.later(claims.expires - system.now - 1)
    issued = await system.service.refresh(claims)
    assert issued.expires == started + MAX_SESSION
    assert issued.ttl == 1
    system.later(1)
    with pytest.raises(TokenExpired):
        system.verifier.verify(issued.token)
    with pytest.raises(TokenExpired):
        await system.service.refresh(claims)


def test_a_session_shorter_than_a_token_lifetime_cuts_the_first_token() -> None:
    issued = JwtIssuer(KEY, ISSUER, ttl=TTL, max_session=600).issue(User("alice", "h", Profile()), time.time())
    assert issued.ttl == 600


# --- the revocation set -----------------------------------------------------------------------------
def test_the_latest_change_wins_whatever_the_order() -> None:
    now = time.time()
    revocations = Revocations(TTL, clock=lambda: now)
    later_ms, earlier_ms = int(now * 1000), int(now * 1000) - 5000
    revocations.revoke("u", later_ms)
    revocations.revoke("u", earlier_ms)
    assert revocations.refuses("u", earlier_ms)
    assert not revocations.refuses("u", later_ms)
    assert not revocations.refuses("someone-else", 0)


def test_an_entry_is_forgotten_once_no_token_before_it_can_live() -> None:
    clock = [time.time()]
    revocations = Revocations(TTL, clock=lambda: clock[0])
    revocations.revoke("u", int(clock[0] * 1000))
    revocations.revoke("too-old", int((clock[0] - TTL - 1) * 1000))
    assert len(revocations) == 1
    clock[0] += TTL + 1
    revocations.prune()
    assert len(revocations) == 0


def _legacy_token(user_id: str, now: float) -> str:
    """A token of the version before sessions ended: no auth_time, no credentials time."""
    claims: dict[str, Any] = {"iss": ISSUER, "sub": user_id, "login": "alice", "iat": int(now),
                              "exp": int(now) + TTL, "jti": "j"}
    return jwt.encode(claims, KEY, algorithm=ALGORITHM, headers={"kid": key_id(KEY.public_key())})


def test_a_token_of_the_previous_version_verifies_until_its_user_changes() -> None:
    now = time.time()
    revocations = Revocations(TTL, clock=lambda: now)
    verifier = TokenVerifier(ISSUER, [KEY.public_key()], clock=lambda: now, revocations=revocations)
    token = _legacy_token("u-1", now)
    claims = verifier.verify(token)
    assert (claims.auth_time, claims.credentials_changed_at) == (int(now), 0)
    revocations.revoke("u-1", int(now * 1000))
    with pytest.raises(InvalidToken):
        verifier.verify(token)


async def test_provisioning_never_moves_the_credentials_time_back_over_a_concurrent_change() -> None:
    """put_users reads, hashes (slow: another replica may disable the user meanwhile), then writes."""
    system = System()

    class DisableWhileHashing(FakeHasher):
        concurrent_done = False

        async def hash(self, password: str) -> str:
            if not self.concurrent_done:
                self.concurrent_done = True
                system.later(5)  # the other replica's change is later than our plan's time...
                await system.service.update_user("alice", None, {}, disabled=True)
                system.later(-5)  # ...and our clock is behind it
            return await super().hash(password)

    system.service = AuthService(FakeUnitOfWorkFactory(system.database), DisableWhileHashing(),
                                 JwtIssuer(KEY, ISSUER, TTL, MAX_SESSION), system.publisher,
                                 clock=lambda: system.now, token_ttl=TTL)
    await system.service.put_users([UserSpec("alice", "new-secret", Profile(line="1001"))])
    disabled_at = next(event.credentials_changed_at for event in system.publisher.events
                       if isinstance(event, UserChanged) and event.disabled)
    stored = system.database.by_login("alice")
    assert stored is not None
    assert stored.credentials_changed_at > disabled_at
    system.deliver_events()
    token, _ = await system.login("new-secret")  # the file enabled the user again: its new token is valid
    assert system.verifier.verify(token).login == "alice"


def test_a_change_dated_far_ahead_counts_as_now_and_locks_no_one_out_for_long() -> None:
    clock = [time.time()]
    revocations = Revocations(TTL, clock=lambda: clock[0])
    now_ms = int(clock[0] * 1000)
    revocations.revoke("u", now_ms + 365 * 24 * 3600 * 1000)  # a forged event, or a clock a year off
    assert revocations.refuses("u", now_ms)  # every token issued until now is refused...
    assert not revocations.refuses("u", now_ms + FUTURE_SKEW_MS)  # ...not those issued a minute later
