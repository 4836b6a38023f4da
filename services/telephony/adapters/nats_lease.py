"""The PBX lease in a JetStream key-value bucket (XUC_TELEPHONY_FAILOVER).

One key per PBX in the bucket `XUC_TELEPHONY_LEASE` (a file stream, one revision kept per key,
`max_age` = the lease TTL: the server drops a lease the TTL after its last write, by its own clock).
The value is the holder's id (`host:pid:random`, unique per process start). Acquiring is a
create (only if no live lease), renewing an update conditioned on the holder's last revision
(JetStream's expected-last-subject-sequence): once the lease expired or another instance took it,
the old holder's renewals fail, so it learns it must step down. A clean stop deletes the lease
(conditioned likewise): a standby takes over at its next attempt instead of waiting for the TTL.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from services.telephony.adapters.ami.adapter import parse_ami_url
from services.telephony.domain.ports import LeaseUnavailable

log = logging.getLogger(__name__)

BUCKET = "XUC_TELEPHONY_LEASE"
STREAM = f"KV_{BUCKET}"
# A duplicate window longer than max_age is refused by the server; ours needs none.
MAX_DUPLICATE_WINDOW_SECONDS = 120.0


def lease_key(pbx: str) -> str:
    """The key of a PBX's lease: `pbx-<host>-<port>` of its AMI URL, or `pbx-sim` (no secret in it)."""
    if pbx.startswith("ami://"):
        address = parse_ami_url(pbx)
        name = f"{address.host}-{address.port}"
    else:
        name = pbx
    return "pbx-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def open_bucket(js: JetStreamContext, ttl_seconds: float, replicas: int) -> KeyValue:
    """The lease bucket, created with this TTL and `replicas` copies (XUC_STREAM_REPLICAS, like our streams),
    or brought to it (the last instance started wins: give every instance the same
    XUC_TELEPHONY_LEASE_TTL_MS)."""
    try:
        info = await js.stream_info(STREAM)
    except NotFoundError:
        await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, ttl=ttl_seconds,
                                                 storage=StorageType.FILE, replicas=replicas,
                                                 description="xuc: the telephony instance driving each PBX"))
    else:
        config = info.config
        if config.max_age != ttl_seconds or config.num_replicas != replicas:
            config.max_age, config.num_replicas = ttl_seconds, replicas
            config.duplicate_window = min(ttl_seconds, MAX_DUPLICATE_WINDOW_SECONDS)
            await js.update_stream(config)
            log.info("lease bucket changed", extra={"ttl_s": ttl_seconds, "replicas": replicas})
    return await js.key_value(BUCKET)


class NatsPbxLease:
    def __init__(self, kv: KeyValue, key: str, holder_id: str) -> None:
        self._kv = kv
        self._key = key
        self._holder = holder_id
        self._value = holder_id.encode()

    @property
    def holder_id(self) -> str:
        return self._holder

    async def acquire(self) -> int | None:
        try:
            return int(await self._kv.create(self._key, self._value))
        except KeyWrongLastSequenceError:
            pass  # a live lease: whose?
        except KeyNotFoundError:
            return None  # expired between the create and its check: next time
        except nats.errors.Error as error:
            raise LeaseUnavailable(str(error) or type(error).__name__) from error
        try:
            entry = await self._kv.get(self._key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        except nats.errors.Error as error:
            raise LeaseUnavailable(str(error) or type(error).__name__) from error
        # Ours when a create we saw time out had in fact been written: adopt its revision.
        return int(entry.revision) if entry.value == self._value and entry.revision else None

    async def renew(self, revision: int) -> int | None:
        try:
            return int(await self._kv.update(self._key, self._value, last=revision))
        except KeyWrongLastSequenceError:
            return None
        except nats.errors.Error as error:
            raise LeaseUnavailable(str(error) or type(error).__name__) from error

    async def release(self, revision: int) -> None:
        try:
            await self._kv.delete(self._key, last=revision)
        except Exception as error:  # no longer ours, or NATS away: it expires anyway
            log.info("PBX lease not released: %s", error)

    async def holder(self) -> str:
        try:
            entry = await self._kv.get(self._key)
        except (KeyNotFoundError, KeyDeletedError):
            return ""
        except nats.errors.Error as error:
            raise LeaseUnavailable(str(error) or type(error).__name__) from error
        return (entry.value or b"").decode(errors="replace")
