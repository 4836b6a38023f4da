"""Which users' older tokens are refused: the revocation set every token verifier keeps.

A user's "credentials changed" time moves when their password changes, when they are disabled and
when they are deleted (services/auth). Every token carries the value its user had when it was
issued (claim `credentials_changed_at`, in milliseconds); a token carrying less than the value a
verifier knows for its user was issued before the change, and is refused.

The comparison is between two values of auth's database, never between two clocks: replicas whose
clocks differ cannot turn a revoked token valid or a fresh one revoked (auth also keeps a user's
value increasing, whatever the clock of the replica that moves it).

A verifier learns the values from auth's `UserChanged` events (xuc/runtime/revocations.py) and
from auth's list of recent ones at start. It needs to remember a change only as long as a token
issued before it can live: `retention_seconds` (the token lifetime plus a margin), then the entry
is forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

FUTURE_SKEW_MS = 60_000  # clocks of auth replicas and verifiers may differ this much (as for `iat`)
PRUNE_EVERY = 1024  # entries added between two sweeps of the expired ones
# Kept beyond the token lifetime: the clocks of auth replicas and verifiers may differ this much,
# and a refresh by an auth replica that has not heard of a change yet is refused by its 5 s memory
# of the user (services/auth/service_layer/auth_service.py).
MARGIN_SECONDS = 120


def retention_for(token_ttl: int) -> float:
    """How long a revocation must be remembered in a deployment whose tokens live `token_ttl` s."""
    return token_ttl + MARGIN_SECONDS


class Revocations:
    def __init__(self, retention_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._retention_ms = int(retention_seconds * 1000)
        self._clock = clock
        self._changed_at: dict[str, int] = {}  # user id -> credentials changed at (ms since the epoch)
        self._added_since_prune = 0

    def __len__(self) -> int:
        return len(self._changed_at)

    def revoke(self, user_id: str, changed_at_ms: int) -> None:
        """Tokens of `user_id` carrying a credentials time before `changed_at_ms` are refused from
        now on. Idempotent, and order-insensitive: the latest value wins whatever arrives first."""
        now_ms = self._now_ms()
        if not user_id or changed_at_ms <= 0 or changed_at_ms < now_ms - self._retention_ms:
            return  # nothing to refuse: every token issued before it has expired
        # A time far ahead (a forged event, a clock far off) would refuse the user's next tokens
        # too: it counts as "now, give or take the clocks' skew", which still refuses every token
        # issued before it.
        changed_at_ms = min(changed_at_ms, now_ms + FUTURE_SKEW_MS)
        if changed_at_ms > self._changed_at.get(user_id, 0):
            self._changed_at[user_id] = changed_at_ms
            self._added_since_prune += 1
            if self._added_since_prune >= PRUNE_EVERY:
                self.prune()

    def revoke_all(self, entries: Iterable[tuple[str, int]]) -> None:
        for user_id, changed_at_ms in entries:
            self.revoke(user_id, changed_at_ms)

    def refuses(self, user_id: str, credentials_changed_at_ms: int) -> bool:
        """Whether a token of this user, issued when their credentials time was this, is revoked."""
        changed_at = self._changed_at.get(user_id)
        return changed_at is not None and credentials_changed_at_ms < changed_at

    def prune(self) -> None:
        """Forget the changes older than any token that could still be alive."""
        oldest = self._now_ms() - self._retention_ms
        self._changed_at = {user: at for user, at in self._changed_at.items() if at >= oldest}
        self._added_since_prune = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
