"""The report of a contacts import: the contacts it created, and its failed lines, of which only
the first MAX_FAILED_LISTED (by line) are kept, so that a file of bad lines cannot fill the memory.
Pure: no I/O."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

MAX_FAILED_LISTED = 1000  # failed lines an import report lists (the first, by line); the rest are counted


@dataclass(frozen=True, slots=True)
class CreatedContact:
    id: str
    lastname: str


@dataclass(frozen=True, slots=True, order=True)
class FailedLine:
    line: int
    errors: tuple[str, ...]


class FailedLines:
    """The failed lines of an import as they come (in any order): the first `limit` by line
    number are kept, the others only counted, so that a file of bad lines cannot fill the memory."""

    def __init__(self, limit: int = MAX_FAILED_LISTED) -> None:
        self._limit = limit
        self._kept: list[tuple[int, tuple[str, ...]]] = []  # a max-heap on the line: (-line, errors)
        self.count = 0

    def add(self, line: int, errors: tuple[str, ...]) -> None:
        self.count += 1
        if len(self._kept) < self._limit:
            heapq.heappush(self._kept, (-line, errors))
        elif self._kept and line < -self._kept[0][0]:
            heapq.heapreplace(self._kept, (-line, errors))

    def first(self) -> list[FailedLine]:
        """The kept lines, by line number."""
        return sorted(FailedLine(-negated, errors) for negated, errors in self._kept)


@dataclass
class ImportReport:
    """An import's report, or one part of it (a large report is answered in parts): `created` in
    file order, each part holding the next ones; `failed` (the first MAX_FAILED_LISTED failed
    lines by line number) and `failed_count` (all of them) are in the first part, empty after."""

    created: list[CreatedContact] = field(default_factory=list)
    failed: list[FailedLine] = field(default_factory=list)
    failed_count: int = 0
