"""The signing key schedule: which key signs, which keys are published, when a new key is due.

Pure rules over the keys' dates (epoch seconds); no key material, no storage. Every auth replica
reads the same rows from the database and applies these rules with its own clock, so they agree
without talking to each other:

- Keys are numbered by `generation` (1, 2, ...). The database keeps one row per generation
  (unique), so two replicas that decide at the same moment to create generation n+1 cannot both
  succeed: the loser reloads and uses the winner's key.
- A new key is created `prepublication` seconds before it signs (`active_from`): it is published
  at once, so verifiers that refresh their key list at least that often know it before they see
  a token it signed. The first key of a deployment signs at once (no verifier knows any key yet).
- The signing key is the newest key whose `active_from` has come. A key is due for a successor
  when it has signed for `rotation_age - prepublication`, so that each key signs for
  `rotation_age`.
- When its successor is created, a key gets `retired_at` = the successor's `active_from`: it signs
  nothing after that. It stays published until every token it signed has expired (`token_ttl`),
  plus `grace` (replicas that reload late, clocks a little apart), then it is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class KeyPeriod:
    """One signing key's place in the schedule (its kid, not its material)."""

    kid: str
    generation: int
    created_at: float
    active_from: float
    retired_at: float | None = None


@dataclass(frozen=True)
class NewKeyPlan:
    """A key to create: its generation and dates, and the keys it retires (kid -> retired_at)."""

    generation: int
    created_at: float
    active_from: float
    retires: tuple[str, ...]

    def period(self, kid: str) -> KeyPeriod:
        return KeyPeriod(kid, self.generation, self.created_at, self.active_from)


@dataclass(frozen=True)
class KeySchedule:
    """The policy. `rotation_age` 0 turns automatic rotation off (a forced rotation still works)."""

    rotation_age: float
    prepublication: float
    token_ttl: float
    grace: float

    def __post_init__(self) -> None:
        if self.rotation_age and self.rotation_age <= self.prepublication:
            raise ValueError("the rotation age must be longer than the pre-publication period")
        if min(self.rotation_age, self.prepublication, self.token_ttl, self.grace) < 0:
            raise ValueError("the durations of a key schedule cannot be negative")

    # --- reading the schedule ---------------------------------------------------------------------
    @staticmethod
    def signing(keys: Iterable[KeyPeriod], now: float) -> KeyPeriod | None:
        """The key that signs at `now`: the newest whose time has come.

        If none has (a replica whose clock is behind the one that created the first key), the
        oldest key: signing a little early with the deployment's only key beats refusing logins.
        """
        ordered = sorted(keys, key=lambda key: key.generation)
        active = [key for key in ordered if key.active_from <= now]
        if active:
            return active[-1]
        return ordered[0] if ordered else None

    def published(self, keys: Iterable[KeyPeriod], now: float) -> list[KeyPeriod]:
        """The keys verifiers must accept at `now`: every key, except those whose last token expired."""
        return sorted((key for key in keys if not self._dropped(key, now)), key=lambda key: key.generation)

    def droppable(self, keys: Iterable[KeyPeriod], now: float) -> list[KeyPeriod]:
        """Retired keys no token still alive was signed with: they can be deleted."""
        return [key for key in keys if self._dropped(key, now)]

    def _dropped(self, key: KeyPeriod, now: float) -> bool:
        return key.retired_at is not None and now >= key.retired_at + self.token_ttl + self.grace

    def pending(self, keys: Iterable[KeyPeriod], now: float) -> KeyPeriod | None:
        """A published key that does not sign yet (a rotation under way), if any."""
        waiting = [key for key in keys if key.active_from > now]
        current = self.signing(keys, now)
        waiting = [key for key in waiting if current is None or key.generation > current.generation]
        return max(waiting, key=lambda key: key.generation) if waiting else None

    def successor_due_at(self, keys: Sequence[KeyPeriod], now: float) -> float | None:
        """When the next key should be created (None: automatic rotation is off, or one is pending)."""
        current = self.signing(keys, now)
        if current is None or not self.rotation_age or self.pending(keys, now) is not None:
            return None
        return current.active_from + self.rotation_age - self.prepublication

    # --- deciding ---------------------------------------------------------------------------------
    def plan(self, keys: Sequence[KeyPeriod], now: float, *, force: bool = False) -> NewKeyPlan | None:
        """The key to create at `now`, or None when the schedule needs none.

        No key at all: the first one, signing at once. Otherwise a successor, published now and
        signing after the pre-publication period, when the current key is old enough (or `force`)
        and no successor is already pending.
        """
        if not keys:
            return NewKeyPlan(generation=1, created_at=now, active_from=now, retires=())
        if self.pending(keys, now) is not None:
            return None
        due = self.successor_due_at(keys, now)
        if not force and (due is None or now < due):
            return None
        newest = max(key.generation for key in keys)
        retires = tuple(key.kid for key in keys if key.retired_at is None)
        return NewKeyPlan(generation=newest + 1, created_at=now, active_from=now + self.prepublication,
                          retires=retires)
