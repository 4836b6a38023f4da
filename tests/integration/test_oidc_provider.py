"""The OIDC provider against a real issuer over HTTP (tests/support/oidc_issuer.py on loopback):
discovery, JWKS, signatures, claims, key rotation, and an issuer that stalls or fails.

Reading the token from `?token=` or `Authorization: Bearer` is the gateway's job, not tested here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.auth.adapters.sso.oidc import OidcProvider
from services.auth.domain.errors import OidcAuthenticationFailed, OidcInvalidParameter
from services.auth.domain.sso import OidcCredentials, SsoIdentity
from tests.support.oidc_issuer import LocalIssuer, forge

MakeProvider = Callable[..., OidcProvider]


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    async with LocalIssuer() as server:
        yield server


@pytest.fixture
async def make_provider(issuer: LocalIssuer) -> AsyncIterator[MakeProvider]:
    """Providers for `issuer` (or `issuer=` another), all closed at teardown."""
    made: list[OidcProvider] = []

    def make(**options: Any) -> OidcProvider:
        provider = OidcProvider(options.pop("issuer", issuer.url), **options)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


async def login(provider: OidcProvider, token: str) -> SsoIdentity:
    return await provider.authenticate(OidcCredentials(token))


async def refused(provider: OidcProvider, token: str, message: str) -> OidcAuthenticationFailed:
    with pytest.raises(OidcAuthenticationFailed, match=message) as raised:
        await login(provider, token)
    assert token not in raised.value.message
    return raised.value


# --- success ------------------------------------------------------------------------------------
async def test_an_rs256_token_names_its_login_and_keys_are_cached(
    issuer: LocalIssuer, make_provider: MakeProvider
) -> None:
    provider = make_provider(audience="xuc")
    identity = await login(provider, issuer.sign(issuer.claims()))
    assert identity == SsoIdentity(login="alice", subject="f3c1-alice")
    assert await login(provider, issuer.sign(issuer.claims(preferred_username="bob", sub=None))) == SsoIdentity(
        login="bob", subject="bob")
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (1, 1)


async def test_an_es256_token_is_accepted(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    assert (await login(make_provider(), issuer.sign(issuer.claims(), key="ec"))).login == "alice"


async def test_an_issuer_with_a_path_prefix(make_provider: MakeProvider) -> None:
    async with LocalIssuer(prefix="/realms/xuc") as keycloak:
        assert keycloak.url.endswith("/realms/xuc")
        provider = make_provider(issuer=keycloak.url, audience="xuc")
        assert (await login(provider, keycloak.sign(keycloak.claims()))).login == "alice"


async def test_the_login_claim_is_configurable(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    provider = make_provider(login_claim="email")
    assert (await login(provider, issuer.sign(issuer.claims(email="alice@example.com")))).login == "alice@example.com"
    await refused(provider, issuer.sign(issuer.claims()), "'email' claim")


async def test_concurrent_first_logins_share_one_fetch(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    issuer.stall_jwks(0.3)
    provider = make_provider()
    token = issuer.sign(issuer.claims())
    identities = await asyncio.gather(*(login(provider, token) for _ in range(10)))
    assert {identity.login for identity in identities} == {"alice"}
    assert issuer.jwks_fetches == 1


# --- claims -------------------------------------------------------------------------------------
async def test_an_expired_token_is_refused(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    now = int(time.time())
    await refused(make_provider(), issuer.sign(issuer.claims(iat=now - 600, exp=now - 120)), "expired")


async def test_a_token_not_valid_yet_is_refused(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    await refused(make_provider(), issuer.sign(issuer.claims(nbf=int(time.time()) + 120)), "not valid yet")


async def test_clock_skew_within_the_leeway_is_accepted(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    now = int(time.time())
    provider = make_provider(leeway_seconds=30)
    assert await login(provider, issuer.sign(issuer.claims(iat=now - 600, exp=now - 10)))
    assert await login(provider, issuer.sign(issuer.claims(iat=now + 10, nbf=now + 10)))
    await refused(make_provider(leeway_seconds=0), issuer.sign(issuer.claims(exp=now - 10)), "expired")


@pytest.mark.parametrize("iss", ["http://127.0.0.1:1/realms/other", "{url}/", "{url}/x", "", None])
async def test_another_issuer_is_refused(issuer: LocalIssuer, make_provider: MakeProvider, iss: str | None) -> None:
    claims = issuer.claims(iss=iss.format(url=issuer.url) if iss is not None else None)
    await refused(make_provider(), issuer.sign(claims), "configured issuer|'iss' claim")


async def test_a_token_without_exp_is_refused(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    await refused(make_provider(), issuer.sign(issuer.claims(exp=None)), "'exp' claim")


async def test_the_audience_is_aud_or_azp(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    provider = make_provider(audience="xuc")
    assert await login(provider, issuer.sign(issuer.claims(aud="account", azp="xuc")))  # Keycloak
    assert await login(provider, issuer.sign(issuer.claims(aud=["account", "xuc"], azp="other")))
    await refused(provider, issuer.sign(issuer.claims(aud="account", azp="other")), "aud/azp")
    await refused(provider, issuer.sign(issuer.claims(aud=None, azp=None)), "aud/azp")
    # Without a configured audience, any audience is accepted.
    assert await login(make_provider(), issuer.sign(issuer.claims(aud="someone-else", azp="other")))


@pytest.mark.parametrize("value", [None, "", 42])
async def test_a_token_without_a_usable_login_is_refused(
    issuer: LocalIssuer, make_provider: MakeProvider, value: object
) -> None:
    await refused(make_provider(), issuer.sign(issuer.claims(preferred_username=value)), "'preferred_username' claim")


async def test_a_missing_token_is_an_invalid_parameter(make_provider: MakeProvider) -> None:
    for token in ("", "  "):
        with pytest.raises(OidcInvalidParameter):
            await login(make_provider(), token)


# --- signatures and algorithms --------------------------------------------------------------------
async def test_alg_none_is_refused_without_a_fetch(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    await refused(make_provider(), forge(issuer.claims(), alg="none", headers={"kid": issuer.kid()}), "must be signed")
    assert issuer.jwks_fetches == 0


async def test_hs256_keyed_with_the_public_key_is_refused(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    """The algorithm confusion attack: an HMAC whose secret is the issuer's public RSA key."""
    provider = make_provider()
    assert await login(provider, issuer.sign(issuer.claims()))  # the keys are loaded
    for secret in (issuer.rsa_public_pem, issuer.rsa_public_pem.strip()):
        token = forge(issuer.claims(), alg="HS256", secret=secret, headers={"kid": issuer.kid()})
        await refused(provider, token, "must be signed")


async def test_a_header_alg_that_does_not_fit_the_key_is_refused(
    issuer: LocalIssuer, make_provider: MakeProvider
) -> None:
    # An ES256 signature presented under the RSA key's kid.
    await refused(make_provider(), issuer.sign(issuer.claims(), key="ec", kid=issuer.kid("rsa")), "does not match")


async def test_a_signature_by_another_key_with_a_known_kid_is_refused(
    issuer: LocalIssuer, make_provider: MakeProvider
) -> None:
    impostor = LocalIssuer()  # never started: only its keys are used
    token = impostor.sign(issuer.claims(), kid=issuer.kid("rsa"))
    await refused(make_provider(), token, "signature is not valid")
    header, _payload, signature = issuer.sign(issuer.claims()).split(".")
    tampered = ".".join((header, issuer.sign(issuer.claims(preferred_username="root")).split(".")[1], signature))
    await refused(make_provider(), tampered, "signature is not valid")


# --- kids, refreshes, rotation --------------------------------------------------------------------
async def test_an_unknown_kid_refreshes_once_then_fails(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    provider = make_provider(min_refresh_seconds=60)
    assert await login(provider, issuer.sign(issuer.claims()))
    assert issuer.jwks_fetches == 1
    # The first forged kid after the initial fetch would refresh, but the fetch is too recent.
    for number in range(5):
        await refused(provider, issuer.sign(issuer.claims(), kid=f"forged-{number}"), "does not publish")
    assert issuer.jwks_fetches == 1
    assert await login(provider, issuer.sign(issuer.claims()))


async def test_an_unknown_kid_refreshes_after_the_minimum_interval(
    issuer: LocalIssuer, make_provider: MakeProvider
) -> None:
    provider = make_provider(min_refresh_seconds=0.2)
    assert await login(provider, issuer.sign(issuer.claims()))
    await asyncio.sleep(0.25)
    await asyncio.gather(*(refused(provider, issuer.sign(issuer.claims(), kid=f"forged-{n}"), "does not publish")
                           for n in range(5)))
    assert issuer.jwks_fetches == 2  # one refresh for the five, none for the ones after
    await refused(provider, issuer.sign(issuer.claims(), kid="forged-again"), "does not publish")
    assert issuer.jwks_fetches == 2


async def test_key_rotation_is_picked_up(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    provider = make_provider(min_refresh_seconds=0.2)
    old_token = issuer.sign(issuer.claims())
    assert await login(provider, old_token)
    await asyncio.sleep(0.25)
    new_kid = issuer.rotate("rsa")
    assert (await login(provider, issuer.sign(issuer.claims()))).login == "alice"
    assert issuer.jwks_fetches == 2
    assert issuer.kid("rsa") == new_kid
    await refused(provider, old_token, "does not publish")  # the old key left the JWKS


# --- an issuer that misbehaves ------------------------------------------------------------------
async def test_a_stalled_jwks_fails_within_the_timeout(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    issuer.stall_jwks(30)
    provider = make_provider(timeout_seconds=0.5)
    # The message is the provider's own timeout: the stall (30 s) would have ended the wait otherwise.
    await refused(provider, issuer.sign(issuer.claims()), r"not available: no answer from the issuer within 0.5 s")


async def test_a_failing_jwks_fails_then_recovers(issuer: LocalIssuer, make_provider: MakeProvider) -> None:
    issuer.fail_jwks(500)
    provider = make_provider(min_refresh_seconds=0.2)
    token = issuer.sign(issuer.claims())
    await refused(provider, token, "not available: .* answered HTTP 500")
    await refused(provider, token, "not available")  # the failure is remembered: no retry storm
    assert issuer.jwks_fetches == 1
    issuer.fail_jwks(0)
    await asyncio.sleep(0.25)
    assert await login(provider, token)


async def test_an_unreachable_issuer_fails(make_provider: MakeProvider) -> None:
    async with LocalIssuer() as gone:
        url, token = gone.url, gone.sign(gone.claims())
    await refused(make_provider(issuer=url), token, "not available: the issuer could not be reached")


async def test_a_discovery_document_naming_another_issuer_is_refused(
    issuer: LocalIssuer, make_provider: MakeProvider
) -> None:
    issuer.document_issuer = "http://127.0.0.1:1/elsewhere"
    await refused(make_provider(), issuer.sign(issuer.claims()), "names another issuer")
    assert issuer.jwks_fetches == 0
