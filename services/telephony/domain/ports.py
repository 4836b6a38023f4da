"""What the telephony use cases need from storage and from the event bus; adapters provide it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from services.telephony.domain.history import EndedCall
from services.telephony.domain.model import Agent, Event, PushPlatform, Queue, UserLine, UserServices
from services.telephony.domain.presence import UserStatus


class TelephonyRepository(Protocol):
    async def user_services(self, login: str) -> UserServices | None: ...

    async def all_user_services(self) -> list[UserServices]: ...

    async def save_user_services(self, services: UserServices) -> None: ...

    async def agents(self) -> list[Agent]: ...

    async def queues(self) -> list[Queue]: ...

    async def replace_agents_and_queues(self, agents: Sequence[Agent], queues: Sequence[Queue]) -> None: ...

    async def add_calls(self, calls: Sequence[tuple[EndedCall, str, str]]) -> None:
        """Record ended calls with their (src, dst): the parties' logins (or numbers)."""

    async def calls_of(self, login: str, *, limit: int | None = None, since: datetime | None = None
                       ) -> list[tuple[EndedCall, str, str]]:
        """The user's calls, newest first, with their (src, dst)."""

    async def save_push(self, login: str, platform: PushPlatform, token: str) -> None: ...

    async def all_push_tokens(self) -> dict[str, dict[PushPlatform, str]]:
        """Every registration: login -> platform -> token."""

    async def user_status_table(self) -> list[UserStatus]:
        """The configured presence statuses, in order; none while never configured."""

    async def replace_user_status_table(self, statuses: Sequence[UserStatus]) -> None: ...

    async def chosen_user_status(self, login: str) -> str | None:
        """The name of the status the user chose last; None if they never chose."""

    async def save_chosen_user_status(self, login: str, name: str, at: datetime) -> None: ...


class TelephonyUnitOfWork(Protocol):
    @property
    def repository(self) -> TelephonyRepository: ...

    async def __aenter__(self) -> TelephonyUnitOfWork: ...

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def commit(self) -> None: ...


OnUserChange = Callable[[str, UserLine | None], Awaitable[None]]


class UserSource(Protocol):
    """Where users and their lines come from (the auth service)."""

    async def follow(self, on_change: OnUserChange) -> None:
        """From now on, call `on_change(login, user or None if deleted)` for every change."""

    async def read(self, login: str) -> UserLine | None: ...

    async def read_all(self) -> list[UserLine]: ...


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...


class LeaseUnavailable(Exception):
    """The store of the PBX lease could not be asked (an outage, a timeout): nothing is known."""


class PbxLease(Protocol):
    """The right to drive one PBX, held by one telephony instance at a time (failover:
    docs/telephony.md). The store expires the lease a TTL after its last write; each write has a
    revision, the fencing token: only the holder of the latest revision can renew."""

    async def acquire(self) -> int | None:
        """The lease's revision if this instance holds it now, None if another does.
        Raises LeaseUnavailable."""

    async def renew(self, revision: int) -> int | None:
        """The new revision, or None if the lease is no longer ours (expired, taken over).
        Raises LeaseUnavailable."""

    async def release(self, revision: int) -> None:
        """Give the lease up at once (a clean stop), if it is still ours; never raises."""

    async def holder(self) -> str:
        """Who holds the lease now ("" if nobody). Raises LeaseUnavailable."""
