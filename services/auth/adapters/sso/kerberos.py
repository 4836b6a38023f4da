"""Kerberos single sign-on (SPNEGO over HTTP), with the system's GSSAPI through `gssapi`.

The browser (or `curl --negotiate`) sends `Authorization: Negotiate <token>`; the token is
accepted with the service keytab (`XUC_KERBEROS_KEYTAB`: any `HTTP/...` principal it holds, or
only `XUC_KERBEROS_PRINCIPAL`), the system's Kerberos configuration (`KRB5_CONFIG`) as usual. The
client principal `alice@EXAMPLE.ORG` names the login `alice` (the realm stripped; with
`XUC_KERBEROS_REALMS`, only those realms are accepted). GSSAPI calls block (they may read the
keytab and the replay cache): they run in a worker thread.

`gssapi` is an optional extra (`pip install -e '.[kerberos]'`): it builds against the system's
Kerberos library. This module imports it only when a provider is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from services.auth.domain.sso import KerberosCredentials, SsoCredentials, SsoIdentity
from xuc.errors import SsoAuthenticationFailed

SPNEGO = "1.3.6.1.5.5.2"


class KerberosProvider:
    def __init__(self, keytab: str, *, principal: str = "", realms: Collection[str] = ()) -> None:
        import gssapi  # the optional extra: ImportError tells the composition root it is absent

        self._gssapi: Any = gssapi
        name = gssapi.Name(principal, gssapi.NameType.kerberos_principal) if principal else None
        # Read once: a keytab that cannot be used fails the start, not the first login.
        self._credentials = gssapi.Credentials(name=name, usage="accept", store={"keytab": keytab})
        self._realms = {realm.upper() for realm in realms}

    async def authenticate(self, credentials: SsoCredentials) -> SsoIdentity:
        if not isinstance(credentials, KerberosCredentials):
            raise TypeError(f"KerberosProvider does not handle {type(credentials).__name__}")
        principal, mutual_token = await asyncio.to_thread(self._accept, credentials.token)
        user, _, realm = principal.partition("@")
        if self._realms and realm.upper() not in self._realms:
            raise SsoAuthenticationFailed(f"The realm {realm!r} is not accepted")
        return SsoIdentity(login=user, subject=principal, mutual_token=mutual_token)

    def _accept(self, token: bytes) -> tuple[str, bytes]:
        gssapi = self._gssapi
        try:
            context = gssapi.SecurityContext(creds=self._credentials, usage="accept")
            mutual_token = context.step(token)
            if not context.complete:  # SPNEGO wants another round: not possible in one request
                raise SsoAuthenticationFailed("The Negotiate exchange did not complete in one round")
            return str(context.initiator_name), bytes(mutual_token or b"")
        except gssapi.exceptions.GSSError as error:
            # Bad or replayed tokens, a ticket for another service, clock skew, expiry... (a token
            # that is not GSSAPI at all may only fail once the context is asked about it).
            raise SsoAuthenticationFailed(f"Kerberos refused the token: {_describe(error)}") from None

    async def close(self) -> None:
        pass


def _describe(error: Any) -> str:
    """GSSAPI's own description, on one line and bounded."""
    try:
        text = " ".join(str(part) for part in error.gen_message())
    except Exception:
        text = type(error).__name__
    return " ".join(text.split())[:300]
