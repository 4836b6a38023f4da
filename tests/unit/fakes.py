"""Hand-written fakes of the auth service's ports (services/auth/domain/ports.py).

The fakes keep the same contract as the real adapters, in memory:

* `FakeDatabase` is the committed state. Every unit of work works on a copy of it; `commit`
  writes the copy back, leaving without a commit discards it (like a rolled-back transaction).
* `FakeHasher` "hashes" as `<scheme>:<password>`, instantly. A hash made with another scheme
  needs a rehash, the way an Argon2 hash made with other parameters does.
* `RecordingPublisher` records each batch of events together with what the database looked like
  when they were published, so tests can check that events leave only after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from services.auth.domain.errors import UserAlreadyExists
from services.auth.domain.model import Event, User
from xuc.errors import Unreachable


class FakeDatabase:
    def __init__(self, users: Iterable[User] = (), failing_logins: Iterable[str] = ()) -> None:
        self.users: dict[str, User] = {user.id: user for user in users}
        self.revocations: dict[str, int] = {}  # user id -> credentials changed at (ms)
        self.commits = 0
        self.open_units = 0
        self.failing_logins = set(failing_logins)  # writing one of these logins raises Unreachable

    def by_login(self, login: str) -> User | None:
        return next((user for user in self.users.values() if user.login == login), None)

    def logins(self) -> set[str]:
        return {user.login for user in self.users.values()}


class FakeUserRepository:
    def __init__(self, rows: dict[str, User], failing_logins: set[str]) -> None:
        self.rows = rows
        self._failing_logins = failing_logins

    def _check_write(self, user: User) -> None:
        if user.login in self._failing_logins:
            raise Unreachable(f"simulated failure writing {user.login!r}")

    async def by_login(self, login: str, for_update: bool = False) -> User | None:
        return next((user for user in self.rows.values() if user.login == login), None)

    async def by_id(self, user_id: str) -> User | None:
        return self.rows.get(user_id)

    async def add(self, user: User) -> None:
        self._check_write(user)
        if any(row.login == user.login for row in self.rows.values()):
            raise UserAlreadyExists(f"A user with login {user.login!r} already exists")
        self.rows[user.id] = user

    async def update(self, user: User) -> None:
        self._check_write(user)
        assert user.id in self.rows, "update of a user that is not stored"
        self.rows[user.id] = user

    async def delete(self, user: User) -> None:
        self._check_write(user)
        del self.rows[user.id]

    async def all(self) -> Sequence[User]:
        return sorted(self.rows.values(), key=lambda user: user.login)


class FakeRevocationRepository:
    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows

    async def record(self, user_id: str, changed_at_ms: int) -> None:
        self.rows[user_id] = changed_at_ms

    async def since(self, cutoff_ms: int) -> Sequence[tuple[str, int]]:
        return [(user_id, at) for user_id, at in self.rows.items() if at >= cutoff_ms]

    async def forget_before(self, cutoff_ms: int) -> None:
        self.rows = {user_id: at for user_id, at in self.rows.items() if at >= cutoff_ms}


class FakeUnitOfWork:
    users: FakeUserRepository
    revocations: FakeRevocationRepository

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.committed = False
        self.rolled_back = False

    async def __aenter__(self) -> FakeUnitOfWork:
        self.users = FakeUserRepository(dict(self._database.users), self._database.failing_logins)
        self.revocations = FakeRevocationRepository(dict(self._database.revocations))
        self._database.open_units += 1
        return self

    async def commit(self) -> None:
        self._database.users = dict(self.users.rows)
        self._database.revocations = dict(self.revocations.rows)
        self._database.commits += 1
        self.committed = True

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._database.open_units -= 1
        if not self.committed:
            self.rolled_back = True  # the working copy is simply dropped


class FakeUnitOfWorkFactory:
    """What AuthService takes: a callable making a new unit of work; remembers the ones it made."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.created: list[FakeUnitOfWork] = []

    def __call__(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self.database)
        self.created.append(uow)
        return uow


class FakeHasher:
    def __init__(self, scheme: str = "hash") -> None:
        self.scheme = scheme
        self.hashed: list[str] = []
        self.verified: list[tuple[str, str]] = []

    async def hash(self, password: str) -> str:
        self.hashed.append(password)
        return f"{self.scheme}:{password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append((password_hash, password))
        _, separator, hashed_password = password_hash.partition(":")
        return bool(separator) and hashed_password == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.scheme}:")


@dataclass(frozen=True)
class PublishedBatch:
    events: tuple[Event, ...]
    commits_before: int  # how many commits the database had seen when the batch was published
    open_units: int  # units of work still open at that moment
    logins_stored: frozenset[str]  # the committed logins at that moment


@dataclass
class RecordingPublisher:
    database: FakeDatabase
    batches: list[PublishedBatch] = field(default_factory=list)

    async def publish(self, events: Sequence[Event]) -> None:
        self.batches.append(PublishedBatch(
            events=tuple(events),
            commits_before=self.database.commits,
            open_units=self.database.open_units,
            logins_stored=frozenset(self.database.logins()),
        ))

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch.events]
