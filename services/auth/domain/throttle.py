"""Failed-login throttling (a pure model): at most N failures per login and M per client address
in any sliding window; past that, attempts are refused before any password is checked, so that a
brute force costs the attacker, not the users (nor the server's CPU: no hash is computed).

The counters live in one process's memory: bounded (oldest keys dropped first), and lost at a
restart, which is acceptable for a limit measured in minutes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from xuc.errors import DomainError, ErrorKind


class TooManyAttempts(DomainError):
    reason = "TooManyAttempts"
    kind = ErrorKind.THROTTLED
    default_message = "Too many failed logins: try again later"


@dataclass(frozen=True)
class ThrottleLimits:
    per_login: int = 10
    per_address: int = 50
    window_seconds: float = 300.0
    max_keys: int = 100_000  # memory bound: the oldest keys are forgotten first


class LoginThrottle:
    def __init__(self, limits: ThrottleLimits = ThrottleLimits()) -> None:
        self._limits = limits
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, now: float, login: str = "", address: str = "") -> None:
        """TooManyAttempts if the login or the address has reached its limit in the window."""
        for key, limit in self._keys(login, address):
            if self._count(key, now) >= limit:
                wait = self._failures[key][0] + self._limits.window_seconds - now
                raise TooManyAttempts(f"Too many failed logins {self._what(key)}: try again in {max(1, round(wait))} s")

    def failed(self, now: float, login: str = "", address: str = "") -> None:
        for key, _ in self._keys(login, address):
            self._count(key, now)
            self._failures.setdefault(key, deque()).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._limits.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, login: str) -> None:
        """A successful login clears its own failures (not its address's: other users share it)."""
        self._failures.pop(f"login:{login}", None)

    def _keys(self, login: str, address: str) -> list[tuple[str, int]]:
        keys = []
        if login:
            keys.append((f"login:{login}", self._limits.per_login))
        if address:
            keys.append((f"address:{address}", self._limits.per_address))
        return keys

    def _count(self, key: str, now: float) -> int:
        failures = self._failures.get(key)
        if failures is None:
            return 0
        while failures and failures[0] <= now - self._limits.window_seconds:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0
        return len(failures)

    @staticmethod
    def _what(key: str) -> str:
        return "for this login" if key.startswith("login:") else "from this address"
