"""The telephony directory of users and lines, loaded from a source and kept current."""

from __future__ import annotations

import pytest

from services.telephony.domain.errors import UserNotFound
from services.telephony.domain.model import UserLine
from services.telephony.domain.ports import OnUserChange
from services.telephony.service_layer.directory import Directory, load_and_follow


class RacingSource:
    """A source whose user changes while the full read is in progress (a snapshot older than
    the change it has already announced)."""

    def __init__(self) -> None:
        self.users = {"alice": UserLine("alice", "1001"), "bob": UserLine("bob", "1002")}
        self.on_change: OnUserChange | None = None

    async def follow(self, on_change: OnUserChange) -> None:
        self.on_change = on_change

    async def read(self, login: str) -> UserLine | None:
        return self.users.get(login)

    async def read_all(self) -> list[UserLine]:
        snapshot = list(self.users.values())
        assert self.on_change is not None
        self.users["alice"] = UserLine("alice", "2001")  # changed after the snapshot was taken...
        del self.users["bob"]
        await self.on_change("alice", self.users["alice"])  # ...and announced during the read
        await self.on_change("bob", None)
        return snapshot


async def test_a_change_during_the_full_read_is_not_undone_by_the_snapshot() -> None:
    directory, calls = Directory(), []

    async def lines_changed() -> None:
        calls.append(sorted(directory.numbers()))

    await load_and_follow(directory, RacingSource(), lines_changed)

    assert directory.numbers() == {"2001"}
    assert directory.by_login("bob") is None
    assert calls[-1] == ["2001"]


def test_lookups() -> None:
    directory = Directory([UserLine("alice", "1001", "Alice", "Jones"), UserLine("nolines", "")])
    assert directory.with_line("alice").name == "Alice Jones"
    assert directory.party("1001") == "alice"
    assert directory.party("0612345678") == "0612345678"
    with pytest.raises(UserNotFound, match="has no line"):
        directory.with_line("nolines")
    with pytest.raises(UserNotFound, match="No username given"):
        directory.with_line("")
    directory.put(UserLine("alice", "1003"))
    assert directory.by_number("1001") is None
    assert directory.by_number("1003") == UserLine("alice", "1003")
