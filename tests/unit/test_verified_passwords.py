"""The cache of verified passwords in front of Argon2 (services/auth/adapters/verified_passwords.py)."""

from __future__ import annotations

import argon2

from services.auth.adapters.passwords import Argon2Hasher
from services.auth.adapters.verified_passwords import VerifiedPasswordCache

# Cheap parameters: the behaviour, not the cost, is under test here.
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class CountingHasher(Argon2Hasher):
    def __init__(self) -> None:
        super().__init__(FAST)
        self.verified = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return await super().verify(password_hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_right_password_is_verified_by_argon2_once_per_period() -> None:
    inner, clock = CountingHasher(), Clock()
    cache = VerifiedPasswordCache(inner, ttl_seconds=600, clock=clock)
    stored = await cache.hash("s3cret-pass")
    assert stored.startswith("$argon2id$")

    for _ in range(8):  # at 0, 100, ... 700 s
        assert await cache.verify(stored, "s3cret-pass")
        clock.now += 100  # hits do not extend the period
    assert inner.verified == 2  # at 0 s, then at 600 s when the first verification expired
    assert len(cache) == 1


async def test_a_wrong_password_always_costs_a_full_verification() -> None:
    inner = CountingHasher()
    cache = VerifiedPasswordCache(inner, ttl_seconds=600)
    stored = await cache.hash("s3cret-pass")
    assert await cache.verify(stored, "s3cret-pass")
    for _ in range(3):
        assert not await cache.verify(stored, "s3cret-pasS")
        assert not await cache.verify(stored, "s3cret-pass\0")  # no ambiguity with the separator
    assert inner.verified == 7
    assert len(cache) == 1


async def test_a_changed_password_does_not_match_what_was_remembered() -> None:
    inner = CountingHasher()
    cache = VerifiedPasswordCache(inner, ttl_seconds=600)
    old = await cache.hash("old-password")
    assert await cache.verify(old, "old-password")
    new = await cache.hash("new-password")  # changed on another replica: the row holds the new hash
    assert not await cache.verify(new, "old-password")
    assert await cache.verify(new, "new-password")
    assert inner.verified == 3


async def test_it_holds_at_most_its_bound_and_forgets_the_oldest() -> None:
    inner, clock = CountingHasher(), Clock()
    cache = VerifiedPasswordCache(inner, ttl_seconds=600, max_entries=2, clock=clock)
    hashes = {password: await cache.hash(password) for password in ("first-pass", "second-pass", "third-pass")}
    for password, stored in hashes.items():
        assert await cache.verify(stored, password)
        clock.now += 1
    assert len(cache) == 2
    assert await cache.verify(hashes["third-pass"], "third-pass")
    assert inner.verified == 3  # still remembered
    assert await cache.verify(hashes["first-pass"], "first-pass")
    assert inner.verified == 4  # forgotten: verified again


async def test_expired_entries_leave_as_new_ones_come() -> None:
    inner, clock = CountingHasher(), Clock()
    cache = VerifiedPasswordCache(inner, ttl_seconds=10, clock=clock)
    first, second = await cache.hash("first-pass"), await cache.hash("second-pass")
    assert await cache.verify(first, "first-pass")
    clock.now += 11
    assert await cache.verify(second, "second-pass")
    assert len(cache) == 1
