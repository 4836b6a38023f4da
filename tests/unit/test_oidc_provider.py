"""The pure parts of the OIDC provider: configuration, JWKS parsing, audience, and the checks made
before any key is fetched (so they never cost a request to the issuer).

The provider against a real issuer over HTTP is in tests/integration/test_oidc_provider.py.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.auth.adapters.sso.oidc import (
    ES256,
    RS256,
    KeysUnavailable,
    OidcProvider,
    audience_matches,
    check_issuer,
    discovery_url,
    keys_from_jwks,
    login_from,
)
from services.auth.domain.errors import OidcAuthenticationFailed, OidcInvalidParameter
from services.auth.domain.sso import CasCredentials, OidcCredentials
from tests.support.oidc_issuer import b64url, forge, public_jwk

# Nothing listens here: a test that reached the network would fail with "not available".
UNREACHABLE = "http://127.0.0.1:9/realms/xuc"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("issuer", "url"),
    [
        ("https://sso.example.com", "https://sso.example.com/.well-known/openid-configuration"),
        ("https://sso.example.com/realms/xuc", "https://sso.example.com/realms/xuc/.well-known/openid-configuration"),
        ("https://tenant.example.com/", "https://tenant.example.com/.well-known/openid-configuration"),
        ("http://127.0.0.1:8080/realms/a", "http://127.0.0.1:8080/realms/a/.well-known/openid-configuration"),
    ],
)
def test_discovery_url_follows_openid_discovery(issuer: str, url: str) -> None:
    assert discovery_url(issuer) == url


@pytest.mark.parametrize("issuer", ["", "sso.example.com", "ftp://sso.example.com", "https://", "https://a/b?x=1"])
def test_an_issuer_that_is_not_an_http_url_is_a_configuration_error(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        check_issuer(issuer)
    with pytest.raises(ValueError, match="issuer"):
        OidcProvider(issuer)


def test_jwks_keeps_only_keys_we_verify_with(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    p384 = public_jwk(ec.generate_private_key(ec.SECP384R1()), "p384")
    undeclared = {k: v for k, v in public_jwk(rsa_key, "undeclared").items() if k != "alg"}
    document = {"keys": [
        public_jwk(rsa_key, "r1"),
        public_jwk(ec_key, "e1"),
        undeclared,  # an RSA key without "alg" verifies RS256
        {**public_jwk(rsa_key, "enc"), "use": "enc", "alg": "RSA-OAEP"},
        {**public_jwk(rsa_key, "ps"), "alg": "PS256"},
        p384,
        {"kty": "oct", "kid": "hmac", "k": b64url(b"secret")},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not a key",
    ]}
    keys = keys_from_jwks(document)
    assert {kid: key.algorithm for kid, key in keys.items()} == {"r1": RS256, "e1": ES256, "undeclared": RS256}


@pytest.mark.parametrize("document", [[], {"keys": "x"}, {"no": "keys"}, "text"])
def test_a_jwks_that_is_not_a_key_set_is_refused(document: object) -> None:
    with pytest.raises(KeysUnavailable):
        keys_from_jwks(document)


@pytest.mark.parametrize(
    ("claims", "matches"),
    [
        ({"aud": "xuc"}, True),
        ({"aud": ["account", "xuc"]}, True),
        ({"aud": "account", "azp": "xuc"}, True),  # Keycloak: the client is the authorised party
        ({"azp": "xuc"}, True),
        ({"aud": "account", "azp": "other"}, False),
        ({"aud": ["account"]}, False),
        ({"aud": "xucx"}, False),  # exact match, not a substring
        ({}, False),
    ],
)
def test_audience_is_aud_or_azp(claims: dict[str, object], matches: bool) -> None:
    assert audience_matches(claims, "xuc") is matches


@pytest.mark.parametrize("value", [None, "", "  ", 42, ["alice"]])
def test_the_login_claim_must_be_a_non_empty_string(value: object) -> None:
    claims = {} if value is None else {"preferred_username": value}
    with pytest.raises(OidcAuthenticationFailed, match="preferred_username"):
        login_from(claims, "preferred_username")
    assert login_from({"email": "alice@example.com"}, "email") == "alice@example.com"


async def test_other_credentials_are_a_programming_error() -> None:
    provider = OidcProvider(UNREACHABLE)
    with pytest.raises(TypeError):
        await provider.authenticate(CasCredentials("https://app", "ST-1"))
    await provider.close()


@pytest.mark.parametrize("token", ["", "   ", "\n"])
async def test_a_missing_token_is_an_invalid_parameter(token: str) -> None:
    provider = OidcProvider(UNREACHABLE)
    with pytest.raises(OidcInvalidParameter):
        await provider.authenticate(OidcCredentials(token))
    await provider.close()


def _claims() -> dict[str, object]:
    return {"iss": UNREACHABLE, "exp": 4_000_000_000, "preferred_username": "alice"}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not a jwt", "not a signed JWT"),
        ("a.b", "not a signed JWT"),
        ("a.b.c.d.e", "JWE"),
        ("a" * 20_000 + ".b.c", "too long"),
        (b64url(b"{not json") + ".e30.c2ln", "header"),
        (b64url(b"[" * 5000) + ".e30.c2ln", "header"),  # JSON nested 5,000 deep (PyJWT catches its RecursionError)
        (forge(_claims(), alg="none"), "must be signed"),
        (forge(_claims(), alg="HS256", secret=b"any"), "must be signed"),
        (forge(_claims(), alg="none", headers={"alg": "RS512"}), "must be signed"),
        (forge(_claims(), alg="none", headers={"alg": "RS256", "crit": ["exp"]}), "header is not valid|extensions"),
        (forge(_claims(), alg="none", headers={"alg": "RS256", "kid": 7}), "header is not valid|key id"),
    ],
)
async def test_tokens_refused_before_any_key_is_fetched(token: str, message: str) -> None:
    """Refused on their header alone: the message is not the 'keys not available' of a fetch."""
    provider = OidcProvider(UNREACHABLE)
    with pytest.raises(OidcAuthenticationFailed, match=message) as raised:
        await provider.authenticate(OidcCredentials(token))
    assert token not in raised.value.message
    await provider.close()
