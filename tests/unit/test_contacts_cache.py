"""The read cache with several processes per database: entries are served only while the feed of
other processes' writes is live, dropped when it may have missed some, and never older than
`max_age`; the NATS adapter turns each contacts event into the eviction of its owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.contacts.adapters.cache_feed import FED_BY, _handler
from services.contacts.domain.contacts import Contact, ContactFields
from services.contacts.service_layer.contacts_cache import ContactsCache
from xuc import subjects
from xucproto.events.v1 import contacts_events_pb2


@dataclass
class Feed:
    current: int | None = 0

    def epoch(self) -> int | None:
        return self.current


@dataclass
class Loader:
    loads: int = 0
    lastname: str = "Doe"

    async def __call__(self, limit: int) -> list[Contact]:
        self.loads += 1
        return [Contact("id-1", "owner", ContactFields(lastname=self.lastname))]


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


async def lastname(cache: ContactsCache, load: Loader) -> str | None:
    entry = await cache.contacts("owner", load)
    return None if entry is None else entry.contacts[0].fields.lastname


async def test_entries_are_served_while_the_feed_is_live_and_evicted_by_it() -> None:
    feed, load = Feed(), Loader()
    cache = ContactsCache(feed=feed)
    assert await lastname(cache, load) == "Doe"
    load.lastname = "Dee"  # another process's write...
    assert await lastname(cache, load) == "Doe"  # ...not reported yet
    cache.evict("owner")  # its event
    assert await lastname(cache, load) == "Dee"
    assert load.loads == 2


async def test_no_entry_is_served_while_the_feed_is_down_and_all_are_dropped_after() -> None:
    feed, load = Feed(), Loader()
    cache = ContactsCache(feed=feed)
    await lastname(cache, load)
    feed.current = None  # NATS disconnected: writes may go unreported
    assert await cache.contacts("owner", load) is None  # read the database
    assert len(cache) == 0
    feed.current = 0
    load.lastname = "Dee"
    assert await lastname(cache, load) == "Dee"

    feed.current = 1  # reconnected between two reads, never seen down: events may have been missed
    load.lastname = "Lee"
    assert await lastname(cache, load) == "Lee"
    assert load.loads == 3


async def test_a_load_in_flight_when_the_feed_changes_is_not_kept() -> None:
    feed = Feed()
    cache = ContactsCache(feed=feed)

    async def load_across_a_reconnection(limit: int) -> list[Contact]:
        feed.current = 1
        return [Contact("id-1", "owner", ContactFields(lastname="Old"))]

    assert (await cache.contacts("owner", load_across_a_reconnection)) is not None
    load = Loader(lastname="New")
    assert await lastname(cache, load) == "New"  # the epoch changed: what was loaded before is dropped


async def test_entries_are_never_older_than_max_age() -> None:
    clock, load = Clock(), Loader()
    cache = ContactsCache(max_age=5.0, clock=clock)
    await lastname(cache, load)
    clock.now += 5.0
    await lastname(cache, load)
    assert load.loads == 1
    clock.now += 0.1
    load.lastname = "Dee"
    assert await lastname(cache, load) == "Dee"
    assert load.loads == 2


async def test_the_marker_of_an_owner_with_too_many_contacts_ages_too() -> None:
    clock = Clock()
    cache = ContactsCache(max_contacts=0, max_age=5.0, clock=clock)
    load = Loader()
    assert await cache.contacts("owner", load) is None
    assert await cache.contacts("owner", load) is None
    assert load.loads == 1
    clock.now += 6
    assert await cache.contacts("owner", load) is None
    assert load.loads == 2


@dataclass
class Message:
    subject: str
    data: bytes


@dataclass
class Evictions:
    owners: list[str] = field(default_factory=list)
    all: int = 0

    def evict(self, owner_id: str) -> None:
        self.owners.append(owner_id)

    def evict_all(self) -> None:
        self.all += 1


async def test_each_contacts_event_evicts_its_owner() -> None:
    evictions = Evictions()
    handlers = {kind.subject.all: _handler(kind.message, evictions.evict, evictions.evict_all) for kind in FED_BY}
    events: list[tuple[Any, Any]] = [
        (subjects.CONTACT_CHANGED, contacts_events_pb2.ContactChanged(owner_login="a", owner_user_id="u1")),
        (subjects.CONTACTS_IMPORTED, contacts_events_pb2.ContactsImported(owner_login="a", owner_user_id="u2")),
        (subjects.CONTACTS_CLEARED, contacts_events_pb2.ContactsCleared(owner_login="a", owner_user_id="u3")),
    ]
    for subject, event in events:
        await handlers[subject.all](Message(subject.for_key("a"), event.SerializeToString()))  # type: ignore[arg-type]
    assert evictions.owners == ["u1", "u2", "u3"]

    # Unreadable: every owner is evicted (the safe side).
    await handlers[subjects.CONTACT_CHANGED.all](Message("xuc.contacts.contact.a", b"\xff\xff"))  # type: ignore[arg-type]
    await handlers[subjects.CONTACT_CHANGED.all](Message("xuc.contacts.contact.a", b""))  # type: ignore[arg-type]
    assert evictions.all == 2
