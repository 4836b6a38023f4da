"""A local OpenID Connect issuer for tests: discovery document, JWKS, and a token signer.

    async with LocalIssuer(prefix="/realms/xuc") as issuer:   # 127.0.0.1, a free port
        provider = OidcProvider(issuer.url, audience="xuc")
        token = issuer.sign(issuer.claims(preferred_username="alice"))            # RS256
        token = issuer.sign(issuer.claims(), key="ec")                             # ES256
        forged = forge(issuer.claims(), alg="HS256", secret=issuer.rsa_public_pem)  # attacks
        issuer.rotate("rsa")             # a new RSA key; the old one leaves the JWKS
        issuer.stall_jwks(10.0)          # the JWKS answers after 10 s (released at stop())
        issuer.fail_jwks(500)            # the JWKS answers 500 (0 restores it)
        issuer.jwks_fetches, issuer.discovery_fetches   # how often each was read

Keys are generated with `cryptography` per issuer (RSA 2048, EC P-256); their kids are random. The
JWKs are written out by hand rather than with the library the provider uses, so the test does not
share its parsing with the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Literal

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KeyName = Literal["rsa", "ec"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, str]:
    """The public JWK (RFC 7518 section 6) of a private key, as an issuer publishes it."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    point, size = key.public_key().public_numbers(), (key.curve.key_size + 7) // 8
    crv, alg = {"secp256r1": ("P-256", "ES256"), "secp384r1": ("P-384", "ES384")}[key.curve.name]
    return {"kty": "EC", "kid": kid, "use": "sig", "alg": alg, "crv": crv,
            "x": _uint(point.x, size), "y": _uint(point.y, size)}


def forge(claims: dict[str, Any], *, alg: str, secret: bytes = b"", headers: dict[str, Any] | None = None) -> str:
    """A token no honest issuer signs: alg "none" (empty signature) or HS256 keyed with `secret`
    (e.g. the issuer's public key PEM: the algorithm confusion attack). Built by hand, since PyJWT
    rightly refuses to make them."""
    header = {"alg": alg, "typ": "JWT", **(headers or {})}
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    else:
        raise ValueError(f"forge() makes 'none' and 'HS256' tokens, not {alg!r}")
    return signing_input.decode() + "." + b64url(signature)


class LocalIssuer:
    """An aiohttp server on 127.0.0.1 serving an issuer's discovery document and JWKS."""

    def __init__(self, prefix: str = "", *, host: str = "127.0.0.1") -> None:
        self._prefix = prefix.rstrip("/")
        self._host = host
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._keys: dict[str, tuple[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]] = {}
        self.rotate("rsa")
        self.rotate("ec")
        self.document_issuer: str | None = None  # what the discovery document says, if not self.url
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        self._jwks_status = 200
        self._jwks_delay = 0.0
        self._released = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self._prefix + "/.well-known/openid-configuration", self._discovery)
        app.router.add_get(self._prefix + "/protocol/openid-connect/certs", self._jwks)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if not self._port:
            self._port = self._runner.addresses[0][1]
        self._released.clear()

    async def stop(self) -> None:
        self._released.set()  # stalled handlers answer now, so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalIssuer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The issuer identifier: http://127.0.0.1:<port><prefix>, no trailing slash."""
        return f"http://{self._host}:{self._port}{self._prefix}"

    # --- keys and tokens ------------------------------------------------------------------------
    def kid(self, key: KeyName = "rsa") -> str:
        return self._keys[key][0]

    def rotate(self, key: KeyName = "rsa") -> str:
        """A new key of this type replaces the old one in the JWKS; its kid."""
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048) if key == "rsa"
            else ec.generate_private_key(ec.SECP256R1()))
        kid = f"{key}-{secrets.token_hex(6)}"
        self._keys[key] = (kid, private)
        return kid

    @property
    def rsa_public_pem(self) -> bytes:
        return self._keys["rsa"][1].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, lifetime: float = 300, **overrides: Any) -> dict[str, Any]:
        """Claims of a Keycloak-like access token for alice, valid `lifetime` seconds from now;
        an override of None removes the claim."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "sub": "f3c1-alice", "aud": "account", "azp": "xuc",
                                  "iat": now, "exp": now + int(lifetime), "preferred_username": "alice",
                                  "typ": "Bearer"}
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], key: KeyName = "rsa", kid: str | None = None,
             headers: dict[str, Any] | None = None) -> str:
        """Claims signed by the issuer's current key of this type (RS256 or ES256), with its kid
        unless `kid` names another; `headers` are added to (and may override) the header."""
        current_kid, private = self._keys[key]
        algorithm = "RS256" if key == "rsa" else "ES256"
        return jwt.encode(claims, private, algorithm=algorithm,
                          headers={"kid": kid if kid is not None else current_kid, **(headers or {})})

    # --- misbehaviour ---------------------------------------------------------------------------
    def stall_jwks(self, seconds: float) -> None:
        """The JWKS answers after `seconds` (or as soon as the issuer stops); 0 restores it."""
        self._jwks_delay = seconds

    def fail_jwks(self, status: int) -> None:
        """The JWKS answers this HTTP status with no keys; 0 (or 200) restores it."""
        self._jwks_status = status or 200

    # --- handlers -------------------------------------------------------------------------------
    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        return web.json_response({
            "issuer": self.document_issuer if self.document_issuer is not None else self.url,
            "jwks_uri": self.url + "/protocol/openid-connect/certs",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        })

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        if self._jwks_delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self._jwks_delay)
        if self._jwks_status != 200:
            return web.json_response({"error": "unavailable"}, status=self._jwks_status)
        return web.json_response({"keys": [public_jwk(private, kid) for kid, private in self._keys.values()]})
