"""Passwords verified a moment ago, remembered for a while (XUC_LOGIN_CACHE_S).

A password login costs ~130 ms of CPU by design (Argon2id, adapters/passwords.py): right for a
guess, a waste for the mobile app or CRM that logs its user in again with the same password. In
front of the real hasher, this one remembers which (stored hash, password) pairs it found right,
for a fixed time after the Argon2 verification, as an HMAC-SHA256 digest under a random key that
lives in this process's memory only:
- only right passwords are remembered: a wrong one always costs a full Argon2 verification (and
  counts for the login throttle), so guessing is exactly as slow as without the cache;
- the stored hash is part of the digest: a changed password (on any replica: the hash is read
  from the database at every login) never matches a remembered pair, and a deleted user has none;
- a hit does not extend the time: a password is verified by Argon2 at least once per period;
- what the process holds is a keyed fast hash of recently used passwords: someone able to read
  its memory could guess those faster than against Argon2 (they could also read the passwords
  of the requests in flight). `XUC_LOGIN_CACHE_S=0` turns it off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from services.auth.domain.ports import PasswordHasher

MAX_REMEMBERED = 10_000


class VerifiedPasswordCache:
    """A PasswordHasher that answers `verify` from memory for pairs its inner hasher found right
    less than `ttl_seconds` ago."""

    def __init__(self, inner: PasswordHasher, ttl_seconds: float, max_entries: int = MAX_REMEMBERED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()  # digest -> when it expires, oldest first

    async def hash(self, password: str) -> str:
        return await self._inner.hash(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)

    async def verify(self, password_hash: str, password: str) -> bool:
        # NUL never occurs in an encoded hash: the pair has one encoding.
        digest = hmac.digest(self._key, f"{password_hash}\0{password}".encode(), hashlib.sha256)
        now = self._clock()
        expires = self._verified.get(digest)
        if expires is not None and expires > now:
            return True
        right = await self._inner.verify(password_hash, password)
        if right:
            self._remember(digest, now)
        return right

    def _remember(self, digest: bytes, now: float) -> None:
        self._verified.pop(digest, None)
        self._verified[digest] = now + self._ttl
        # Every entry lives as long: the oldest expire first.
        while self._verified and (len(self._verified) > self._max_entries
                                  or next(iter(self._verified.values())) <= now):
            self._verified.popitem(last=False)

    def __len__(self) -> int:
        return len(self._verified)
