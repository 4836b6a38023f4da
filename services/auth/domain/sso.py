"""Single sign-on: the credentials each method brings, and the port its providers implement.

A provider only says who the credentials name (a login, mapped from the principal, CAS user or
claim); the auth service then finds the provisioned user and issues our token, as for a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CasCredentials:
    service: str
    ticket: str


@dataclass(frozen=True)
class OidcCredentials:
    token: str


@dataclass(frozen=True)
class KerberosCredentials:
    token: bytes  # the SPNEGO token, decoded from "Authorization: Negotiate <base64>"


SsoCredentials = CasCredentials | OidcCredentials | KerberosCredentials

METHOD_OF: dict[type, str] = {CasCredentials: "cas", OidcCredentials: "oidc", KerberosCredentials: "kerberos"}


@dataclass(frozen=True)
class SsoIdentity:
    login: str  # the user to log in
    subject: str  # who the provider authenticated, for the login event (principal, CAS user, sub)
    mutual_token: bytes = b""  # Kerberos: for "WWW-Authenticate: Negotiate <base64>"


class SsoProvider(Protocol):
    async def authenticate(self, credentials: SsoCredentials) -> SsoIdentity:
        """Who these credentials name; the method's documented error when they do not."""

    async def close(self) -> None: ...
