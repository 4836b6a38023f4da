"""The token signing keys (ES256), the key ring replicas sign with, and the issuing of user tokens.

The private keys live in the auth database (table `auth_signing_keys`, see
services/auth/domain/signing_keys.py for the schedule), serialized as PKCS#8 PEM, encrypted
when XUC_SIGNING_KEY_PASSPHRASE is set. Only their public halves leave this service.

XUC_SIGNING_KEY_FILE names a key file instead: that one key signs, nothing rotates (the key is
created on first start, mode 0600, if the file does not exist).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.domain.model import IssuedToken, User
from services.auth.domain.ports import StoredSigningKey
from services.auth.domain.signing_keys import KeyPeriod, KeySchedule
from xuc.errors import TokenExpired
from xuc.security.tokens import ALGORITHM, CREDENTIALS_CLAIM, key_id

PublicKeys = Callable[[list[ec.EllipticCurvePublicKey]], None]
DEFAULT_MAX_SESSION_SECONDS = 24 * 3600  # XUC_MAX_SESSION_S


def load_or_create_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        return _p256(serialization.load_pem_private_key(path.read_bytes(), password=None), str(path))
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    temporary.replace(path)
    return key


def _p256(key: object, what: str) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{what} does not hold a P-256 private key")
    return key


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


class PemKeyMaterial:
    """P-256 keys serialized as PKCS#8 PEM; encrypted with `passphrase` when one is given.

    Without a passphrase the database is the secret store of the signing keys: whoever reads the
    table can sign tokens. A key stored before a passphrase was set is still read (unencrypted).
    """

    def __init__(self, passphrase: str = "") -> None:
        self._passphrase = passphrase.encode()

    def generate(self) -> tuple[str, str]:
        return self._serialized(ec.generate_private_key(ec.SECP256R1()))

    def adopt(self, pem: bytes) -> tuple[str, str]:
        return self._serialized(_p256(serialization.load_pem_private_key(pem, password=None), "the key file"))

    def _serialized(self, key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase) if self._passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        return key_id(key.public_key()), pem.decode()

    def decode(self, stored: str) -> ec.EllipticCurvePrivateKey:
        encrypted = stored.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        if encrypted and not self._passphrase:
            raise ValueError("a signing key in the database is encrypted: set XUC_SIGNING_KEY_PASSPHRASE")
        key = serialization.load_pem_private_key(stored.encode(), password=self._passphrase if encrypted else None)
        return _p256(key, "a stored signing key")


class SigningKeyRing:
    """The keys this replica signs and verifies with, as last loaded from the store.

    Which key signs and which are published follows the schedule at the time asked; keys are
    decoded once (by kid), so a reload that changes nothing costs no cryptography. `watch`ers (the
    service's own token verifier) are told the published public keys whenever that set changes.
    """

    def __init__(self, material: PemKeyMaterial, schedule: KeySchedule,
                 clock: Callable[[], float] = time.time) -> None:
        self._material = material
        self._schedule = schedule
        self._clock = clock
        self._periods: list[KeyPeriod] = []
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._watchers: list[PublicKeys] = []
        self._published_kids: tuple[str, ...] = ()

    @classmethod
    def static(cls, key: ec.EllipticCurvePrivateKey) -> SigningKeyRing:
        """One key that always signs (a key file, tests)."""
        ring = cls(PemKeyMaterial(), KeySchedule(rotation_age=0, prepublication=0, token_ttl=0, grace=0))
        kid = key_id(key.public_key())
        ring._periods = [KeyPeriod(kid, generation=1, created_at=0.0, active_from=0.0)]
        ring._keys = {kid: key}
        ring._published_kids = (kid,)
        return ring

    def load(self, keys: Sequence[StoredSigningKey]) -> None:
        decoded = {key.period.kid: self._keys.get(key.period.kid) or self._material.decode(key.private_key)
                   for key in keys}
        self._keys = decoded
        self._periods = [key.period for key in keys]
        self._notify()

    def watch(self, watcher: PublicKeys) -> None:
        self._watchers.append(watcher)
        watcher(self.public_keys())

    def _notify(self) -> None:
        published = tuple(period.kid for period in self._schedule.published(self._periods, self._clock()))
        if published != self._published_kids:
            self._published_kids = published
            for watcher in self._watchers:
                watcher(self.public_keys())

    def signing_key(self, now: float) -> tuple[str, ec.EllipticCurvePrivateKey]:
        period = self._schedule.signing(self._periods, now)
        if period is None:
            raise RuntimeError("no signing key is loaded")
        return period.kid, self._keys[period.kid]

    def published(self, now: float | None = None) -> list[tuple[str, ec.EllipticCurvePrivateKey]]:
        """(kid, key) of the keys verifiers must know at `now` (default: this moment)."""
        periods = self._schedule.published(self._periods, self._clock() if now is None else now)
        return [(period.kid, self._keys[period.kid]) for period in periods]

    def public_keys(self, now: float | None = None) -> list[ec.EllipticCurvePublicKey]:
        return [key.public_key() for _, key in self.published(now)]


class JwtIssuer:
    """Signs user tokens with the ring's signing key of the moment (a bare key: that key alone).

    A token lives `ttl` seconds, but never past `max_session` seconds after the login that began
    its session (`auth_time`, kept by every refresh): a stolen token cannot be refreshed for ever.
    """

    def __init__(self, keys: ec.EllipticCurvePrivateKey | SigningKeyRing, issuer: str, ttl: int,
                 max_session: int = DEFAULT_MAX_SESSION_SECONDS) -> None:
        self.keys = keys if isinstance(keys, SigningKeyRing) else SigningKeyRing.static(keys)
        self._issuer = issuer
        self._ttl = ttl
        self._max_session = max_session

    @property
    def kid(self) -> str:
        """The kid of the key signing at this moment."""
        return self.keys.signing_key(time.time())[0]

    def public_pem(self) -> str:
        """The public key of the key signing at this moment."""
        return public_pem(self.keys.signing_key(time.time())[1])

    def published(self) -> list[tuple[str, str]]:
        """(kid, public PEM) of every key verifiers must know now, oldest first."""
        return [(kid, public_pem(key)) for kid, key in self.keys.published()]

    def issue(self, user: User, now: float, auth_time: int | None = None) -> IssuedToken:
        issued_at = int(now)
        session_started = issued_at if auth_time is None else auth_time
        expires = min(issued_at + self._ttl, session_started + self._max_session)
        if expires <= issued_at:
            raise TokenExpired(f"The session began more than {self._max_session} s ago: log in again")
        kid, key = self.keys.signing_key(now)
        claims = {
            "iss": self._issuer,
            "sub": user.id,
            "login": user.login,
            "iat": issued_at,
            "exp": expires,
            "expires": expires,  # the original xuc's claim name, kept for its clients
            "jti": uuid.uuid4().hex,
            "auth_time": session_started,
            CREDENTIALS_CLAIM: user.credentials_changed_at,
        }
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})
        return IssuedToken(login=user.login, token=token, ttl=expires - issued_at, expires=expires)
