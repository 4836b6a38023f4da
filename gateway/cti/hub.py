"""Events from NATS to the sockets of this gateway: one subscription per kind of event for the
whole process (never one per socket), routed here by login, by line number (phone hints) or to
the sockets watching every agent.

Any gateway replica may hold any user's sockets, so each one subscribes to every user's events
(core NATS, no JetStream consumer: a socket is live state; a client that reconnects asks for the
state again) and delivers those of the users it holds. A frame is built once per event, whatever
the number of sockets it goes to. Each subscription's messages are handled in order, so one
user's phone events reach their sockets in the order telephony published them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from gateway.cti import translate
from gateway.cti.connection import CtiSocket
from gateway.cti.envelope import encode
from xuc import event_catalogue, subjects
from xucproto.events.v1.auth_events_pb2 import UserChanged
from xucproto.events.v1.telephony_events_pb2 import UserServicesChanged

log = logging.getLogger(__name__)

# A burst of events for the gateway's sockets waits here (nats-py's per-subscription buffer)
# rather than being dropped as a slow consumer at the default 65,536 messages.
PENDING_MESSAGES = 1_000_000
PENDING_BYTES = 512 * 1024 * 1024


class Member(Protocol):
    """A logged-on socket's session, as the hub sees it."""

    login: str
    socket: CtiSocket

    def on_user_services(self, event: UserServicesChanged) -> None: ...

    def on_user_changed(self, event: UserChanged) -> None: ...


class EventHub:
    def __init__(self, connection: Client) -> None:
        self._connection = connection
        self._subscriptions: list[Subscription] = []
        self._by_login: dict[str, set[Member]] = {}
        self._by_number: dict[str, set[Member]] = {}  # phone hints
        self._hinted: dict[Member, set[str]] = {}
        self._agent_watchers: set[Member] = set()

    async def start(self) -> None:
        routes: list[tuple[str, Callable[[Msg], Awaitable[None]]]] = [
            (event_catalogue.PHONE_EVENT.subject.all, self._phone_event),
            (event_catalogue.PHONE_STATUS.subject.all, self._phone_status),
            (event_catalogue.AGENT_STATE.subject.all, self._agent_state),
            (event_catalogue.USER_SERVICES.subject.all, self._user_services),
            (event_catalogue.USER_STATUS.subject.all, self._user_status),
            (event_catalogue.FAVORITE_CHANGED.subject.all, self._favorite_changed),
            (event_catalogue.USER_CHANGED.subject.all, self._user_changed),
        ]
        for subject, handler in routes:
            self._subscriptions.append(await self._connection.subscribe(
                subject, cb=handler, pending_msgs_limit=PENDING_MESSAGES, pending_bytes_limit=PENDING_BYTES))

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    # --- membership -------------------------------------------------------------------------------
    def join(self, member: Member) -> None:
        self._by_login.setdefault(member.login, set()).add(member)

    def leave(self, member: Member) -> None:
        members = self._by_login.get(member.login)
        if members is not None:
            members.discard(member)
            if not members:
                del self._by_login[member.login]
        self.unwatch_numbers(member)
        self._agent_watchers.discard(member)

    def watch_numbers(self, member: Member, numbers: list[str]) -> None:
        for number in numbers:
            self._by_number.setdefault(number, set()).add(member)
        self._hinted.setdefault(member, set()).update(numbers)

    def unwatch_numbers(self, member: Member) -> None:
        for number in self._hinted.pop(member, set()):
            watchers = self._by_number.get(number)
            if watchers is not None:
                watchers.discard(member)
                if not watchers:
                    del self._by_number[number]

    def watch_agents(self, member: Member) -> None:
        self._agent_watchers.add(member)

    def sockets_of(self, login: str) -> int:
        return len(self._by_login.get(login, ()))

    # --- events -----------------------------------------------------------------------------------
    def _parse(self, kind: event_catalogue.EventKind[Any], message: Msg) -> Any:
        try:
            return kind.parse(message.data)
        except ValueError as error:
            log.warning("event not understood: skipped", extra={"subject": message.subject, "error": str(error)})
            return None

    async def _phone_event(self, message: Msg) -> None:
        members = self._by_login.get(self._key(message))
        event = members and self._parse(event_catalogue.PHONE_EVENT, message)
        if event:
            frame = encode("PhoneEvent", translate.phone_event(event))
            for member in members or ():
                member.socket.offer(frame, "PhoneEvent")

    async def _phone_status(self, message: Msg) -> None:
        login = self._key(message)
        members, watchers = self._by_login.get(login), None
        event = self._parse(event_catalogue.PHONE_STATUS, message) if members or self._by_number else None
        if event is None:
            return
        watchers = self._by_number.get(event.number)
        if members:
            frame = encode("PhoneStatusUpdate", {"status": translate.phone_status_name(event.status)})
            for member in members:
                member.socket.offer(frame, "PhoneStatusUpdate")
        if watchers:
            frame = encode("PhoneHintStatusEvent", {"number": event.number, "status": event.status})
            for member in watchers:
                member.socket.offer(frame, "PhoneHintStatusEvent")

    async def _agent_state(self, message: Msg) -> None:
        targets = self._by_login.get(self._key(message), set()) | self._agent_watchers
        event = self._parse(event_catalogue.AGENT_STATE, message) if targets else None
        if event is not None:
            frame = encode("AgentStateEvent", translate.agent_state_from_event(event))
            for member in targets:
                member.socket.offer(frame, "AgentStateEvent")

    async def _user_status(self, message: Msg) -> None:
        members = self._by_login.get(self._key(message))
        event = members and self._parse(event_catalogue.USER_STATUS, message)
        if event:
            frame = encode("UserStatusUpdate", {"status": event.status})
            for member in members or ():
                member.socket.offer(frame, "UserStatusUpdate")

    async def _favorite_changed(self, message: Msg) -> None:
        members = self._by_login.get(self._key(message))
        event = members and self._parse(event_catalogue.FAVORITE_CHANGED, message)
        if event:
            frame = encode("FavoriteUpdated", {"action": event.action, "contact_id": event.contact_id,
                                               "source": event.source})
            for member in members or ():
                member.socket.offer(frame, "FavoriteUpdated")

    async def _user_services(self, message: Msg) -> None:
        members = self._by_login.get(self._key(message))
        event = members and self._parse(event_catalogue.USER_SERVICES, message)
        if event:
            for member in list(members or ()):
                member.on_user_services(event)

    async def _user_changed(self, message: Msg) -> None:
        members = self._by_login.get(self._key(message))
        event = members and self._parse(event_catalogue.USER_CHANGED, message)
        if event:
            for member in list(members or ()):
                member.on_user_changed(event)

    @staticmethod
    def _key(message: Msg) -> str:
        """The login a subject is keyed by ("" for a subject that does not decode)."""
        try:
            return subjects.decode_token(message.subject.rpartition(".")[2])
        except ValueError:
            return ""
