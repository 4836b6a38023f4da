"""Failed-login throttling: the pure model, and the auth service refusing before any hash."""

from __future__ import annotations

import pytest

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.errors import InvalidCredentials
from services.auth.domain.model import ClientInfo, LoginAttempted, Profile, User
from services.auth.domain.throttle import LoginThrottle, ThrottleLimits, TooManyAttempts
from services.auth.service_layer.auth_service import AuthService
from tests.unit.auth_system import ISSUER_NAME, KEY
from tests.unit.fakes import FakeDatabase, FakeHasher, FakeUnitOfWorkFactory, RecordingPublisher

LIMITS = ThrottleLimits(per_login=3, per_address=5, window_seconds=60)


def test_a_login_is_refused_after_its_failures_within_the_window() -> None:
    throttle = LoginThrottle(LIMITS)
    for second in range(3):
        throttle.check(float(second), "alice", "192.0.2.1")
        throttle.failed(float(second), "alice", "192.0.2.1")
    with pytest.raises(TooManyAttempts, match="for this login: try again in 57 s"):
        throttle.check(3.0, "alice", "192.0.2.9")
    throttle.check(3.0, "bob", "192.0.2.1")  # another login from the same address: 3 of 5 so far
    throttle.check(60.5, "alice", "192.0.2.1")  # the first failure left the window


def test_an_address_is_refused_after_its_failures_whatever_the_login() -> None:
    throttle = LoginThrottle(LIMITS)
    for n in range(5):
        throttle.failed(10.0, f"user{n}", "192.0.2.1")
    with pytest.raises(TooManyAttempts, match="from this address"):
        throttle.check(11.0, "someone", "192.0.2.1")
    throttle.check(11.0, "someone", "192.0.2.2")


def test_a_success_clears_the_logins_failures_only() -> None:
    throttle = LoginThrottle(ThrottleLimits(per_login=2, per_address=3, window_seconds=60))
    throttle.failed(1.0, "alice", "192.0.2.1")
    throttle.failed(2.0, "alice", "192.0.2.1")
    throttle.succeeded("alice")
    throttle.check(3.0, "alice", "192.0.2.2")
    throttle.failed(3.0, "alice", "192.0.2.1")
    with pytest.raises(TooManyAttempts, match="from this address"):
        throttle.check(4.0, "alice", "192.0.2.1")


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(ThrottleLimits(per_login=1, per_address=1000, window_seconds=60, max_keys=10))
    for n in range(100):
        throttle.failed(1.0, f"user{n}")
    throttle.check(2.0, "user0")  # forgotten: the oldest keys go first
    with pytest.raises(TooManyAttempts):
        throttle.check(2.0, "user99")


async def test_the_service_refuses_without_checking_the_password_and_publishes() -> None:
    database = FakeDatabase([User("alice", "hash:right", Profile())], ())
    hasher, publisher, now = FakeHasher(), RecordingPublisher(database), [1000.0]
    service = AuthService(FakeUnitOfWorkFactory(database), hasher, JwtIssuer(KEY, ISSUER_NAME, 60), publisher,
                          clock=lambda: now[0], throttle=LoginThrottle(LIMITS))
    client = ClientInfo(address="192.0.2.1")
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await service.login("alice", "wrong", client)
    verifications = len(hasher.verified)
    with pytest.raises(TooManyAttempts):
        await service.login("alice", "right", client)
    assert len(hasher.verified) == verifications  # refused before any hash
    last = publisher.events[-1]
    assert isinstance(last, LoginAttempted)
    assert (last.login, last.success, last.reason) == ("alice", False, "TooManyAttempts")
    now[0] += 61
    assert (await service.login("alice", "right", client)).login == "alice"
