"""Who has which line: the telephony service's in-memory copy of the auth service's users.

Loaded at start and kept current from the auth service's user events (adapters/auth_directory.py),
so that no request waits on a call to auth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from services.telephony.domain.errors import UserNotFound
from services.telephony.domain.model import UserLine
from services.telephony.domain.ports import UserSource


class Directory:
    def __init__(self, users: Iterable[UserLine] = ()) -> None:
        self._by_login: dict[str, UserLine] = {}
        self._by_number: dict[str, UserLine] = {}
        self.replace_all(users)

    def replace_all(self, users: Iterable[UserLine]) -> None:
        self._by_login = {user.login: user for user in users}
        self._reindex()

    def put(self, user: UserLine) -> None:
        self._by_login[user.login] = user
        self._reindex()

    def remove(self, login: str) -> None:
        if self._by_login.pop(login, None) is not None:
            self._reindex()

    def _reindex(self) -> None:
        self._by_number = {user.number: user for user in self._by_login.values() if user.number}

    def by_login(self, login: str) -> UserLine | None:
        return self._by_login.get(login)

    def by_number(self, number: str) -> UserLine | None:
        return self._by_number.get(number)

    def with_line(self, login: str) -> UserLine:
        """The user and their line; UserNotFound for an unknown user or one without a line."""
        user = self.require(login)
        if not user.number:
            raise UserNotFound(f"User {login!r} has no line")
        return user

    def require(self, login: str) -> UserLine:
        user = self._by_login.get(login)
        if user is None:
            raise UserNotFound(f"No user {login!r}" if login else "No username given")
        return user

    def party(self, number: str) -> str:
        """How history names a party: the login of the line's user, else the number itself."""
        user = self._by_number.get(number)
        return user.login if user is not None else number

    def lines(self) -> list[UserLine]:
        return list(self._by_number.values())

    def numbers(self) -> set[str]:
        return set(self._by_number)


async def load_and_follow(directory: Directory, source: UserSource,
                          lines_changed: Callable[[], Awaitable[None]]) -> None:
    """Fill the directory from `source` and keep it current; `lines_changed` after each change.

    Changes are followed from before the full read; a user changed during the read is read again
    after it, so the older snapshot cannot undo the change."""
    changed_while_loading: set[str] = set()
    loading = True

    async def apply(login: str, user: UserLine | None) -> None:
        if loading:
            changed_while_loading.add(login)
        if user is None:
            directory.remove(login)
        else:
            directory.put(user)
        await lines_changed()

    await source.follow(apply)
    directory.replace_all(await source.read_all())
    loading = False
    for login in sorted(changed_while_loading):
        await apply(login, await source.read(login))
