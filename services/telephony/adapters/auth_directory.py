"""The directory's source: the auth service's users, read once and then followed through their
events (`xuc.auth.user.<login>`: each one re-reads that user), so the directory never waits on
auth at request time.

(service_layer/directory.py starts following before the full read, and reads again the users
changed during it.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.telephony.domain.model import UserLine
from services.telephony.domain.ports import OnUserChange
from xuc import event_catalogue
from xuc.runtime import nats
from xuc.runtime.grpc_client import Metadata
from xucproto.auth.v1 import auth_pb2

log = logging.getLogger(__name__)
CALL_SECONDS = 10.0
READ_ATTEMPTS = 6  # with back-off 0.5 s doubling: about half a minute of auth outage is ridden out



def _user_line(user: Any) -> UserLine:
    return UserLine(user.login, user.line, user.firstname, user.lastname, user.id, user.mobile)


class AuthDirectory:
    def __init__(self, auth: Any, metadata: Metadata, connection: Client) -> None:
        self._auth = auth  # auth_pb2_grpc.AuthStub
        self._metadata = metadata
        self._connection = connection
        self._subscription: Subscription | None = None

    async def follow(self, on_change: OnUserChange) -> None:
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
                    user = await self.read(event.login)
                    await on_change(event.login, user)
                    return
                except Exception:
                    log.warning("user change not applied yet (auth unreachable?)",
                                extra={"login": event.login, "attempt": attempt + 1})
                    await asyncio.sleep(min(2.0**attempt * 0.5, 10.0))
            log.error("user change not applied: the directory keeps the old line", extra={"login": event.login})

        user_changed = event_catalogue.USER_CHANGED
        self._subscription = await nats.follow(self._connection, user_changed.stream, user_changed.subject.all,
                                               changed)

    async def read(self, login: str) -> UserLine | None:
        try:
            user = await self._auth.GetUser(auth_pb2.GetUserRequest(login=login), metadata=self._metadata,
                                            timeout=CALL_SECONDS)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return _user_line(user)

    async def read_all(self) -> list[UserLine]:
        reply = await self._auth.ListUsers(auth_pb2.ListUsersRequest(), metadata=self._metadata,
                                           timeout=CALL_SECONDS)
        return [_user_line(user) for user in reply.users]

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
