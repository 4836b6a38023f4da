"""The token signing key (ES256) and the issuing of user tokens.

The private key is generated on first start and kept in `<data dir>/auth/signing-key.pem` (mode
0600), or read from XUC_SIGNING_KEY_FILE. Only its public half leaves this service.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.domain.model import IssuedToken, User
from xuc.security.tokens import ALGORITHM, key_id


def load_or_create_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} does not hold a P-256 private key")
        return key
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


class JwtIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str, ttl: int) -> None:
        self._key = key
        self._issuer = issuer
        self._ttl = ttl
        self.kid = key_id(key.public_key())

    def public_pem(self) -> str:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def issue(self, user: User, now: float) -> IssuedToken:
        issued_at = int(now)
        expires = issued_at + self._ttl
        claims = {
            "iss": self._issuer,
            "sub": user.id,
            "login": user.login,
            "iat": issued_at,
            "exp": expires,
            "expires": expires,  # the original xuc's claim name, kept for its clients
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(login=user.login, token=token, ttl=self._ttl, expires=expires)
