"""Who a component is on NATS: its user, password and inbox prefix.

Credentials come from the file XUC_NATS_CREDENTIALS names (`xuc up` writes one per data directory:
`nats-credentials.json`), where each component takes the entry of its name:

    {"auth": {"user": "auth", "password": "..."}, "contacts": {...}, "telephony": {...},
     "gateway": {...}, "subscriber": {...}}

or from the URL (`nats://user:password@host:4222`: the same user for every component given it);
or nowhere (a server without authorization). A user's replies (requests, JetStream acks, ordered
consumers' deliveries) arrive under an inbox prefix of its own, `_INBOX_<user>`, which the server
lets that user alone subscribe to: one component cannot read another's replies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from xuc.runtime.settings import Settings, SettingsError

# A user name becomes a subject token (its inbox prefix): no dots, wildcards or spaces.
USER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class NatsLogin:
    user: str
    password: str = field(default="", repr=False)  # "" when the URL carries it

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX_{self.user}"


def inbox_prefix(user: str) -> str:
    return NatsLogin(user).inbox_prefix


def read_credentials(path: Path) -> dict[str, NatsLogin]:
    """Every entry of a credentials file, by component; SettingsError naming the file if it is unusable."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"the NATS credentials file {path} does not exist") from None
    except PermissionError:
        raise SettingsError(f"the NATS credentials file {path} is not readable by this user") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"the NATS credentials file {path} is not a JSON credentials file ({error})") from None
    if not isinstance(content, dict):
        raise SettingsError(f"the NATS credentials file {path} must hold an object of components")
    logins: dict[str, NatsLogin] = {}
    for component, entry in content.items():
        user = entry.get("user") if isinstance(entry, dict) else None
        password = entry.get("password") if isinstance(entry, dict) else None
        if not isinstance(user, str) or not USER_NAME.fullmatch(user) or not isinstance(password, str) \
                or not password:
            raise SettingsError(f"the NATS credentials file {path}: {component!r} must be "
                                '{"user": <letters, digits, - or _>, "password": <not empty>}')
        logins[str(component)] = NatsLogin(user, password)
    return logins


def url_user(url: str) -> str:
    """The user named in the first server URL of a comma list that names one ("" if none)."""
    for server in url.split(","):
        parts = urlsplit(server.strip() if "://" in server else f"nats://{server.strip()}")
        if parts.username:
            return parts.username
    return ""


def login_for(settings: Settings, component: str) -> NatsLogin | None:
    """The component's credentials: its entry of XUC_NATS_CREDENTIALS, else the URL's user (whose
    password stays in the URL), else None (connect without)."""
    if settings.nats_credentials is not None:
        logins = read_credentials(settings.nats_credentials)
        if component not in logins:
            raise SettingsError(f"the NATS credentials file {settings.nats_credentials} (XUC_NATS_CREDENTIALS) has "
                                f"no entry for {component!r}")
        return logins[component]
    user = url_user(settings.nats_url)
    if not user:
        return None
    if not USER_NAME.fullmatch(user):
        raise SettingsError("the user in XUC_NATS_URL must be letters, digits, - or _ (it names its inbox prefix)")
    return NatsLogin(user)


def without_credentials(url: str) -> str:
    """A URL list fit for logs and the terminal: each server's user and password left out."""
    shown = []
    for server in url.split(","):
        scheme, separator, rest = server.strip().rpartition("://")
        shown.append(f"{scheme}{separator}{rest.rpartition('@')[2]}")
    return ",".join(shown)
