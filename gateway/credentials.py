"""Who calls a 2.0 route: the user token, verified here before any hop."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.requests import presented_token
from xuc.runtime.keys import PublicKeyCache
from xuc.security.tokens import Claims


@dataclass(frozen=True)
class UserCredentials:
    token: str  # passed on to the service, which verifies it again (no service trusts the gateway)
    claims: Claims


async def authenticate(request: Request, keys: PublicKeyCache) -> UserCredentials:
    """Every route but login calls this first, so that a missing, forged or expired token is
    answered 401 without a hop."""
    token = presented_token(request)
    return UserCredentials(token, await keys.verify(token))
