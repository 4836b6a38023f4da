"""What the auth use cases need from the world; adapters provide it, tests hand-write fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from services.auth.domain.model import Event, IssuedToken, User
from services.auth.domain.signing_keys import KeyPeriod


class UserRepository(Protocol):
    async def by_login(self, login: str, for_update: bool = False) -> User | None:
        """The user; `for_update`: its row locked until the unit of work ends (changes that move
        the credentials time read it so, and never race)."""
        ...
    async def by_id(self, user_id: str) -> User | None: ...
    async def add(self, user: User) -> None: ...
    async def update(self, user: User) -> None: ...
    async def delete(self, user: User) -> None: ...
    async def all(self) -> Sequence[User]: ...


class RevocationRepository(Protocol):
    """The credentials changes of the last token lifetime, deleted users' included (their row in
    the users table is gone): what a token verifier starting now must learn."""

    async def record(self, user_id: str, changed_at_ms: int) -> None: ...
    async def since(self, cutoff_ms: int) -> Sequence[tuple[str, int]]: ...
    async def forget_before(self, cutoff_ms: int) -> None: ...


class UnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository: ...
    @property
    def revocations(self) -> RevocationRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


class TokenIssuer(Protocol):
    def issue(self, user: User, now: float, auth_time: int | None = None) -> IssuedToken:
        """A token for `user`, for a session begun at `auth_time` (default: now, a login); it
        expires after the token lifetime, or at the end of the longest session if that is sooner.
        TokenExpired when the session is over."""
        ...


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...


@dataclass(frozen=True)
class StoredSigningKey:
    """A signing key as the key store holds it: its schedule, and its private key serialized (PEM,
    encrypted when the deployment sets a passphrase). Only the key ring decodes `private_key`."""

    period: KeyPeriod
    private_key: str


class SigningKeyStore(Protocol):
    """Where the signing keys every auth replica shares are kept (the auth database)."""

    async def load(self) -> Sequence[StoredSigningKey]: ...

    async def add(self, key: StoredSigningKey, retires: Sequence[str], retired_at: float) -> bool:
        """Store `key` and retire `retires` in one transaction; False (nothing changed) when its
        generation or kid is already stored: another replica created the key first."""
        ...

    async def drop(self, kids: Sequence[str]) -> None: ...


class KeyMaterial(Protocol):
    """Makes private keys and serializes them for the store: (kid, serialized private key)."""

    def generate(self) -> tuple[str, str]: ...
    def adopt(self, pem: bytes) -> tuple[str, str]: ...


class KeyRing(Protocol):
    """What signs and verifies with the keys: given every stored key after each reload."""

    def load(self, keys: Sequence[StoredSigningKey]) -> None: ...
