"""The users of the system, as the directory shows them: the contacts service's in-memory copy of the
auth service's users.

Loaded at start and kept current from auth's user events (adapters/auth_users.py), so that no
search waits on a call to auth. (The same pattern as the telephony service's directory; services
share no code, only contracts.)
"""

from __future__ import annotations

from collections.abc import Iterable

from services.contacts.domain.directory import DirectoryUser
from services.contacts.domain.ports import UserSource


class Users:
    def __init__(self, users: Iterable[DirectoryUser] = ()) -> None:
        self._by_login: dict[str, DirectoryUser] = {}
        self._by_id: dict[str, DirectoryUser] = {}
        self.replace_all(users)

    def replace_all(self, users: Iterable[DirectoryUser]) -> None:
        self._by_login = {user.login: user for user in users}
        self._by_id = {user.user_id: user for user in self._by_login.values()}

    def put(self, user: DirectoryUser) -> None:
        self.remove(user.login)
        earlier = self._by_id.get(user.user_id)  # the same user under another login
        if earlier is not None:
            self.remove(earlier.login)
        self._by_login[user.login] = user
        self._by_id[user.user_id] = user

    def remove(self, login: str) -> None:
        user = self._by_login.pop(login, None)
        if user is not None and self._by_id.get(user.user_id) is user:
            del self._by_id[user.user_id]

    def by_login(self, login: str) -> DirectoryUser | None:
        return self._by_login.get(login)

    def by_id(self, user_id: str) -> DirectoryUser | None:
        return self._by_id.get(user_id)

    def all(self) -> Iterable[DirectoryUser]:
        return self._by_login.values()


async def load_and_follow(users: Users, source: UserSource) -> None:
    """Fill `users` from `source` and keep it current.

    Changes are followed from before the full read; a user changed during the read is read again
    after it, so the older snapshot cannot undo the change."""
    changed_while_loading: set[str] = set()
    loading = True

    async def apply(login: str, user: DirectoryUser | None) -> None:
        if loading:
            changed_while_loading.add(login)
        if user is None:
            users.remove(login)
        else:
            users.put(user)

    await source.follow(apply)
    users.replace_all(await source.read_all())
    loading = False
    for login in sorted(changed_while_loading):
        await apply(login, await source.read(login))
