"""A per-owner read cache of personal contacts, so that reading one contact or a list costs no
database round trip while the owner's contacts do not change.

- An entry holds one owner's visible contacts, loaded with ONE repository read, in list order
  (sort key, then id): by id for `get`, the sorted list for lists, and (computed on the first
  search) each contact's `search_text`, so a search filters exactly as the SQL does: a contact
  matches when one of the query's folded terms is a substring of its search text.
- Bounded: at most `max_owners` entries and `max_total` contacts in all (least recently used
  dropped first). An owner with more
  than `max_contacts` contacts is not cached: a marker remembers it, and its reads go to the
  database as without a cache (until its next write evicts the marker, or it is `max_age` old).
- Invalidation: every write evicts the owner's entry AFTER its commit (`evict`). A load that read
  before that commit must not store what it read once the eviction is done: a per-owner generation
  counter (kept while a load of that owner is in flight) is bumped by each eviction, and a load
  stores its result only if the generation it recorded before its query is unchanged after it.
  (A load that began before the commit and ends before the eviction stores stale data the
  eviction then removes.)
- Several processes per database (replicas): each process subscribes to the contacts events every
  process publishes after its commits (ContactChanged, ContactsImported, ContactsCleared, on NATS)
  and evicts the owner of each (`evict`, through the `CacheFeed` adapter). Another replica's write
  is then seen within the event's delivery time (milliseconds). When the feed is down (NATS
  disconnected) the cache is not used at all, reads go to the database; when it comes back
  (`epoch` changed: events may have been missed meanwhile) every entry is dropped. As a last
  bound, for what no feed can report (an event its publisher could not send, a connection not yet
  known to be dead), an entry is never served more than `max_age` seconds (5 unless
  `XUC_CONTACTS_CACHE_TTL_S` says otherwise) after its load began.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from services.contacts.domain.contacts import Contact, search_text

CACHE_MAX_OWNERS = 1000
CACHE_MAX_CONTACTS = 5000
CACHE_MAX_TOTAL = 200_000  # contacts held across all owners: ~100-200 MB at worst
CACHE_MAX_AGE_SECONDS = 5.0  # the staleness bound when an invalidation event is lost

# Loads up to `limit` of an owner's visible contacts, in list order.
ContactsLoader = Callable[[int], Awaitable[list[Contact]]]


class CacheFeed(Protocol):
    """The feed of other processes' writes, which calls `evict` for each owner they change."""

    def epoch(self) -> int | None:
        """None while the feed is down (writes may go unreported); otherwise a number that changes
        whenever writes may have been missed (each reconnection)."""


class OwnerContacts:
    """One owner's visible contacts, in list order."""

    def __init__(self, contacts: list[Contact], loaded_at: float = 0.0, too_many: bool = False) -> None:
        self.contacts: Final = contacts
        self.loaded_at: Final = loaded_at  # when the load began (the monotonic clock)
        self.too_many: Final = too_many  # the marker of an owner with more than max_contacts contacts
        self.by_id: Final = {contact.id: contact for contact in contacts}
        self._search_texts: list[str] | None = None

    def matching(self, terms: tuple[str, ...]) -> list[Contact]:
        """The contacts whose search text contains one of the terms (all of them without terms)."""
        if not terms:
            return self.contacts
        if self._search_texts is None:  # computed once, on the first search
            self._search_texts = [search_text(contact.fields) for contact in self.contacts]
        return [contact for contact, text in zip(self.contacts, self._search_texts, strict=True)
                if any(term in text for term in terms)]


class ContactsCache:
    def __init__(self, max_owners: int = CACHE_MAX_OWNERS, max_contacts: int = CACHE_MAX_CONTACTS,
                 max_total: int = CACHE_MAX_TOTAL, *, max_age: float = CACHE_MAX_AGE_SECONDS,
                 feed: CacheFeed | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_owners = max_owners
        self._max_age = max_age
        self._feed = feed  # None: this process is the only writer
        self._epoch: int | None = None
        self._clock = clock
        self._max_contacts = max_contacts
        self._max_total = max_total
        self._total = 0
        self._entries: OrderedDict[str, OwnerContacts] = OrderedDict()
        # Only owners with a load in flight: how many loads, and the evictions since they began.
        self._loading: dict[str, int] = {}
        self._generations: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self._max_owners > 0

    def use_feed(self, feed: CacheFeed) -> None:
        """From now on, trust entries only while `feed` reports other processes' writes."""
        self._feed = feed
        self.clear()

    def _feed_is_live(self) -> bool:
        """Whether entries may be served; drops them all when writes may have gone unreported."""
        if self._feed is None:
            return True
        epoch = self._feed.epoch()
        if epoch is None:
            if self._entries:
                self.clear()
            return False
        if epoch != self._epoch:
            self.clear()
            self._epoch = epoch
        return True

    def __len__(self) -> int:
        return len(self._entries)

    async def contacts(self, owner_id: str, load: ContactsLoader) -> OwnerContacts | None:
        """The owner's contacts, from the cache or loaded (and kept); None when the cache is
        disabled or the owner has too many contacts: read the database instead."""
        if not self.enabled or not self._feed_is_live():
            return None
        entry = self._entries.get(owner_id)
        if entry is not None and self._clock() - entry.loaded_at > self._max_age:
            self._forget(owner_id)
            entry = None
        if entry is None:
            entry = await self._load(owner_id, load)
        else:
            self._entries.move_to_end(owner_id)
        return None if entry.too_many else entry

    async def _load(self, owner_id: str, load: ContactsLoader) -> OwnerContacts:
        self._loading[owner_id] = self._loading.get(owner_id, 0) + 1
        generation = self._generations.setdefault(owner_id, 0)
        loaded_at = self._clock()
        try:
            contacts = await load(self._max_contacts + 1)
            unchanged = self._generations[owner_id] == generation
        finally:
            self._loading[owner_id] -= 1
            if not self._loading[owner_id]:
                del self._loading[owner_id], self._generations[owner_id]
        too_many = len(contacts) > self._max_contacts
        entry = OwnerContacts([] if too_many else contacts, loaded_at, too_many)
        if unchanged:  # else a write committed during the load: serve it to this call only
            self._forget(owner_id)
            self._entries[owner_id] = entry
            self._total += len(entry.contacts)
            while len(self._entries) > self._max_owners or (self._total > self._max_total and len(self._entries) > 1):
                self._forget(next(iter(self._entries)))
        return entry

    def _forget(self, owner_id: str) -> None:
        entry = self._entries.pop(owner_id, None)
        if entry is not None:
            self._total -= len(entry.contacts)

    def evict(self, owner_id: str) -> None:
        """Forget the owner's contacts; call after each write's commit (or failure)."""
        self._forget(owner_id)
        if owner_id in self._generations:
            self._generations[owner_id] += 1

    @contextmanager
    def evicting(self, owner_id: str) -> Iterator[None]:
        """Around a write: the owner's contacts are evicted once it is over (committed or failed:
        a failed commit may still have been applied)."""
        try:
            yield
        finally:
            self.evict(owner_id)

    def clear(self) -> None:
        self._entries.clear()
        self._total = 0
        for owner_id in self._generations:
            self._generations[owner_id] += 1
