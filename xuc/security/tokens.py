"""Local verification of user tokens, with the public keys the auth service publishes.

Tokens are JWTs signed ES256 (P-256 verifies fastest of the asymmetric choices on our CPUs) with
a `kid` header. A verifier holds only public keys, so any process can check a token without a
call to auth. Verified tokens are remembered (bounded LRU, expiry re-checked on every hit): a client
presents the same token on every request of a session, and the signature need not be re-checked.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xuc.errors import InvalidToken, TokenExpired

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("sub", "login", "iat", "exp", "jti", "iss")


@dataclass(frozen=True)
class Claims:
    user_id: str
    login: str
    issued_at: int
    expires: int
    token_id: str


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """A stable id for a key: a shortened SHA-256 thumbprint of its DER encoding."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")


def load_public_key(pem: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not a P-256 public key")
    return key


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        keys: Iterable[ec.EllipticCurvePublicKey] = (),
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._verified: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self.set_keys(keys)

    def set_keys(self, keys: Iterable[ec.EllipticCurvePublicKey]) -> None:
        self._keys = {key_id(key): key for key in keys}
        self._verified.clear()

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    @staticmethod
    def kid_of(token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The token is not a well-formed JWT") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The token has no key id")
        return kid

    def verify(self, token: str) -> Claims:
        """The token's claims, or InvalidToken / TokenExpired."""
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires <= now:
                del self._verified[token]
                raise TokenExpired()
            self._verified.move_to_end(token)
            return cached
        claims = self._verify_signature(token, now)
        self._verified[token] = claims
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return claims

    def _verify_signature(self, token: str, now: float) -> Claims:
        key = self._keys.get(self.kid_of(token))
        if key is None:
            raise InvalidToken("The token was signed with an unknown key")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],  # pins the algorithm: no "none", no HS256 with a public key
                issuer=self._issuer,
                # Expiry is checked below against our clock (injectable), with no leeway.
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False, "verify_iat": False,
                         "verify_exp": False},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The token is invalid: {exc}") from None
        try:
            claims = Claims(
                user_id=_str(payload["sub"]),
                login=_str(payload["login"]),
                issued_at=int(payload["iat"]),
                expires=int(payload["exp"]),
                token_id=_str(payload["jti"]),
            )
        except (TypeError, ValueError):
            raise InvalidToken("The token's claims have the wrong types") from None
        if claims.expires <= now:
            raise TokenExpired()
        return claims


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value
