"""Users and the rules their fields follow."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.auth.domain.errors import InvalidUser
from xuc.errors import FieldViolation

LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
PHONE_NUMBER = re.compile(r"\+?[0-9*#]{1,31}")  # at most 32 characters, the column's size
MAX_NAME = 128
MAX_PASSWORD = 1024  # bytes hashed are bounded: a megabyte "password" is a denial of service


@dataclass(frozen=True)
class Profile:
    firstname: str = ""
    lastname: str = ""
    line: str = ""  # the user's phone line number, e.g. "1001"
    mobile: str = ""

    def validated(self) -> Profile:
        problems = self.problems()
        if problems:
            raise InvalidUser(problems[0][1])
        return self

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) of each rule the profile breaks."""
        problems = []
        for name in ("firstname", "lastname"):
            value = getattr(self, name)
            if len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
                problems.append((name, f"{name} must be at most {MAX_NAME} printable characters"))
        for name in ("line", "mobile"):
            value = getattr(self, name)
            if value and not PHONE_NUMBER.fullmatch(value):
                problems.append((name, f"{name} must be a phone number (digits, optional leading +), "
                                       f"got {value[:40]!r}"))
        return problems


def validate_login(login: str) -> str:
    if not LOGIN.fullmatch(login):
        raise InvalidUser(
            "login must be 1 to 64 characters: letters, digits and . _ @ + -, starting with a letter or digit"
        )
    return login


def validate_password(password: str) -> str:
    if not password:
        raise InvalidUser("password must not be empty")
    if len(password.encode("utf-8")) > MAX_PASSWORD:
        raise InvalidUser(f"password must be at most {MAX_PASSWORD} bytes")
    return password


@dataclass(frozen=True)
class User:
    login: str
    password_hash: str
    profile: Profile
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Moved by a password change, a disable and a delete: tokens issued before it are refused
    # (milliseconds since the epoch, see `credentials_moved` and xuc/security/revocations.py).
    credentials_changed_at: int = 0
    disabled: bool = False  # a disabled user cannot log in; their tokens are refused

    def with_changes(self, now_ms: int, password_hash: str | None = None, profile: Profile | None = None,
                     disabled: bool | None = None) -> User:
        """The user after these changes; the credentials time moves (to `now_ms`, or later) when a
        password is set or the user gets disabled."""
        password_changed = password_hash is not None
        disabling = disabled is True and not self.disabled
        return replace(
            self,
            password_hash=password_hash if password_hash is not None else self.password_hash,
            profile=profile if profile is not None else self.profile,
            disabled=disabled if disabled is not None else self.disabled,
            credentials_changed_at=(credentials_moved(self.credentials_changed_at, now_ms)
                                    if password_changed or disabling else self.credentials_changed_at),
        )


    def rebased(self, planned_from: User, current: User, now_ms: int) -> User:
        """This user, planned from `planned_from`, written over `current` (a change committed in
        between): its credentials time never goes back. Moved by the plan: moved again from the
        current one; else the current one's."""
        moved = self.credentials_changed_at != planned_from.credentials_changed_at
        return replace(self, credentials_changed_at=credentials_moved(current.credentials_changed_at, now_ms)
                       if moved else current.credentials_changed_at)

    def with_rehashed_password(self, password_hash: str) -> User:
        """The same password hashed with newer parameters: the credentials did not change."""
        return replace(self, password_hash=password_hash)


def credentials_moved(previous_ms: int, now_ms: int) -> int:
    """The credentials time after a change at `now_ms`: always later than the previous one, so that
    an auth replica whose clock is behind the last one's still revokes the tokens issued until then."""
    return max(now_ms, previous_ms + 1)


@dataclass(frozen=True)
class UserSpec:
    """A user as provisioning describes it: what should exist."""

    login: str
    password: str
    profile: Profile
    disabled: bool = False


def check_user_specs(specs: Sequence[UserSpec]) -> None:
    """InvalidUser listing every rule the users break, each at its path (("users", 3, "login"))."""
    violations: list[FieldViolation] = []
    first_at: dict[str, int] = {}
    for index, spec in enumerate(specs):
        for name, check, value in (("login", validate_login, spec.login),
                                   ("password", validate_password, spec.password)):
            try:
                check(value)
            except InvalidUser as error:
                violations.append(FieldViolation(("users", index, name), error.message))
        violations += [FieldViolation(("users", index, name), message) for name, message in spec.profile.problems()]
        if spec.login in first_at:
            violations.append(FieldViolation(("users", index, "login"),
                                             f"duplicate login {spec.login!r} (also at index {first_at[spec.login]})"))
        first_at.setdefault(spec.login, index)
    if violations:
        raise InvalidUser.of_violations(violations)


@dataclass(frozen=True)
class IssuedToken:
    login: str
    token: str
    ttl: int
    expires: int


@dataclass(frozen=True)
class ClientInfo:
    address: str = ""
    software_type: str = ""
    application_type: str = ""


# --- domain events: what happened, published after the change is committed -------------------
@dataclass(frozen=True)
class LoginAttempted:
    login: str
    success: bool
    reason: str
    method: str
    client: ClientInfo
    user_id: str
    occurred_at: datetime
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class UserChanged:
    login: str
    user_id: str
    change: str  # "created", "updated", "deleted"
    occurred_at: datetime
    # The user's credentials time after the change (ms); verifiers refuse tokens issued before it.
    credentials_changed_at: int = 0
    disabled: bool = False
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


Event = LoginAttempted | UserChanged
