"""NATS authorization: the users of the system, what each may do, and the server configuration.

One user per component, each allowed what its process does and nothing more (docs/events.md,
"NATS users and permissions"), and `subscriber`, read-only, for the operator's event subscribers:

- publish: only its own subjects (auth `xuc.auth.>`, contacts `xuc.contacts.>`, telephony
  `xuc.telephony.>` and its lease bucket, webhooks `xuc.webhook.>`; the gateway nothing); JetStream's API only for
  its own streams (info, create, update: never delete or purge) and consumers.
- follow the user changes (`xuc.auth.user.*`): every component does, through an ordered consumer
  created with the subject that names its filter (`$JS.API.CONSUMER.CREATE.XUC_AUTH.<name>.
  xuc.auth.user.*`: the server checks the filter against it). The forms without the filter, which
  would let a consumer read the login attempts, are allowed to auth only.
- subscribe: only its own inbox prefix (`_INBOX_<user>.>`: no one reads another's replies or
  deliveries), plus the contacts events for contacts (its cache), the webhook consumer's
  delivery subject for webhooks, and for the gateway the events its CTI sockets show (phone
  events and statuses, agent states, user services, presence, favorites, user changes). The
  subscriber keeps the default `_INBOX.>`, which no component uses, so that any client works
  with it unchanged.

`xuc up` writes `nats-credentials.json` (random passwords, once) and the server's configuration
(from it, at each start) in the data directory; `xuc nats-config` prints the authorization block
for a server the operator runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from xuc import subjects
from xuc.runtime.nats_credentials import NatsLogin, inbox_prefix, read_credentials

CREDENTIALS_FILE = "nats-credentials.json"
SERVER_CONFIG_FILE = "nats-server.conf"
COMPONENTS = ("auth", "contacts", "telephony", "gateway", "webhooks")
SUBSCRIBER = "subscriber"
USERS = (*COMPONENTS, SUBSCRIBER)
LEASE_BUCKET = "XUC_TELEPHONY_LEASE"  # services/telephony/adapters/nats_lease.py
# The variable that holds a user's password in deploy/nats.conf (compose.yaml).
PASSWORD_VARIABLE = "XUC_NATS_{}_PASSWORD"

_API = "$JS.API"
_WEBHOOK = f"{subjects.TELEPHONY_STREAM}.{subjects.WEBHOOK_CONSUMER}"


def _stream_owner(stream: str) -> list[str]:
    """Create a stream, bring it to our configuration, read its state: not delete, purge or edit messages."""
    return [f"{_API}.STREAM.{operation}.{stream}" for operation in ("INFO", "CREATE", "UPDATE")]


# Every component: find streams by subject, and follow the user changes (waiting for their stream).
_FOLLOW_USER_CHANGES = [
    f"{_API}.STREAM.NAMES",
    f"{_API}.STREAM.INFO.{subjects.AUTH_STREAM}",
    f"{_API}.CONSUMER.CREATE.{subjects.AUTH_STREAM}.*.{subjects.USER_CHANGED.all}",
    f"$JS.FC.{subjects.AUTH_STREAM}.>",  # an ordered consumer's flow control answers
]

_PUBLISH: dict[str, list[str]] = {
    "auth": ["xuc.auth.>", *_stream_owner(subjects.AUTH_STREAM),
             # Its own stream: consumers with any filter.
             f"{_API}.CONSUMER.CREATE.{subjects.AUTH_STREAM}", f"{_API}.CONSUMER.CREATE.{subjects.AUTH_STREAM}.>"],
    "contacts": ["xuc.contacts.>", *_stream_owner(subjects.CONTACTS_STREAM)],
    "telephony": ["xuc.telephony.>", *_stream_owner(subjects.TELEPHONY_STREAM),
                  # The failover lease: a key-value bucket (a stream) of its own.
                  *_stream_owner(f"KV_{LEASE_BUCKET}"), f"$KV.{LEASE_BUCKET}.>",
                  f"{_API}.DIRECT.GET.KV_{LEASE_BUCKET}", f"{_API}.DIRECT.GET.KV_{LEASE_BUCKET}.>",
                  f"{_API}.STREAM.MSG.GET.KV_{LEASE_BUCKET}"],
    # The gateway publishes nothing: it follows the user changes (below) like every component.
    "gateway": [],
    "webhooks": ["xuc.webhook.>", *_stream_owner(subjects.WEBHOOK_DEAD_STREAM),
                 # Its durable consumer of the phone events, and its acks.
                 f"{_API}.STREAM.INFO.{subjects.TELEPHONY_STREAM}",
                 f"{_API}.CONSUMER.INFO.{_WEBHOOK}", f"{_API}.CONSUMER.CREATE.{_WEBHOOK}", f"$JS.ACK.{_WEBHOOK}.>"],
    # Read-only: its own consumers on any stream (create, inspect, pull, ack, delete), the
    # streams' state and messages. No xuc.> subject; no stream is created, changed or purged.
    SUBSCRIBER: [f"{_API}.INFO", f"{_API}.STREAM.NAMES", f"{_API}.STREAM.LIST", f"{_API}.STREAM.INFO.*",
                 f"{_API}.STREAM.MSG.GET.*", f"{_API}.DIRECT.GET.*", f"{_API}.DIRECT.GET.*.>",
                 f"{_API}.CONSUMER.CREATE.*", f"{_API}.CONSUMER.CREATE.*.>", f"{_API}.CONSUMER.DURABLE.CREATE.*.*",
                 f"{_API}.CONSUMER.INFO.*.*", f"{_API}.CONSUMER.DELETE.*.*", f"{_API}.CONSUMER.MSG.NEXT.*.*",
                 "$JS.ACK.>", "$JS.FC.>"],
}
# The webhook consumer is the webhooks process's: no one else may take it over, empty it or ack for it.
# The create request without a name in its subject would update it if its body named it (the
# server takes the body's name then): on its stream, consumers are created with their name in
# the subject (durable, or named), which the server checks against the body.
_PUBLISH_DENIED = {SUBSCRIBER: [f"{_API}.CONSUMER.*.{_WEBHOOK}", f"{_API}.CONSUMER.*.{_WEBHOOK}.>",
                                f"{_API}.CONSUMER.DURABLE.CREATE.{_WEBHOOK}", f"{_API}.CONSUMER.MSG.NEXT.{_WEBHOOK}",
                                f"{_API}.CONSUMER.CREATE.{subjects.TELEPHONY_STREAM}", f"$JS.ACK.{_WEBHOOK}.>"]}
_SUBSCRIBE: dict[str, list[str]] = {
    "contacts": ["xuc.contacts.>"],  # the cache's eviction feed (core subscriptions)
    "webhooks": [subjects.webhook_deliver_subject()],
    # The CTI WebSocket's live events (core subscriptions, gateway/cti/hub.py): what a user's
    # sockets show. Not the push requests (they carry device tokens) nor the login attempts.
    "gateway": [subjects.PHONE_EVENT.all, subjects.PHONE_STATUS.all, subjects.AGENT_STATE.all,
                subjects.USER_SERVICES.all, subjects.USER_STATUS.all, subjects.FAVORITE_CHANGED.all,
                subjects.USER_CHANGED.all],
    SUBSCRIBER: ["xuc.>"],
}


def permissions(component: str, user: str) -> dict[str, Any]:
    """The permissions block of `component`'s user (named `user`)."""
    inbox = "_INBOX" if component == SUBSCRIBER else inbox_prefix(user)
    publish: dict[str, list[str]] = {"allow": list(_PUBLISH[component])}
    if component != SUBSCRIBER:
        publish["allow"] += _FOLLOW_USER_CHANGES
    if component in _PUBLISH_DENIED:
        publish["deny"] = list(_PUBLISH_DENIED[component])
    publish["allow"] = list(dict.fromkeys(publish["allow"]))  # auth's own rules include some common ones
    return {"publish": publish, "subscribe": {"allow": [*_SUBSCRIBE.get(component, []), f"{inbox}.>"]}}


def authorization(logins: dict[str, NatsLogin] | None = None) -> dict[str, Any]:
    """The server's `authorization` block for these credentials (by component); None: the password
    of each user taken from the environment variable PASSWORD_VARIABLE names (deploy/nats.conf)."""
    users = []
    for component in USERS:
        if logins is None:
            user, password = component, f"${PASSWORD_VARIABLE.format(component.upper())}"
        elif component in logins:
            user, password = logins[component].user, logins[component].password
        else:
            continue
        users.append({"user": user, "password": password, "permissions": permissions(component, user)})
    return {"users": users}


def render(block: dict[str, Any]) -> str:
    """A configuration block in the server's format (JSON is part of it); `$VARIABLE` references
    are left unquoted, so that the server reads them from its environment."""
    text = json.dumps(block, indent=2)
    for variable in (PASSWORD_VARIABLE.format(component.upper()) for component in USERS):
        text = text.replace(f'"${variable}"', f"${variable}")
    return text


def create_credentials(path: Path) -> bool:
    """A random password for each user, written once (0600, never overwritten: the components and
    the operator's subscribers hold them); a file written before a component existed (webhooks)
    gets that component's user added, the others kept. True if this call created the file."""
    logins = {component: {"user": component, "password": secrets.token_urlsafe(24)} for component in USERS}
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _add_missing_users(path, logins)
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(logins, file, indent=2)
        file.write("\n")
    return True


def _add_missing_users(path: Path, logins: dict[str, dict[str, str]]) -> None:
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return  # read_credentials says what is wrong with it, with the file's name
    if not isinstance(existing, dict) or all(component in existing for component in USERS):
        return
    completed = {**{component: logins[component] for component in USERS if component not in existing}, **existing}
    temporary = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(completed, file, indent=2)
        file.write("\n")
    temporary.replace(path)


def write_server_config(path: Path, credentials: Path, store_dir: Path, ports_file_dir: Path) -> None:
    """The configuration of the nats-server `xuc up` runs: loopback, a free port, JetStream, and
    the users of `credentials` (written again at each start, 0600: it holds the passwords)."""
    config = {
        "host": "127.0.0.1",
        "port": -1,  # any free port: the launcher reads it from the ports file
        "ports_file_dir": str(ports_file_dir),
        "jetstream": {"store_dir": str(store_dir)},
        "authorization": authorization(read_credentials(credentials)),
    }
    header = f"# Written by `xuc up` from {credentials.name} at each start: changes are lost.\n"
    temporary = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(header + render(config) + "\n")
    temporary.replace(path)
