"""OpenID Connect: who an access token names, checked against the configured issuer's keys.

The client brings an access token it obtained from the identity provider (Keycloak, ...). We accept
it only as a JWT signed by that issuer, so we never call the provider per login: the keys come from
the issuer's discovery document (`{issuer}/.well-known/openid-configuration`, whose `issuer` must
equal the configured one) and its `jwks_uri`, and are cached by `kid`.

Why the choices below:
- Algorithms are pinned per key, from the key's own type (RS256 for RSA, ES256 for EC P-256), never
  from the token: the token's header cannot pick `none`, nor HS256 keyed with the public key (the
  classic confusion attack), nor a verifier the key was not published for.
- A token whose `kid` we do not know triggers a refresh of the JWKS (the issuer rotated its keys),
  at most once every `min_refresh_seconds`, so forged kids cannot turn logins into a fetch storm
  against the issuer. Concurrent callers wait for the one fetch in progress and share its result.
- Keys that cannot be fetched (issuer unreachable, a 5xx, a timeout, a malformed document) answer
  OidcAuthenticationFailed with a message saying so: the REST documentation has no code for an
  unreachable issuer, and its clients already treat OidcAuthenticationFailed as "not logged in".
- Keycloak access tokens usually carry `aud: "account"` and name the client in `azp`, so the
  configured audience is accepted in either claim; with no audience configured it is not checked.
- The token is never logged, nor put in an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt

from services.auth.domain.errors import OidcAuthenticationFailed, OidcInvalidParameter
from services.auth.domain.sso import OidcCredentials, SsoCredentials, SsoIdentity

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
# The only algorithms we verify, and the key type each one needs.
RS256 = "RS256"
ES256 = "ES256"
SUPPORTED_ALGORITHMS = (RS256, ES256)
MAX_TOKEN_CHARS = 16_384  # far above any real access token; bounds the work a forged one costs
MAX_DOCUMENT_BYTES = 1_048_576  # discovery document / JWKS: a few KiB in practice
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # alg "none" signs nothing


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class VerificationKey:
    """One signing key of the issuer, with the only algorithm it may verify."""

    kid: str  # "" when the JWKS entry has none
    algorithm: str  # RS256 or ES256
    key: jwt.PyJWK


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0, section 4: a terminating "/" of the issuer is removed before
    the well-known path is appended (the issuer itself is compared as configured)."""
    return issuer.rstrip("/") + DISCOVERY_PATH


def check_issuer(issuer: str) -> str:
    """The configured issuer, if it is an absolute http(s) URL; else ValueError (configuration)."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the OIDC issuer must be an http(s) URL, not {issuer!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"the OIDC issuer must not have a query or fragment: {issuer!r}")
    return issuer


def keys_from_jwks(document: Any) -> dict[str, VerificationKey]:
    """The signing keys of a JWKS we can verify with, by kid. Encryption keys, other key types and
    curves, and keys declaring another algorithm are skipped: they could only verify algorithms we
    refuse anyway."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable("the JWKS is not a JSON object with a 'keys' list")
    keys: dict[str, VerificationKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kty, declared = entry.get("kty"), entry.get("alg")
        if kty == "RSA":
            algorithm = RS256
        elif kty == "EC" and entry.get("crv") == "P-256":
            algorithm = ES256
        else:
            continue
        if declared is not None and declared != algorithm:
            continue
        kid = entry.get("kid", "")
        if not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=algorithm)
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            log.warning("OIDC: skipping unusable JWKS key %r: %s", kid, type(error).__name__)
            continue
        keys[kid] = VerificationKey(kid, algorithm, key)
    return keys


def audience_matches(claims: dict[str, Any], audience: str) -> bool:
    """True if `aud` (a string or a list) names the audience, or `azp` (the client the token was
    issued to) is it: Keycloak's access tokens name the client in `azp`, with `aud` "account"."""
    aud = claims.get("aud")
    if aud == audience or (isinstance(aud, list) and audience in aud):
        return True
    return claims.get("azp") == audience


def login_from(claims: dict[str, Any], login_claim: str) -> str:
    value = claims.get(login_claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcAuthenticationFailed(f"The access token has no {login_claim!r} claim to log in with")
    return value


def unverified_header(token: str) -> dict[str, Any]:
    """The token's header, before any verification: it only says which key and algorithm to try."""
    if len(token) > MAX_TOKEN_CHARS:
        raise OidcAuthenticationFailed("The access token is too long")
    if token.count(".") == 4:
        raise OidcAuthenticationFailed("Encrypted access tokens (JWE) are not supported")
    if not _COMPACT_JWS.fullmatch(token):
        raise OidcAuthenticationFailed("The access token is not a signed JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise OidcAuthenticationFailed("The access token's header is not valid") from None
    alg = header.get("alg")
    if alg not in SUPPORTED_ALGORITHMS:
        # Refused before any key lookup: "none" and HS256 never cost a JWKS refresh.
        raise OidcAuthenticationFailed(f"The access token must be signed {' or '.join(SUPPORTED_ALGORITHMS)}")
    if "crit" in header:  # RFC 7515 4.1.11: we understand no extension, so refuse any
        raise OidcAuthenticationFailed("The access token requires JWS extensions we do not support")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise OidcAuthenticationFailed("The access token's key id is not valid")
    return header


class OidcProvider:
    """The SSO provider for OidcCredentials: verifies the access token, names its login claim."""

    def __init__(
        self,
        issuer: str,
        *,
        audience: str = "",
        login_claim: str = "preferred_username",
        timeout_seconds: float = 5.0,
        leeway_seconds: int = 30,
        min_refresh_seconds: float = 10.0,
    ) -> None:
        self._issuer = check_issuer(issuer)
        self._discovery_url = discovery_url(issuer)
        self._audience = audience
        self._login_claim = login_claim
        self._timeout = timeout_seconds
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_seconds
        self._session: aiohttp.ClientSession | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, VerificationKey] = {}
        self._lock = asyncio.Lock()
        self._attempts = 0  # key fetches finished (or failed): waiters compare it to join a fetch
        self._last_attempt: float | None = None  # time.monotonic() of the last fetch's start
        self._last_error: KeysUnavailable | None = None

    @property
    def issuer(self) -> str:
        return self._issuer

    async def authenticate(self, credentials: SsoCredentials) -> SsoIdentity:
        if not isinstance(credentials, OidcCredentials):
            raise TypeError(f"OidcProvider authenticates OidcCredentials, not {type(credentials).__name__}")
        token = credentials.token.strip()
        if not token:
            raise OidcInvalidParameter()
        header = unverified_header(token)
        key = await self._key_for(header.get("kid"))
        if header["alg"] != key.algorithm:
            raise OidcAuthenticationFailed(f"The access token's algorithm does not match its key ({key.algorithm})")
        claims = self._decode(token, key)
        login = login_from(claims, self._login_claim)
        sub = claims.get("sub")
        return SsoIdentity(login=login, subject=sub if isinstance(sub, str) and sub else login)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- verification ---------------------------------------------------------------------------
    def _decode(self, token: str, key: VerificationKey) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],  # pinned to the key's type, whatever the header says
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise OidcAuthenticationFailed("The access token has expired") from None
        except jwt.ImmatureSignatureError:
            raise OidcAuthenticationFailed("The access token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise OidcAuthenticationFailed("The access token was not issued by the configured issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise OidcAuthenticationFailed(f"The access token has no {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise OidcAuthenticationFailed("The access token's signature is not valid") from None
        except jwt.PyJWTError as error:
            raise OidcAuthenticationFailed(f"The access token is not valid ({type(error).__name__})") from None
        if claims.get("iss") != self._issuer:  # exact, whatever PyJWT's matching rules become
            raise OidcAuthenticationFailed("The access token was not issued by the configured issuer")
        if self._audience and not audience_matches(claims, self._audience):
            raise OidcAuthenticationFailed("The access token is not meant for this application (aud/azp)")
        return claims

    # --- keys -----------------------------------------------------------------------------------
    def _lookup(self, kid: str | None) -> VerificationKey | None:
        if kid is None:  # no kid: only unambiguous if the issuer publishes a single key
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _key_for(self, kid: str | None) -> VerificationKey:
        """The key for this kid, refreshing the JWKS once if it is unknown (and the last fetch is
        older than min_refresh_seconds)."""
        key = self._lookup(kid)
        if key is not None:
            return key
        seen = self._attempts
        async with self._lock:
            if self._attempts == seen and self._may_refresh():
                await self._refresh()
            # else: a fetch finished while we waited for the lock (its result is ours), or one
            # started less than min_refresh_seconds ago.
            error = self._last_error
        key = self._lookup(kid)
        if key is not None:
            return key
        if error is not None:
            raise OidcAuthenticationFailed(f"The issuer's signing keys are not available: {error}")
        raise OidcAuthenticationFailed("The access token was signed with a key the issuer does not publish")

    def _may_refresh(self) -> bool:
        return self._last_attempt is None or time.monotonic() - self._last_attempt >= self._min_refresh

    async def _refresh(self) -> None:
        """Fetch the keys (the discovery document first, if its jwks_uri is not known yet), within
        timeout_seconds in all. Called with the lock held."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                if self._jwks_uri is None:
                    self._jwks_uri = self._jwks_uri_from(await self._get_json(self._discovery_url))
                keys = keys_from_jwks(await self._get_json(self._jwks_uri))
        except TimeoutError:
            error = KeysUnavailable(f"no answer from the issuer within {self._timeout:g} s")
        except aiohttp.ClientError as failure:
            error = KeysUnavailable(f"the issuer could not be reached ({type(failure).__name__})")
        except KeysUnavailable as failure:
            error = failure
        else:
            self._keys = keys
            self._last_error = None
            self._last_attempt = started
            self._attempts += 1
            log.info("OIDC: %d signing key(s) of %s loaded (kids: %s)", len(keys), self._issuer,
                     ", ".join(sorted(keys)) or "-")
            return
        # The discovery document is read again next time: its jwks_uri may be what changed.
        self._jwks_uri = None
        self._last_error = error
        self._last_attempt = started
        self._attempts += 1
        log.warning("OIDC: the signing keys of %s could not be fetched: %s", self._issuer, error)

    def _jwks_uri_from(self, document: Any) -> str:
        if not isinstance(document, dict):
            raise KeysUnavailable("the discovery document is not a JSON object")
        if document.get("issuer") != self._issuer:
            raise KeysUnavailable(f"the discovery document names another issuer ({document.get('issuer')!r})")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https"):
            raise KeysUnavailable("the discovery document has no http(s) jwks_uri")
        return uri

    async def _get_json(self, url: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        async with self._session.get(url) as response:
            if response.status != 200:
                raise KeysUnavailable(f"{url} answered HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65_536):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeysUnavailable(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise KeysUnavailable(f"{url} did not answer JSON") from None
