"""The feed of every contacts process's writes, from the contacts events on NATS: each process
evicts an owner's cached contacts when any process (itself included) publishes a change of them.

A core NATS subscription to the three subjects (the events are JetStream messages, and core
subscribers receive them as they are published): nothing durable, since a process that was not
listening drops its whole cache anyway. `epoch()` tells the cache whether it may serve entries:
None while the connection is down; the count of reconnections otherwise, so that the cache drops
everything once the connection is back (events may have been missed meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from xuc import event_catalogue

log = logging.getLogger(__name__)

# The events whose message's `owner_user_id` names the owner whose contacts changed.
FED_BY = (event_catalogue.CONTACT_CHANGED, event_catalogue.CONTACTS_IMPORTED, event_catalogue.CONTACTS_CLEARED)


class NatsCacheFeed:
    def __init__(self, connection: Client) -> None:
        self._connection = connection
        self._subscriptions: list[Subscription] = []

    def epoch(self) -> int | None:
        if not self._subscriptions or not self._connection.is_connected:
            return None
        return int(self._connection.stats["reconnects"])

    async def subscribe(self, evict: Callable[[str], None], evict_all: Callable[[], None]) -> None:
        """Call `evict(owner user id)` for each event from now on (`evict_all` for one we cannot read)."""
        for kind in FED_BY:
            self._subscriptions.append(
                await self._connection.subscribe(kind.subject.all, cb=_handler(kind.message, evict, evict_all)))
        await self._connection.flush()  # the server has the subscriptions: no later event is missed


def _handler(message_type: type[Message], evict: Callable[[str], None],
             evict_all: Callable[[], None]) -> Callable[[Msg], Awaitable[None]]:
    async def handle(message: Msg) -> None:
        try:
            owner_id = getattr(message_type.FromString(message.data), "owner_user_id", "")
        except DecodeError:
            owner_id = ""
        if owner_id:
            evict(owner_id)
        else:
            log.warning("a contacts event without its owner: the whole cache is dropped",
                        extra={"subject": message.subject})
            evict_all()

    return handle
