"""One lane per user: a user's events are delivered one after the other, in stream order, while
the lanes of different users run side by side (a receiver failing for one user holds back no
other). A user whose backlog is full gets their newer events set aside at once: every held event
counts against the consumer's `max_ack_pending`, shared by every user."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UserLanes(Generic[T]):
    """The events waiting per user, oldest first; the first of a lane is the one being delivered."""

    def __init__(self, max_backlog: int) -> None:
        if max_backlog < 1:
            raise ValueError("max_user_backlog must be at least 1")
        self._max_backlog = max_backlog
        self._lanes: dict[str, deque[T]] = {}

    def backlog(self, username: str) -> int:
        return len(self._lanes.get(username, ()))

    def is_full(self, username: str) -> bool:
        """Past this, the user's new events are set aside (cause `backlog`), not queued."""
        return self.backlog(username) >= self._max_backlog

    def push(self, username: str, item: T) -> bool:
        """Queue `item` behind the user's others; True when it opens the lane (start its runner)."""
        lane = self._lanes.get(username)
        opened = lane is None
        if lane is None:
            lane = self._lanes[username] = deque()
        lane.append(item)
        return opened

    def head(self, username: str) -> T | None:
        lane = self._lanes.get(username)
        return lane[0] if lane else None

    def pop(self, username: str) -> None:
        """The head is decided: the next one moves up; an empty lane is closed."""
        lane = self._lanes.get(username)
        if lane:
            lane.popleft()
        if not lane:
            self._lanes.pop(username, None)

    def __len__(self) -> int:
        """Open lanes: users with events waiting."""
        return len(self._lanes)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._lanes))

    def clear(self) -> None:
        self._lanes.clear()
