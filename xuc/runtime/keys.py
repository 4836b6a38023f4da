"""Local token verification with the public keys fetched from auth, cached and refreshed.

Used by the gateway and by every service that takes calls on behalf of users.

Keys are fetched at start (the gateway is not ready before), then every MAX_AGE_SECONDS in the
background, and when a token names a key we do not know, at most once per
REFRESH_INTERVAL_SECONDS so forged kids cannot make us hammer auth. Auth publishes a new key
XUC_SIGNING_KEY_PREPUBLISH_S before it signs with it (at least MAX_AGE_SECONDS), so the periodic
refresh learns it before any token needs it, even for the services that verify synchronously
through `verifier` (their gRPC edge); it also forgets the keys auth stopped publishing (retired,
every token they signed expired).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc

from xuc.errors import InvalidToken, Unreachable
from xuc.runtime.grpc_client import service_metadata
from xuc.security.revocations import Revocations
from xuc.security.tokens import Claims, TokenVerifier, load_public_key
from xuc.tasks import cancel_and_wait
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)
REFRESH_INTERVAL_SECONDS = 10.0
MAX_AGE_SECONDS = 300.0


class PublicKeyCache:
    def __init__(self, stub: auth_pb2_grpc.AuthStub, service_token: str, issuer: str,
                 max_age: float = MAX_AGE_SECONDS, clock: Callable[[], float] = time.monotonic,
                 revocations: Revocations | None = None) -> None:
        self._stub = stub
        self._metadata = service_metadata(service_token)
        self.verifier = TokenVerifier(issuer, revocations=revocations)
        self._max_age = max_age
        self._clock = clock
        self._refreshed_at = float("-inf")
        self._lock = asyncio.Lock()
        self._kids: tuple[str, ...] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self.ready = False

    @property
    def kids(self) -> tuple[str, ...]:
        """The kids of the keys held, as auth published them (oldest first)."""
        return self._kids or ()

    async def refresh(self) -> None:
        try:
            reply = await self._stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=self._metadata,
                                                   timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise Unreachable(f"cannot fetch the token keys from auth: {exc.code().name}") from None
        kids = tuple(key.kid for key in reply.keys)
        if kids != self._kids:  # setting keys forgets the verified tokens: only when they change
            self.verifier.set_keys(load_public_key(key.pem) for key in reply.keys)
            self._kids = kids
            log.info("token keys loaded", extra={"kids": ",".join(kids)})
        self._refreshed_at = self._clock()
        self.ready = True

    async def wait_until_loaded(self, within: float) -> None:
        """Fetch the keys, retrying while auth starts (Unreachable after `within` seconds); then
        keep them fresh in the background until `close()` (or the end of the event loop)."""
        deadline = time.monotonic() + within
        while True:
            try:
                await self.refresh()
                break
            except Unreachable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        if self._periodic is None:
            self._periodic = asyncio.get_running_loop().create_task(self._refresh_periodically())

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._max_age)
            try:
                async with self._lock:
                    await self.refresh()
            except Exception as error:  # auth away for a while: keep the keys we have, try again later
                log.warning("could not refresh the token keys: %s", error)

    async def close(self) -> None:
        """Stop the periodic refresh. The owner calls it before closing the channel the refresh
        calls through (the composition roots push it on their exit stack after the auth channel's
        close, so that it runs first)."""
        periodic, self._periodic = self._periodic, None
        await cancel_and_wait(periodic)

    async def verify(self, token: str) -> Claims:
        kid = self.verifier.kid_of(token)
        if not self.verifier.knows(kid):
            await self._refresh_for_unknown_kid()
            if not self.verifier.knows(kid):
                raise InvalidToken("The token was signed with an unknown key")
        return self.verifier.verify(token)

    async def _refresh_for_unknown_kid(self) -> None:
        async with self._lock:
            if self._clock() - self._refreshed_at >= REFRESH_INTERVAL_SECONDS:
                await self.refresh()
