"""Parts of the NATS permissions tests: each component's own subjects and streams, a component's
connection as its NATS user, and the events the tests publish.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.nats_users import AuthorizingNats, WatchedConnection
from xuc import subjects
from xuc.runtime import nats
from xucproto.events.v1 import auth_events_pb2
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent

WITHIN_SECONDS = EVENT_DEADLINE_SECONDS  # a generous wait for each event, never a bound on how soon it comes


# Another component's subjects, by component: what each must not publish to. The gateway publishes none.
OWN_SUBJECTS = {"auth": "xuc.auth.user.someone", "contacts": "xuc.contacts.contact.someone",
                "telephony": "xuc.telephony.phone.someone", "webhooks": "xuc.webhook.dead.someone"}


OWN_STREAMS = {"auth": subjects.auth_stream, "contacts": subjects.contacts_stream,
               "telephony": subjects.telephony_stream, "webhooks": subjects.webhook_dead_stream}


NOT_AUTH = ("contacts", "telephony", "gateway", "webhooks")


Connector = Callable[[str | None], Awaitable[WatchedConnection]]


JETSTREAM_LOGGER = "services.webhooks.adapters.jetstream"


async def component(server: AuthorizingNats, name: str) -> Client:
    """Connected as the component's process connects (xuc/runtime/nats.py)."""
    return await nats.connect(server.url, f"xuc-{name}", server.login(name))


def user_changed(login: str, change: str = "updated") -> tuple[str, bytes]:
    return (subjects.USER_CHANGED.for_key(login),
            auth_events_pb2.UserChanged(login=login, change=change).SerializeToString())


# --- the webhooks process's delivery -------------------------------------------------------------------
def phone_event(username: str) -> tuple[str, bytes, dict[str, str]]:
    event = PhoneEvent(username=username, event_type="EventRinging", dn="1000", event_id=uuid.uuid4().hex)
    return (subjects.PHONE_EVENT.for_key(username), event.SerializeToString(),
            {subjects.EVENT_TYPE_HEADER: PhoneEvent.DESCRIPTOR.full_name, "Nats-Msg-Id": event.event_id})


class _SetOnRecord(logging.Handler):
    """Sets an event when a record with this message is logged (the forwarder runs in this loop)."""

    def __init__(self, event: asyncio.Event, message: str) -> None:
        super().__init__(logging.WARNING)
        self._event, self._message = event, message

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self._message):
            self._event.set()
