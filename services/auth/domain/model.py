"""Users and the rules their fields follow."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.auth.domain.errors import InvalidUser

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
        for name in ("firstname", "lastname"):
            value = getattr(self, name)
            if len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
                raise InvalidUser(f"{name} must be at most {MAX_NAME} printable characters")
        for name in ("line", "mobile"):
            value = getattr(self, name)
            if value and not PHONE_NUMBER.fullmatch(value):
                raise InvalidUser(f"{name} must be a phone number (digits, optional leading +), got {value!r}")
        return self


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

    def with_changes(self, password_hash: str | None = None, profile: Profile | None = None) -> User:
        return replace(
            self,
            password_hash=password_hash if password_hash is not None else self.password_hash,
            profile=profile if profile is not None else self.profile,
        )


@dataclass(frozen=True)
class UserSpec:
    """A user as provisioning describes it: what should exist."""

    login: str
    password: str
    profile: Profile


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
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


Event = LoginAttempted | UserChanged
