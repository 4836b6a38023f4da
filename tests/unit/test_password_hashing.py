"""Argon2id password hashing (services/auth/adapters/passwords.py)."""

from __future__ import annotations

import argon2
import pytest

from services.auth.adapters.passwords import Argon2Hasher

PASSWORD = "c0rrect-h0rse!"


def small_parameters() -> argon2.PasswordHasher:
    """Cheap parameters, so that these tests take milliseconds; the behaviour is the same."""
    return argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def hasher() -> Argon2Hasher:
    return Argon2Hasher(small_parameters())


async def test_a_hash_is_not_the_password(hasher: Argon2Hasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert PASSWORD not in hashed
    assert hashed.startswith("$argon2id$")


async def test_hashes_are_salted(hasher: Argon2Hasher) -> None:
    assert await hasher.hash(PASSWORD) != await hasher.hash(PASSWORD)


async def test_verify_accepts_the_password_only(hasher: Argon2Hasher) -> None:
    hashed = await hasher.hash(PASSWORD)
    assert await hasher.verify(hashed, PASSWORD) is True
    assert await hasher.verify(hashed, PASSWORD.upper()) is False
    assert await hasher.verify(hashed, PASSWORD + " ") is False
    assert await hasher.verify(hashed, "") is False


async def test_non_ascii_passwords(hasher: Argon2Hasher) -> None:
    hashed = await hasher.hash("mötdepässe🙂")
    assert await hasher.verify(hashed, "mötdepässe🙂") is True
    assert await hasher.verify(hashed, "motdepasse") is False


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "hash:c0rrect-h0rse!", "$argon2id$", "$argon2id$v=19$m=1024,t=1,p=1$bad$worse"],
)
async def test_a_garbage_hash_verifies_nothing(hasher: Argon2Hasher, garbage: str) -> None:
    assert await hasher.verify(garbage, PASSWORD) is False


async def test_a_hash_made_with_our_parameters_needs_no_rehash(hasher: Argon2Hasher) -> None:
    assert hasher.needs_rehash(await hasher.hash(PASSWORD)) is False


async def test_a_hash_made_with_other_parameters_needs_a_rehash_but_still_verifies() -> None:
    old = argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    hasher = Argon2Hasher()  # the default parameters
    assert hasher.needs_rehash(old) is True
    assert await hasher.verify(old, PASSWORD) is True


def test_a_garbage_hash_needs_a_rehash(hasher: Argon2Hasher) -> None:
    assert hasher.needs_rehash("garbage") is True


def test_parameters_describe_the_hasher(hasher: Argon2Hasher) -> None:
    assert hasher.parameters == "argon2id t=1 m=1024KiB p=1"


async def test_the_default_parameters() -> None:
    hasher = Argon2Hasher()
    assert hasher.parameters == "argon2id t=3 m=65536KiB p=4"
    hashed = await hasher.hash(PASSWORD)
    assert "$m=65536,t=3,p=4$" in hashed
    assert await hasher.verify(hashed, PASSWORD) is True
    assert hasher.needs_rehash(hashed) is False
