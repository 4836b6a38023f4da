"""Composition root of the auth service process: `python -m services.auth`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack

from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.adapters.notifier import to_message
from services.auth.adapters.passwords import Argon2Hasher
from services.auth.adapters.repository import SqlAuthUnitOfWork
from services.auth.adapters.signing import JwtIssuer, SigningKeyRing, load_or_create_signing_key
from services.auth.adapters.sso.cas import CasProvider
from services.auth.adapters.sso.oidc import OidcProvider
from services.auth.adapters.verified_passwords import VerifiedPasswordCache
from services.auth.domain.ports import PasswordHasher
from services.auth.domain.sso import SsoProvider
from services.auth.domain.throttle import LoginThrottle, ThrottleLimits
from services.auth.entrypoints.grpc_api import POLICY, SERVICE_NAME, AuthApi
from services.auth.keys import MIGRATIONS, VERSION_TABLE, legacy_key_file, signing_keys
from services.auth.service_layer.auth_service import AuthService
from xuc import subjects
from xuc.runtime import bootstrap
from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.keys import MAX_AGE_SECONDS
from xuc.runtime.process import GrpcService, run, serve_grpc, stop_signal
from xuc.runtime.revocations import follow_revocations
from xuc.runtime.settings import Settings
from xuc.security.revocations import Revocations, retention_for
from xuc.security.tokens import TokenVerifier
from xuc.tasks import cancel_and_wait
from xucproto.auth.v1 import auth_pb2_grpc

log = logging.getLogger("auth")
START_TIMEOUT_SECONDS = 30.0


def sso_providers(settings: Settings) -> dict[str, SsoProvider]:
    """The SSO methods this deployment configures (a method left out answers "not configured")."""
    providers: dict[str, SsoProvider] = {}
    if settings.cas_server_url:
        providers["cas"] = CasProvider(settings.cas_server_url, timeout_seconds=settings.sso_timeout_seconds)
    if settings.kerberos_keytab:
        try:
            from services.auth.adapters.sso.kerberos import KerberosProvider

            providers["kerberos"] = KerberosProvider(settings.kerberos_keytab, principal=settings.kerberos_principal,
                                                     realms=settings.kerberos_realms)
        except ImportError:
            log.error("XUC_KERBEROS_KEYTAB is set but gssapi is not installed (pip install -e '.[kerberos]'): "
                      "Kerberos logins are refused")
    if settings.oidc_issuer:
        providers["oidc"] = OidcProvider(settings.oidc_issuer, audience=settings.oidc_audience,
                                         login_claim=settings.oidc_login_claim,
                                         timeout_seconds=settings.sso_timeout_seconds)
    return providers


async def _signing_key_ring(settings: Settings, engine: AsyncEngine, stack: AsyncExitStack) -> SigningKeyRing:
    """The keys in the database, kept fresh in the background; or the one key of XUC_SIGNING_KEY_FILE."""
    if settings.signing_key_file is not None:
        return SigningKeyRing.static(load_or_create_signing_key(settings.signing_key_file))
    if settings.signing_key_prepublish_seconds < MAX_AGE_SECONDS + settings.signing_key_reload_seconds:
        log.warning("XUC_SIGNING_KEY_PREPUBLISH_S is shorter than the verifiers' key refresh (%d s) plus a reload: "
                    "after a rotation, services may refuse new tokens for a while", MAX_AGE_SECONDS)
    keys = signing_keys(settings, engine)
    legacy = legacy_key_file(settings)
    await keys.manager.start(legacy.read_bytes() if legacy.exists() else None)
    refreshing = asyncio.create_task(keys.manager.keep_fresh(settings.signing_key_reload_seconds))
    stack.push_async_callback(cancel_and_wait, refreshing)
    return keys.ring


async def main(settings: Settings) -> None:
    stopping = stop_signal()
    async with AsyncExitStack() as stack:
        engine = await bootstrap.open_database(stack, settings, MIGRATIONS, VERSION_TABLE)

        ring = await _signing_key_ring(settings, engine, stack)
        issuer = JwtIssuer(ring, settings.token_issuer, settings.token_ttl, settings.max_session_seconds)
        revocations = Revocations(retention_for(settings.token_ttl))
        verifier = TokenVerifier(settings.token_issuer, revocations=revocations)
        ring.watch(verifier.set_keys)  # this service's own checks follow the published keys

        events = await bootstrap.connect_events(stack, settings, "auth", [subjects.auth_stream()])

        publisher = events.publisher(to_message)
        sso = sso_providers(settings)
        for provider in sso.values():
            stack.push_async_callback(provider.close)
        throttle = LoginThrottle(ThrottleLimits(settings.login_max_failures, settings.login_max_failures_per_address,
                                                settings.login_failure_window_seconds))
        hasher: PasswordHasher = Argon2Hasher()
        if settings.login_cache_seconds:
            hasher = VerifiedPasswordCache(hasher, settings.login_cache_seconds)
        service = AuthService(lambda: SqlAuthUnitOfWork(engine), hasher, issuer, publisher, sso=sso,
                              throttle=throttle, token_ttl=settings.token_ttl)
        await service.prepare()
        # Other replicas' changes arrive as events; the list comes from the database itself.
        async def own_revocations() -> Sequence[tuple[str, int]]:
            await service.forget_old_revocations()  # each reload, every 5 minutes, prunes the table too
            return await service.list_revocations()

        await follow_revocations(stack, events.connection, revocations, own_revocations, START_TIMEOUT_SECONDS)
        api = AuthApi(service, issuer, settings.token_issuer)
        interceptor = EdgeInterceptor(POLICY, Authenticator(settings.service_token, verifier))
        await serve_grpc(
            settings,
            "auth",
            [GrpcService(SERVICE_NAME, lambda server: auth_pb2_grpc.add_AuthServicer_to_server(api, server))],
            [interceptor],
            stopping,
        )


if __name__ == "__main__":
    run("auth", main)
