"""Single sign-on in the auth service (sso_login) against a hand-written provider."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.errors import (
    CasServerRefused,
    CasServerUrlNotSet,
    OidcNotEnabled,
    UserNotFound,
)
from services.auth.domain.model import ClientInfo, LoginAttempted, Profile, User
from services.auth.domain.sso import (
    CasCredentials,
    KerberosCredentials,
    OidcCredentials,
    SsoCredentials,
    SsoIdentity,
)
from services.auth.service_layer.auth_service import AuthService
from tests.unit.fakes import FakeDatabase, FakeHasher, FakeUnitOfWorkFactory, RecordingPublisher
from xuc.errors import DomainError, SsoAuthenticationFailed
from xuc.security.tokens import TokenVerifier

KEY = ec.generate_private_key(ec.SECP256R1())
CLIENT = ClientInfo(address="192.0.2.10")


class Provider:
    """Answers the identity (or the error) it was given; records the credentials it saw."""

    def __init__(self, identity: SsoIdentity | None = None, error: DomainError | None = None) -> None:
        self.identity, self.error = identity, error
        self.seen: list[SsoCredentials] = []

    async def authenticate(self, credentials: SsoCredentials) -> SsoIdentity:
        self.seen.append(credentials)
        if self.error is not None:
            raise self.error
        assert self.identity is not None
        return self.identity

    async def close(self) -> None:
        pass


def system(**providers: Provider) -> tuple[AuthService, RecordingPublisher, TokenVerifier]:
    database = FakeDatabase([User("alice", "hash:pw", Profile(line="1001"))], ())
    publisher = RecordingPublisher(database)
    now = float(int(time.time()))
    service = AuthService(FakeUnitOfWorkFactory(database), FakeHasher(), JwtIssuer(KEY, "xuc", 3600), publisher,
                          clock=lambda: now, sso=providers)
    return service, publisher, TokenVerifier("xuc", [KEY.public_key()], clock=lambda: now)


def attempts(publisher: RecordingPublisher) -> list[tuple[str, bool, str, str]]:
    return [(event.login, event.success, event.reason, event.method) for event in publisher.events
            if isinstance(event, LoginAttempted)]


@pytest.mark.parametrize(("credentials", "method"), [
    (CasCredentials("https://app.example", "ST-1"), "cas"),
    (OidcCredentials("eyJ..."), "oidc"),
    (KerberosCredentials(b"\x60\x82"), "kerberos"),
])
async def test_each_method_ends_like_a_password_login(credentials: SsoCredentials, method: str) -> None:
    provider = Provider(SsoIdentity("alice", "alice@EXAMPLE.ORG", mutual_token=b"mutual"))
    service, publisher, verifier = system(**{method: provider})

    issued, mutual = await service.sso_login(credentials, CLIENT)

    assert provider.seen == [credentials]
    assert (issued.login, verifier.verify(issued.token).login, mutual) == ("alice", "alice", b"mutual")
    assert attempts(publisher) == [("alice", True, "", method)]


@pytest.mark.parametrize(("credentials", "method", "error"), [
    (CasCredentials("s", "t"), "cas", CasServerUrlNotSet),
    (OidcCredentials("t"), "oidc", OidcNotEnabled),
    (KerberosCredentials(b"t"), "kerberos", SsoAuthenticationFailed),
])
async def test_a_method_not_configured_has_its_documented_error(
    credentials: SsoCredentials, method: str, error: type[DomainError],
) -> None:
    service, publisher, _ = system()
    with pytest.raises(error):
        await service.sso_login(credentials, CLIENT)
    assert attempts(publisher) == [("", False, error.reason, method)]


async def test_an_authenticated_stranger_is_user_not_found_and_published() -> None:
    service, publisher, _ = system(oidc=Provider(SsoIdentity("mallory", "sub-42")))
    with pytest.raises(UserNotFound, match="mallory"):
        await service.sso_login(OidcCredentials("t"), CLIENT)
    assert attempts(publisher) == [("sub-42", False, "UserNotFound", "oidc")]


async def test_a_login_that_cannot_exist_is_not_looked_up() -> None:
    service, _, _ = system(oidc=Provider(SsoIdentity("not a login!", "x")))
    with pytest.raises(UserNotFound):
        await service.sso_login(OidcCredentials("t"), CLIENT)


async def test_a_provider_refusal_is_published_without_the_credentials() -> None:
    refusal = CasServerRefused("CasServerInvalidTicket", "Ticket ST-1 not recognized")
    service, publisher, _ = system(cas=Provider(error=refusal))
    with pytest.raises(CasServerRefused):
        await service.sso_login(CasCredentials("https://app.example", "ST-1"), CLIENT)
    assert attempts(publisher) == [("", False, "CasServerInvalidTicket", "cas")]


async def test_repeated_sso_logins_read_the_user_once_until_it_changes() -> None:
    database = FakeDatabase([User("alice", "hash:pw", Profile(line="1001"))], ())
    units = FakeUnitOfWorkFactory(database)
    service = AuthService(units, FakeHasher(), JwtIssuer(KEY, "xuc", 3600), RecordingPublisher(database),
                          sso={"oidc": Provider(SsoIdentity("alice", "alice"))})
    for _ in range(3):
        await service.sso_login(OidcCredentials("t"), CLIENT)
    assert len(units.created) == 1  # one read for three logins
    await service.delete_user("alice")
    with pytest.raises(UserNotFound):  # the user's own change evicts it at once
        await service.sso_login(OidcCredentials("t"), CLIENT)
