"""Local verification of user tokens, with the public keys the auth service publishes.

Tokens are JWTs signed ES256 (P-256 verifies fastest of the asymmetric choices on our CPUs) with
a `kid` header. A verifier holds only public keys, so any process can check a token without a
call to auth. Verified tokens are remembered (bounded LRU, expiry re-checked on every hit): a client
presents the same token on every request of a session, and the signature need not be re-checked.

Tokens are issued with PyJWT (services/auth/adapters/signing.py). They are verified here with
`cryptography` directly: a compact JWS with one pinned algorithm is a few lines, and PyJWT's
character-by-character base64 validation in Python doubled the cost of a first verification
(~100 us -> ~70 us here, against ~65 us for the ECDSA check itself).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from xuc.errors import InvalidToken, TokenExpired
from xuc.security.revocations import Revocations

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("sub", "login", "iat", "exp", "jti", "iss")
# Optional, so that tokens issued before they existed verify until they expire: `auth_time` (taken
# as `iat` when absent) and the user's credentials time (0 when absent: refused once it moves).
CREDENTIALS_CLAIM = "credentials_changed_at"
# How long a verifier built without its deployment's token lifetime remembers a revocation.
DEFAULT_REVOCATION_RETENTION = 24 * 3600
# A token issued (`iat`) or valid from (`nbf`) later than now is refused, but for this much of a
# clock difference between the auth replica that issued it and the verifier.
CLOCK_SKEW_SECONDS = 60
# Three base64url segments, no padding: checked once by a compiled pattern, so that the decoding
# below never sees characters it would silently skip.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class Claims:
    user_id: str
    login: str
    issued_at: int
    expires: int
    token_id: str
    not_before: int = 0  # the later of `iat` and `nbf`
    # When the session began (the password or SSO login; refreshes keep it): OIDC's `auth_time`.
    auth_time: int = 0
    # The user's credentials time when the token was issued, in ms (see xuc/security/revocations.py);
    # 0 in tokens of versions that did not carry it.
    credentials_changed_at: int = 0


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
        revocations: Revocations | None = None,
    ) -> None:
        self._issuer = issuer
        # Checked on every verification, remembered tokens included: a revocation takes effect at once.
        self.revocations = revocations if revocations is not None else Revocations(DEFAULT_REVOCATION_RETENTION, clock)
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
        """The `kid` of the (not yet verified) header: it only chooses which key verifies."""
        return _kid(_header(token))

    def verify(self, token: str) -> Claims:
        """The token's claims, or InvalidToken / TokenExpired."""
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires <= now:
                del self._verified[token]
                raise TokenExpired()
            self._verified.move_to_end(token)
            return self._unless_revoked(cached)
        claims = self._verify_signature(token)
        if claims.expires <= now:
            raise TokenExpired()
        if claims.not_before > now + CLOCK_SKEW_SECONDS:
            raise InvalidToken("The token is not valid yet")
        if self._cache_size:
            self._verified[token] = claims
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return self._unless_revoked(claims)

    def _unless_revoked(self, claims: Claims) -> Claims:
        if self.revocations.refuses(claims.user_id, claims.credentials_changed_at):
            raise InvalidToken("The token was revoked: its user's password changed, or the user was disabled "
                               "or deleted")
        return claims

    def _verify_signature(self, token: str) -> Claims:
        header = _header(token)
        if header.get("alg") != ALGORITHM:  # pinned: no "none", no HS256 keyed with the public key
            raise InvalidToken(f"The token is not signed {ALGORITHM}")
        if "crit" in header:  # RFC 7515 4.1.11: we understand no extension, so refuse any
            raise InvalidToken("The token requires extensions we do not support")
        key = self._keys.get(_kid(header))
        if key is None:
            raise InvalidToken("The token was signed with an unknown key")
        signing_input, _, signature_segment = token.rpartition(".")
        try:
            signature = _b64decode(signature_segment)
        except ValueError:
            raise InvalidToken("The token's signature is not base64url") from None
        if len(signature) != 64:
            raise InvalidToken("The token's signature is not an ES256 signature")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            key.verify(der, signing_input.encode("ascii"), _ECDSA_SHA256)
        except InvalidSignature:
            raise InvalidToken("The token's signature does not match") from None
        try:
            payload = json.loads(_b64decode(signing_input.partition(".")[2]))
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise InvalidToken("The token's payload is not JSON") from None
        if not isinstance(payload, dict) or any(name not in payload for name in REQUIRED_CLAIMS):
            raise InvalidToken(f"The token lacks one of the claims {', '.join(REQUIRED_CLAIMS)}")
        if payload["iss"] != self._issuer:
            raise InvalidToken("The token was issued by another deployment")
        try:
            issued_at = _int(payload["iat"])
            return Claims(
                user_id=_str(payload["sub"]),
                login=_str(payload["login"]),
                issued_at=issued_at,
                expires=_int(payload["exp"]),
                token_id=_str(payload["jti"]),
                not_before=max(issued_at, _int(payload.get("nbf", 0))),
                auth_time=_int(payload.get("auth_time", issued_at)),
                credentials_changed_at=_int(payload.get(CREDENTIALS_CLAIM, 0)),
            )
        except TypeError:
            raise InvalidToken("The token's claims have the wrong types") from None


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _header(token: str) -> dict[str, object]:
    if not _COMPACT_JWS.fullmatch(token):
        raise InvalidToken("The token is not a well-formed JWT")
    try:
        header = json.loads(_b64decode(token.partition(".")[0]))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep (unauthenticated)
        raise InvalidToken("The token's header is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidToken("The token's header is not a JSON object")
    return header


def _kid(header: dict[str, object]) -> str:
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("The token has no key id")
    return kid


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return int(value)
