"""Idempotent contact creation: the key a client sends, and the fingerprint of the request. Pure.

- A key is 1 to 128 printable ASCII characters (space to tilde), neither starting nor ending with
  a space (an HTTP header loses those); anything else is InvalidIdempotencyKey.
- Keys are scoped to the owner and live 24 h: within that time, the same owner sending the same
  key again gets the contact the first request created (not created again, no event), provided the
  request is the same: its fingerprint (the SHA-256 of the validated fields, `favorite` included)
  is equal. The same key with other fields is IdempotencyKeyReused.
- The answer to a retry is rebuilt from the request itself (same fingerprint, so the same validated
  fields) and the first contact's id: the first answer, even if the contact changed since.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from services.contacts.domain.contacts import ContactFields
from services.contacts.domain.errors import InvalidIdempotencyKey

IDEMPOTENCY_KEY_MAX_LENGTH = 128
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
_KEY = re.compile(rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{IDEMPOTENCY_KEY_MAX_LENGTH - 2}}}[\x21-\x7e])?")


def checked_idempotency_key(key: str) -> str:
    """The key, or InvalidIdempotencyKey."""
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey(
            f"An Idempotency-Key is 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters "
            "(no leading or trailing space)")
    return key


def creation_fingerprint(fields: ContactFields) -> str:
    """The fingerprint of a creation request, from its validated fields (64 hex digits)."""
    canonical = json.dumps([*fields.texts(), fields.favorite], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IdempotentCreation:
    """What a key made: the contact's id, the request's fingerprint, when (seconds since the epoch)."""

    contact_id: str
    fingerprint: str
    created_at: float
