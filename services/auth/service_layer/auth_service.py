"""The auth use cases. Events are collected during a use case and published after commit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from services.auth.domain.errors import (
    CasServerUrlNotSet,
    InvalidCredentials,
    InvalidUser,
    OidcNotEnabled,
    UserAlreadyExists,
    UserNotFound,
)
from services.auth.domain.model import (
    LOGIN,
    ClientInfo,
    Event,
    IssuedToken,
    LoginAttempted,
    Profile,
    User,
    UserChanged,
    UserSpec,
    check_user_specs,
    credentials_moved,
    validate_login,
    validate_password,
)
from services.auth.domain.ports import EventPublisher, PasswordHasher, TokenIssuer, UnitOfWork, UserRepository
from services.auth.domain.sso import METHOD_OF, SsoCredentials, SsoProvider
from services.auth.domain.throttle import LoginThrottle, TooManyAttempts
from xuc.errors import DomainError, ErrorKind, InvalidToken, SsoAuthenticationFailed
from xuc.security.revocations import retention_for
from xuc.security.tokens import Claims

PASSWORD_METHOD = "password"
MAX_LOGIN_IN_EVENT = 64
RECENT_USER_SECONDS = 5.0
RECENT_USERS_MAX = 100_000
PROFILE_FIELDS = frozenset(vars(Profile()))


def _kerberos_not_configured() -> DomainError:
    return SsoAuthenticationFailed("Kerberos is not configured on this server (XUC_KERBEROS_KEYTAB)")


# The answer to a method the deployment has not configured, as the REST documentation names it.
_NOT_CONFIGURED: dict[str, Callable[[], DomainError]] = {
    "cas": CasServerUrlNotSet, "oidc": OidcNotEnabled, "kerberos": _kerberos_not_configured,
}


class AuthService:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        issuer: TokenIssuer,
        publisher: EventPublisher,
        clock: Callable[[], float] = time.time,
        sso: Mapping[str, SsoProvider] | None = None,
        throttle: LoginThrottle | None = None,
        token_ttl: int = 3600,
    ) -> None:
        # Credentials changes older than this revoke no living token (tokens live `token_ttl`).
        self._revocation_retention = retention_for(token_ttl)
        self._throttle = throttle or LoginThrottle()
        self._uow = unit_of_work
        self._sso = dict(sso or {})  # method ("cas", "oidc", "kerberos") -> its configured provider
        self._hasher = hasher
        self._issuer = issuer
        self._publisher = publisher
        self._clock = clock
        self._dummy_hash: str | None = None
        self._recent: dict[str, tuple[User, float]] = {}
        self._recent_logins: dict[str, tuple[User, float]] = {}  # the same, by login (SSO logins)

    async def prepare(self) -> None:
        """Work done once at start so the first requests cost what later ones do."""
        self._dummy_hash = await self._hasher.hash("not a password of anyone")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- login and tokens -------------------------------------------------------------------
    async def login(self, login: str, password: str, client: ClientInfo) -> IssuedToken:
        await self._refuse_if_throttled(login[:MAX_LOGIN_IN_EVENT], PASSWORD_METHOD, client)
        try:
            issued = await self._password_login(login, password, client)
        except InvalidCredentials:
            self._throttle.failed(self._clock(), login[:MAX_LOGIN_IN_EVENT], client.address)
            raise
        self._throttle.succeeded(login)
        return issued

    async def _refuse_if_throttled(self, login: str, method: str, client: ClientInfo) -> None:
        try:
            self._throttle.check(self._clock(), login, client.address)
        except TooManyAttempts as error:
            await self._publish(LoginAttempted(login, False, error.reason, method, client, "", self._now()))
            raise

    async def _password_login(self, login: str, password: str, client: ClientInfo) -> IssuedToken:
        if not LOGIN.fullmatch(login):
            # Cannot exist: no lookup, but the same hashing time, and a bounded login in the event.
            await self._password_matches(None, password)
            await self._publish(LoginAttempted(login[:MAX_LOGIN_IN_EVENT], False, InvalidCredentials.reason,
                                               PASSWORD_METHOD, client, "", self._now()))
            raise InvalidCredentials()
        # Passwords are hashed outside any transaction: a hash takes ~0.1 s, and on SQLite a
        # transaction holds the database's one write lock.
        async with self._uow() as uow:
            user = await uow.users.by_login(login)
        valid = await self._password_matches(user, password)
        if user is not None and valid and self._hasher.needs_rehash(user.password_hash):
            upgraded = user.with_rehashed_password(await self._hasher.hash(password))
            async with self._uow() as uow:
                await uow.users.update(upgraded)
                await uow.commit()
        if user is None or not valid or user.disabled:  # a disabled user is told no more than a wrong password
            await self._publish(LoginAttempted(login, False, InvalidCredentials.reason, PASSWORD_METHOD,
                                               client, "", self._now()))
            raise InvalidCredentials()
        issued = self._issuer.issue(user, self._clock())
        await self._publish(LoginAttempted(login, True, "", PASSWORD_METHOD, client, user.id, self._now()))
        return issued

    async def sso_login(self, credentials: SsoCredentials, client: ClientInfo) -> tuple[IssuedToken, bytes]:
        """A token for the user the SSO credentials name, and the provider's mutual token (Kerberos)."""
        method = METHOD_OF[type(credentials)]
        await self._refuse_if_throttled("", method, client)
        try:
            issued, mutual_token = await self._sso_login(method, credentials, client)
        except DomainError as error:
            if error.kind is ErrorKind.UNAUTHENTICATED or isinstance(error, UserNotFound):
                self._throttle.failed(self._clock(), address=client.address)
            raise
        self._throttle.succeeded(issued.login)
        return issued, mutual_token

    async def _sso_login(self, method: str, credentials: SsoCredentials,
                         client: ClientInfo) -> tuple[IssuedToken, bytes]:
        provider = self._sso.get(method)
        if provider is None:
            error = _NOT_CONFIGURED[method]()
            await self._publish(LoginAttempted("", False, error.reason, method, client, "", self._now()))
            raise error
        try:
            identity = await provider.authenticate(credentials)
        except DomainError as error:
            await self._publish(LoginAttempted("", False, error.reason, method, client, "", self._now()))
            raise
        user = await self._recent_user_by_login(identity.login) if LOGIN.fullmatch(identity.login) else None
        if user is None:
            await self._publish(LoginAttempted(identity.subject[:MAX_LOGIN_IN_EVENT], False, UserNotFound.reason,
                                               method, client, "", self._now()))
            raise UserNotFound(f"{identity.subject[:MAX_LOGIN_IN_EVENT]!r} is authenticated, but no user "
                               f"{identity.login[:MAX_LOGIN_IN_EVENT]!r} is provisioned")
        if user.disabled:
            await self._publish(LoginAttempted(user.login, False, UserNotFound.reason, method, client, user.id,
                                               self._now()))
            raise UserNotFound(f"The user {user.login!r} is disabled")
        await self._publish(LoginAttempted(user.login, True, "", method, client, user.id, self._now()))
        return self._issuer.issue(user, self._clock()), identity.mutual_token

    async def _password_matches(self, user: User | None, password: str) -> bool:
        if user is None:
            # Spend the same time as for a real user, so timing does not tell which logins exist.
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash("not a password of anyone")
            await self._hasher.verify(self._dummy_hash, password)
            return False
        return await self._hasher.verify(user.password_hash, password)

    async def refresh(self, claims: Claims) -> IssuedToken:
        """A new token for the holder of a verified one, for the same session: if the user still
        exists, is not disabled and has the credentials the token was issued for, and the session
        is not older than the longest allowed (the issuer refuses then: TokenExpired)."""
        user = await self._recent_user(claims.user_id)
        if user is None or user.login != claims.login:
            raise InvalidToken("The token's user no longer exists")
        if user.disabled or claims.credentials_changed_at < user.credentials_changed_at:
            raise InvalidToken("The token was revoked: its user's password changed, or the user was disabled")
        return self._issuer.issue(user, self._clock(), auth_time=claims.auth_time)

    async def list_revocations(self) -> Sequence[tuple[str, int]]:
        """(user id, credentials changed at, ms) of the changes a token verifier must know now:
        those of the last token lifetime."""
        async with self._uow() as uow:
            return await uow.revocations.since(self._revocation_cutoff_ms())

    async def forget_old_revocations(self) -> None:
        """Delete the changes no living token was issued before (auth's periodic maintenance)."""
        async with self._uow() as uow:
            await uow.revocations.forget_before(self._revocation_cutoff_ms())
            await uow.commit()

    def _revocation_cutoff_ms(self) -> int:
        return self._now_ms() - int(self._revocation_retention * 1000)

    async def _recent_user(self, user_id: str) -> User | None:
        """The user, read at most RECENT_USER_SECONDS ago. Token refreshes are the hot path and
        need only know the user still exists; this process's own changes evict at once, another
        replica's are seen within that delay."""
        return await self._remembered(self._recent, user_id, lambda users: users.by_id(user_id))

    async def _recent_user_by_login(self, login: str) -> User | None:
        """The user of this login, read at most RECENT_USER_SECONDS ago (a found one only: a user
        provisioned a moment ago can log in at once). SSO logins are proven by the provider, not
        by a password hash, so the read is most of their cost."""
        return await self._remembered(self._recent_logins, login, lambda users: users.by_login(login))

    async def _remembered(self, recent: dict[str, tuple[User, float]], key: str,
                          read: Callable[[UserRepository], Awaitable[User | None]]) -> User | None:
        """`recent[key]` if read less than RECENT_USER_SECONDS ago, else `read` again and remember
        what it found (a user not found is forgotten, not remembered)."""
        now = self._clock()
        remembered = recent.get(key)
        if remembered is not None and now - remembered[1] < RECENT_USER_SECONDS:
            return remembered[0]
        async with self._uow() as uow:
            user = await read(uow.users)
        if len(recent) >= RECENT_USERS_MAX:
            recent.clear()
        if user is not None:
            recent[key] = (user, now)
        else:
            recent.pop(key, None)
        return user

    # --- user administration ------------------------------------------------------------------
    async def create_user(self, spec: UserSpec) -> User:
        validate_login(spec.login)
        user = User(spec.login, await self._hasher.hash(validate_password(spec.password)),
                    spec.profile.validated(), credentials_changed_at=self._now_ms(), disabled=spec.disabled)
        async with self._uow() as uow:
            if await uow.users.by_login(spec.login) is not None:
                raise UserAlreadyExists(f"A user with login {spec.login!r} already exists")
            await uow.users.add(user)
            await uow.commit()
        await self._publish(self._changed(user, "created"))
        return user

    async def update_user(self, login: str, password: str | None, profile_changes: dict[str, str],
                          disabled: bool | None = None) -> User:
        new_hash = await self._hasher.hash(validate_password(password)) if password is not None else None
        async with self._uow() as uow:
            user = await uow.users.by_login(login, for_update=True)  # its credentials time moves from this one
            if user is None:
                raise UserNotFound(f"No user with login {login!r}")
            unknown = set(profile_changes) - PROFILE_FIELDS
            if unknown:
                raise InvalidUser(f"unknown user fields: {', '.join(sorted(unknown))}")
            profile = Profile(**{**vars(user.profile), **profile_changes}).validated()
            before, user = user, user.with_changes(self._now_ms(), password_hash=new_hash, profile=profile,
                                                   disabled=disabled)
            await uow.users.update(user)
            await self._record_revocation(uow, before, user)
            await uow.commit()
        await self._publish(self._changed(user, "updated"))
        return user

    async def put_users(self, specs: Sequence[UserSpec], validate_only: bool = False) -> list[tuple[User, str]]:
        """Make these users exist as described, all or nothing; outcome per user. `validate_only`:
        check them (InvalidUser listing every violation) and change nothing."""
        check_user_specs(specs)
        if validate_only:
            return []
        # Read, then hash and compare outside any transaction (each hash takes ~0.1 s), then write
        # everything in one transaction: all or nothing.
        async with self._uow() as uow:
            existing = [await uow.users.by_login(spec.login) for spec in specs]
        results = [await self._planned(spec, current) for spec, current in zip(specs, existing, strict=True)]
        async with self._uow() as uow:
            for index, ((user, outcome), before) in enumerate(zip(results, existing, strict=True)):
                if outcome == "created":
                    await uow.users.add(user)
                elif outcome == "updated":
                    assert before is not None
                    # Read again, locked: a change committed while we hashed keeps its credentials time.
                    current = await uow.users.by_login(user.login, for_update=True)
                    if current is not None:
                        user = user.rebased(before, current, self._now_ms())
                        results[index] = (user, outcome)
                    await uow.users.update(user)
                    await self._record_revocation(uow, before, user)
            await uow.commit()
        await self._publish(*(self._changed(user, outcome) for user, outcome in results if outcome != "unchanged"))
        return results

    async def _planned(self, spec: UserSpec, existing: User | None) -> tuple[User, str]:
        """The user as `spec` describes it, and whether that creates, updates or changes nothing."""
        if existing is None:
            return User(spec.login, await self._hasher.hash(spec.password), spec.profile,
                        credentials_changed_at=self._now_ms(), disabled=spec.disabled), "created"
        same_password = await self._hasher.verify(existing.password_hash, spec.password)
        if same_password and existing.profile == spec.profile and existing.disabled == spec.disabled:
            return existing, "unchanged"
        new_hash = None if same_password else await self._hasher.hash(spec.password)
        return existing.with_changes(self._now_ms(), password_hash=new_hash, profile=spec.profile,
                                     disabled=spec.disabled), "updated"

    async def delete_user(self, login: str) -> None:
        async with self._uow() as uow:
            user = await uow.users.by_login(login, for_update=True)
            if user is None:
                raise UserNotFound(f"No user with login {login!r}")
            await uow.users.delete(user)
            # Every token of the user is refused from now on: their credentials time moves past all.
            user = replace(user, credentials_changed_at=credentials_moved(user.credentials_changed_at,
                                                                           self._now_ms()))
            await uow.revocations.record(user.id, user.credentials_changed_at)
            await uow.commit()
        await self._publish(self._changed(user, "deleted"))

    @staticmethod
    async def _record_revocation(uow: UnitOfWork, before: User, after: User) -> None:
        if after.credentials_changed_at != before.credentials_changed_at:
            await uow.revocations.record(after.id, after.credentials_changed_at)

    def _changed(self, user: User, change: str) -> UserChanged:
        return UserChanged(user.login, user.id, change, self._now(), user.credentials_changed_at, user.disabled)

    async def get_user(self, login: str) -> User:
        async with self._uow() as uow:
            user = await uow.users.by_login(login)
        if user is None:
            raise UserNotFound(f"No user with login {login!r}")
        return user

    async def list_users(self) -> Sequence[User]:
        async with self._uow() as uow:
            return await uow.users.all()

    async def _publish(self, *events: Event) -> None:
        for event in events:
            if isinstance(event, UserChanged):
                self._recent.pop(event.user_id, None)
                self._recent_logins.pop(event.login, None)
        if events:
            await self._publisher.publish(events)
