"""Auth's users as a service keeps its own copy of them: read once with ListUsers, then followed
through their events (`xuc.auth.user.<login>`: each one re-reads that user from auth), so that the
service never waits on auth at request time. Telephony's directory of lines and contacts' directory
both use it, each turning auth's `User` into its own domain's model.

(The caller starts following before the full read, and reads again the users changed during it.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from xuc import event_catalogue
from xuc.runtime import nats
from xuc.runtime.grpc_client import Metadata
from xucproto.auth.v1 import auth_pb2

log = logging.getLogger(__name__)
CALL_SECONDS = 10.0
READ_ATTEMPTS = 6  # with back-off 0.5 s doubling: about half a minute of auth outage is ridden out

T = TypeVar("T")


class AuthUsers(Generic[T]):
    """`to_model` makes the service's model of a user; `on_change(login, model or None)` is told
    each change (None: the user is gone)."""

    def __init__(self, auth: Any, metadata: Metadata, connection: Client, to_model: Callable[[Any], T]) -> None:
        self._auth = auth  # auth_pb2_grpc.AuthStub
        self._metadata = metadata
        self._connection = connection
        self._to_model = to_model
        self._subscription: Subscription | None = None

    async def follow(self, on_change: Callable[[str, T | None], Awaitable[None]]) -> None:
        async def changed(message: Msg) -> None:
            try:
                event = event_catalogue.USER_CHANGED.parse(message.data)
                about = event_catalogue.USER_CHANGED.subject.key_of(message.subject)
            except Exception:
                log.warning("unreadable user event ignored", extra={"subject": message.subject})
                return
            if about != event.login:  # not what auth publishes: another message pushed to our inbox
                log.warning("user event ignored: its login is not its subject's", extra={"subject": message.subject})
                return
            for attempt in range(READ_ATTEMPTS):
                try:
                    # Read even for "deleted": the event only says which user to look at, auth says
                    # what is true (a forged or stale event changes nothing).
                    await on_change(event.login, await self.read(event.login))
                    return
                except Exception:
                    log.warning("user change not applied yet (auth unreachable?)",
                                extra={"login": event.login, "attempt": attempt + 1})
                    await asyncio.sleep(min(2.0**attempt * 0.5, 10.0))
            log.error("user change not applied: the user is kept as it was", extra={"login": event.login})

        user_changed = event_catalogue.USER_CHANGED
        self._subscription = await nats.follow(self._connection, user_changed.stream, user_changed.subject.all,
                                               changed)

    async def read(self, login: str) -> T | None:
        """The user, None when auth has none; grpc.aio.AioRpcError when auth does not answer."""
        try:
            user = await self._auth.GetUser(auth_pb2.GetUserRequest(login=login), metadata=self._metadata,
                                            timeout=CALL_SECONDS)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return self._to_model(user)

    async def read_all(self) -> list[T]:
        reply = await self._auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=self._metadata,
                                           timeout=CALL_SECONDS)
        return [self._to_model(user) for user in reply.users]

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
