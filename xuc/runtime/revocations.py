"""Keeping a process's revocation set true: auth's `UserChanged` events, and its list at start.

Every process that verifies user tokens (the gateway, each service, auth itself) follows
`xuc.auth.user.*` through a JetStream ordered consumer (it resumes where it was after a NATS
reconnection, so no change made meanwhile is missed) and learns each change at once: a revoked
token is refused everywhere within the event's delivery time, without a call to auth per request.

At start the follower subscribes first, then loads the changes of the last token lifetime
(auth's `ListRevocations`, or auth's own database): a change made in between arrives both ways,
and the set keeps the latest value whatever the order. The list is loaded again every
RELOAD_SECONDS, a safety net for a NATS outage longer than the consumer can bridge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

from xuc.errors import Unreachable
from xuc.event_catalogue import USER_CHANGED
from xuc.runtime import nats
from xuc.runtime.grpc_client import service_metadata
from xuc.security.revocations import Revocations
from xuc.tasks import cancel_and_wait
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)

RELOAD_SECONDS = 300.0
RETRY_SECONDS = 0.2

RevocationList = Callable[[], Awaitable[Iterable[tuple[str, int]]]]


def from_auth(stub: auth_pb2_grpc.AuthStub, service_token: str) -> RevocationList:
    """The revocations as auth lists them (Unreachable while it does not answer)."""
    metadata = service_metadata(service_token)

    async def load() -> list[tuple[str, int]]:
        listed = []
        try:
            async for part in stub.ListRevocations(auth_pb2.ListRevocationsRequest(), metadata=metadata, timeout=30):
                listed += [(item.user_id, item.credentials_changed_at.ToMilliseconds()) for item in part.revocations]
        except grpc.aio.AioRpcError as exc:
            raise Unreachable(f"cannot list the token revocations from auth: {exc.code().name}") from None
        return listed

    return load


class RevocationFollower:
    def __init__(self, connection: Client, revocations: Revocations, load: RevocationList,
                 reload_seconds: float = RELOAD_SECONDS) -> None:
        self._connection = connection
        self._revocations = revocations
        self._load = load
        self._reload_seconds = reload_seconds
        self._subscription: Subscription | None = None
        self._reloading: asyncio.Task[None] | None = None

    async def start(self, within: float) -> None:
        """Follow the events, then load the list; retried while auth's stream or auth itself is not
        there yet (compose starts everything at once), Unreachable after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                if self._subscription is None:
                    # Through the subject naming its filter: the only one a component's NATS user may use.
                    self._subscription = await nats.subscribe_ordered(
                        self._connection, USER_CHANGED.stream, USER_CHANGED.subject.all, self._changed)
                self._revocations.revoke_all(await self._load())
                break
            except (NotFoundError, Unreachable) as error:
                if time.monotonic() > deadline:
                    raise Unreachable(f"cannot follow the token revocations: {error}") from None
                await asyncio.sleep(RETRY_SECONDS)
        log.info("token revocations loaded", extra={"revoked_users": len(self._revocations)})
        self._reloading = asyncio.get_running_loop().create_task(self._reload_periodically())

    async def _changed(self, message: Msg) -> None:
        try:
            event = USER_CHANGED.parse(message.data)
            if USER_CHANGED.subject.key_of(message.subject) != event.login:
                raise ValueError("the event is not about the user its subject names")
        except Exception:
            log.warning("unreadable user event ignored", extra={"subject": message.subject})
            return
        if event.HasField("credentials_changed_at"):
            self._revocations.revoke(event.user_id, event.credentials_changed_at.ToMilliseconds())

    async def _reload_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._reload_seconds)
            try:
                self._revocations.revoke_all(await self._load())
                self._revocations.prune()
            except Exception as error:  # auth away for a while: the events still come
                log.warning("could not reload the token revocations: %s", error)

    async def close(self) -> None:
        reloading, self._reloading = self._reloading, None
        await cancel_and_wait(reloading)
        subscription, self._subscription = self._subscription, None
        if subscription is not None and not self._connection.is_closed:
            await subscription.unsubscribe()


async def follow_revocations(stack: AsyncExitStack, connection: Client, revocations: Revocations,
                             load: RevocationList, within: float) -> None:
    """Keep `revocations` true until `stack` unwinds (before the NATS connection closes: pushed after it)."""
    follower = RevocationFollower(connection, revocations, load)
    stack.push_async_callback(follower.close)
    await follower.start(within)
