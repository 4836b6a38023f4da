"""Local token verification with the public keys fetched from auth, cached and refreshed.

Used by the gateway and by every service that takes calls on behalf of users.

Keys are fetched at start (the gateway is not ready before) and again when a token names a key
we do not know (auth rotated it), at most once per REFRESH_INTERVAL so forged kids cannot make
us hammer auth.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from xuc.errors import InvalidToken, Unreachable
from xuc.runtime.grpc_client import service_metadata
from xuc.security.tokens import Claims, TokenVerifier, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)
REFRESH_INTERVAL_SECONDS = 10.0


class PublicKeyCache:
    def __init__(self, stub: auth_pb2_grpc.AuthStub, service_token: str, issuer: str) -> None:
        self._stub = stub
        self._metadata = service_metadata(service_token)
        self.verifier = TokenVerifier(issuer)
        self._refreshed_at = 0.0
        self._lock = asyncio.Lock()
        self.ready = False

    async def refresh(self) -> None:
        try:
            reply = await self._stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=self._metadata,
                                                   timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise Unreachable(f"cannot fetch the token keys from auth: {exc.code().name}") from None
        self.verifier.set_keys(load_public_key(key.pem) for key in reply.keys)
        self._refreshed_at = time.monotonic()
        self.ready = True
        log.info("token keys loaded", extra={"kids": ",".join(key.kid for key in reply.keys)})

    async def wait_until_loaded(self, within: float) -> None:
        """Fetch the keys, retrying while auth starts; Unreachable after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                return await self.refresh()
            except Unreachable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def verify(self, token: str) -> Claims:
        kid = self.verifier.kid_of(token)
        if not self.verifier.knows(kid):
            await self._refresh_for_unknown_kid()
            if not self.verifier.knows(kid):
                raise InvalidToken("The token was signed with an unknown key")
        return self.verifier.verify(token)

    async def _refresh_for_unknown_kid(self) -> None:
        async with self._lock:
            if time.monotonic() - self._refreshed_at >= REFRESH_INTERVAL_SECONDS:
                await self.refresh()
