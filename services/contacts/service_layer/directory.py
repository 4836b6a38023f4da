"""The directory use cases: search one user's directory (the users of the system and the user's
personal contacts), and the user's favorites (docs/contacts.md, "The directory and favorites").

- Users come from memory (`Users`, kept current from auth's events): a search never waits on auth.
  Personal contacts come through the personal contacts service (its read cache, else one query
  bounded by MAX_RESULTS + 1). The phone statuses of every number of the answer are asked of
  telephony in ONE call; without telephony every status is NOT_A_LINE (-2).
- Favorites: a personal contact's favorite is its own `favorite` field (the one the REST API
  sets), changed through the personal contacts service; a user's is a row of the favorites store.
  Adding or removing publishes FavoriteChanged after the commit, only when something changed.
- Whose directory: an `Owner` (user id and login). A service names the owner by login:
  `owner_named` resolves it from memory, else asks auth (a user created a moment ago, whose
  event has not arrived yet), else UnknownUser.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from services.contacts.domain.contacts import Contact, Owner, search_terms
from services.contacts.domain.directory import (
    ADDED,
    INTERNAL,
    MAX_RESULTS,
    PERSONAL,
    REMOVED,
    DirectoryEntry,
    DirectoryResult,
    DirectoryUser,
    checked_favorite,
    checked_term,
    first_entries,
    matching_users,
)
from services.contacts.domain.errors import ContactNotFound, UnknownUser
from services.contacts.domain.events import FavoriteChanged
from services.contacts.domain.ports import EventPublisher, FavoritesStore, PhoneStatuses, UserSource
from services.contacts.service_layer.personal_contacts import NOT_A_LINE, PersonalContactsService
from services.contacts.service_layer.users import Users


class DirectoryService:
    def __init__(self, users: Users, user_source: UserSource, personal: PersonalContactsService,
                 favorites: FavoritesStore, phone_statuses: PhoneStatuses, publisher: EventPublisher,
                 clock: Callable[[], float] = time.time) -> None:
        self._users = users
        self._source = user_source
        self._personal = personal
        self._favorites = favorites
        self._phones = phone_statuses
        self._publisher = publisher
        self._clock = clock

    async def owner_named(self, login: str) -> Owner:
        """The user a service names by login; UnknownUser when there is none."""
        user = self._users.by_login(login) if login else None
        if user is None and login:
            user = await self._source.read(login)  # created a moment ago: its event is on its way
        if user is None:
            raise UnknownUser(f"No user {login[:64]!r}" if login else "The owner's login is required")
        return Owner(user.user_id, user.login)

    async def search(self, owner: Owner, term: str) -> DirectoryResult:
        terms = search_terms(checked_term(term))
        users = matching_users(self._users.all(), terms)
        contacts, personal_total = await self._personal.find_contacts(owner, term.strip(), MAX_RESULTS + 1)
        favorites = await self._favorites.contact_ids(owner.user_id, INTERNAL) if users else set()
        entries = await self._entries(users, favorites, contacts)
        return first_entries(entries, len(users) + personal_total)

    async def list_favorites(self, owner: Owner) -> DirectoryResult:
        favorite_ids = await self._favorites.contact_ids(owner.user_id, INTERNAL)
        # A favorite user deleted since is not listed (its row stays, harmless: ids are not reused).
        users = [user for user_id in favorite_ids if (user := self._users.by_id(user_id)) is not None]
        contacts = await self._personal.favorite_contacts(owner, MAX_RESULTS + 1)
        entries = await self._entries(users, favorite_ids, contacts)
        return first_entries(entries, len(users) + len(contacts))

    async def add_favorite(self, owner: Owner, source: str, contact_id: str) -> bool:
        favorite = checked_favorite(source, contact_id)
        if favorite.source == PERSONAL:
            return await self._personal.set_favorite(owner, favorite.contact_id, True)
        if self._users.by_id(favorite.contact_id) is None:
            raise ContactNotFound(f"No user with id {favorite.contact_id[:64]!r}")
        added = await self._favorites.add(owner.user_id, INTERNAL, favorite.contact_id)
        if added:
            await self._publish(owner, ADDED, favorite.contact_id)
        return added

    async def remove_favorite(self, owner: Owner, source: str, contact_id: str) -> bool:
        favorite = checked_favorite(source, contact_id)
        if favorite.source == PERSONAL:
            return await self._personal.set_favorite(owner, favorite.contact_id, False)
        # A favorite whose user was deleted since can still be removed.
        removed = await self._favorites.remove(owner.user_id, INTERNAL, favorite.contact_id)
        if removed:
            await self._publish(owner, REMOVED, favorite.contact_id)
        elif self._users.by_id(favorite.contact_id) is None:
            raise ContactNotFound(f"No user with id {favorite.contact_id[:64]!r}")
        return removed

    async def _entries(self, users: Sequence[DirectoryUser], favorite_ids: set[str],
                       contacts: Iterable[Contact]) -> list[DirectoryEntry]:
        contacts = list(contacts)
        numbers = sorted({user.line for user in users if user.line}
                         | {contact.fields.number for contact in contacts if contact.fields.number})
        statuses = await self._phones.statuses(numbers) if numbers else {}

        def status(number: str) -> int:
            return int(statuses.get(number, NOT_A_LINE)) if number else NOT_A_LINE

        return [
            *(DirectoryEntry(INTERNAL, user.user_id, user.firstname, user.lastname, user.line, user.mobile,
                             user.user_id in favorite_ids, status(user.line), user.login) for user in users),
            *(DirectoryEntry(PERSONAL, contact.id, contact.fields.firstname, contact.fields.lastname,
                             contact.fields.number, contact.fields.mobile, contact.fields.favorite,
                             status(contact.fields.number)) for contact in contacts),
        ]

    async def _publish(self, owner: Owner, action: str, contact_id: str) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        await self._publisher.publish([FavoriteChanged(owner, action, contact_id, INTERNAL, now)])
