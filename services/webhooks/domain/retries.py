"""What an answer of the event URL means, and when to try again: the back-off schedule.

A 2xx delivers. A timeout, a connection error, a 5xx (or 408/429, "try again later") is retried
with exponential back-off up to `max_attempts`; another 3xx/4xx is final. An event that cannot be
delivered is set aside as a dead letter, with its cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Answers that mean "try again later" although they are 4xx.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
MAX_CRASHES = 3  # unexpected errors (bugs) on one event before it is set aside
DeadLetterCause = Literal["attempts", "refused", "backlog", "invalid", "error"]
DEAD_LETTER_CAUSES: tuple[DeadLetterCause, ...] = ("attempts", "refused", "backlog", "invalid", "error")
OutcomeKind = Literal["delivered", "retry", "final", "stopped"]


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `error` says why it did not deliver."""

    kind: OutcomeKind
    error: str = ""


DELIVERED = Outcome("delivered")
STOPPED = Outcome("stopped")


def outcome_of_status(status: int) -> Outcome:
    """The outcome of an HTTP answer."""
    if 200 <= status < 300:
        return DELIVERED
    if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        return Outcome("retry", f"HTTP {status}")
    return Outcome("final", f"HTTP {status}")


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): doubling from `initial`,
    capped at `maximum`, less up to a quarter (`jitter` in [0, 1)) so that lanes failing together
    do not all come back at the same instant."""
    base = min(maximum, initial * 2.0 ** min(attempt - 1, 32))
    return base * (1.0 - 0.25 * jitter)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.initial_backoff_seconds, self.max_backoff_seconds) <= 0:
            raise ValueError("the back-off must be positive")

    def gives_up(self, outcome: Outcome, attempt: int) -> DeadLetterCause | None:
        """After failed attempt number `attempt`: the cause to set the event aside for, or None to retry."""
        if outcome.kind == "final":
            return "refused"
        if attempt >= self.max_attempts:
            return "attempts"
        return None

    def delay(self, attempt: int, jitter: float) -> float:
        return backoff_delay(attempt, self.initial_backoff_seconds, self.max_backoff_seconds, jitter)
