"""Presence: the statuses a user chooses (available, away, do not disturb...), their rules, and
what choosing one does (docs/telephony.md, "Presence").

The table of statuses is configuration (the `userStatuses:` section of `xuc provision`), with the
defaults below until it is first given. A user's current status is the name they chose last; a
user who never chose, or whose choice is no longer configured, has the first status of the table
(the one clients show for "nothing chosen": `available` by default).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from services.telephony.domain.errors import InvalidUserStatuses, UnknownUserStatus
from xuc.errors import FieldViolation, Path

MAX_NAME = 64
MAX_LONG_NAME = 128
MAX_PARAMETERS = 128
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")

ENABLE_DND = "enablednd"
AGENT_LOGOFF = "agentlogoff"
QUEUE_PAUSE_ALL = "queuepause_all"
QUEUE_UNPAUSE_ALL = "queueunpause_all"
KNOWN_ACTIONS = (ENABLE_DND, AGENT_LOGOFF, QUEUE_PAUSE_ALL, QUEUE_UNPAUSE_ALL)
# enablednd's parameters, as the original's configuration writes them: empty means "true".
_DND_PARAMETERS = {"": True, "true": True, "false": False}


class Effect(Enum):
    """What the service does for a chosen status, in the order of its actions."""

    DND_ON = "dnd_on"
    DND_OFF = "dnd_off"
    AGENT_LOGOUT = "agent_logout"  # each logged-in agent of the user
    AGENT_PAUSE = "agent_pause"  # each ready agent of the user
    AGENT_UNPAUSE = "agent_unpause"  # each paused agent of the user


@dataclass(frozen=True)
class StatusAction:
    name: str
    parameters: str = ""


@dataclass(frozen=True)
class UserStatus:
    name: str
    long_name: str
    color: str
    actions: tuple[StatusAction, ...] = ()

    def effects(self) -> list[Effect]:
        """What choosing this status does (the actions of a checked status are all known)."""
        found: list[Effect] = []
        for action in self.actions:
            if action.name == ENABLE_DND:
                found.append(Effect.DND_ON if _DND_PARAMETERS[action.parameters.strip().lower()] else Effect.DND_OFF)
            elif action.name == AGENT_LOGOFF:
                found.append(Effect.AGENT_LOGOUT)
            elif action.name == QUEUE_PAUSE_ALL:
                found.append(Effect.AGENT_PAUSE)
            elif action.name == QUEUE_UNPAUSE_ALL:
                found.append(Effect.AGENT_UNPAUSE)
        return found


# The statuses of a system never provisioned: the five of the original, in its colours. Choosing
# `available` turns DND off again and `donotdisturb` turns it on, so that presence and DND agree.
DEFAULT_STATUSES: tuple[UserStatus, ...] = (
    UserStatus("available", "Available", "#08FD20", (StatusAction(ENABLE_DND, "false"),)),
    UserStatus("away", "Away", "#FDE50A"),
    UserStatus("outtolunch", "Out to lunch", "#001AFF"),
    UserStatus("donotdisturb", "Do not disturb", "#FF032D", (StatusAction(ENABLE_DND, "true"),)),
    UserStatus("berightback", "Be right back", "#FFB545"),
)


def _action_problems(at: Path, action: StatusAction, seen: dict[str, int], index: int) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if action.name not in KNOWN_ACTIONS:
        found.append(((*at, "name"), f"unknown action {action.name[:MAX_NAME]!r} (known: {', '.join(KNOWN_ACTIONS)})"))
    elif action.name in seen:
        found.append(((*at, "name"), f"duplicate action {action.name!r} (also at index {seen[action.name]})"))
    seen.setdefault(action.name, index)
    if len(action.parameters) > MAX_PARAMETERS:
        found.append(((*at, "parameters"), f"parameters must be at most {MAX_PARAMETERS} characters"))
    elif action.name == ENABLE_DND and action.parameters.strip().lower() not in _DND_PARAMETERS:
        found.append(((*at, "parameters"), f"enablednd takes \"true\" (or nothing) or \"false\", "
                                           f"got {action.parameters!r}"))
    return found


def check_statuses(statuses: Sequence[UserStatus]) -> None:
    """InvalidUserStatuses listing every rule the statuses break, each at its path
    (("user_statuses", 2, "name"), ("user_statuses", 0, "actions", 1, "name")): at least one
    status; names of [A-Za-z0-9_-], unique; long names; colours "#RRGGBB"; known actions, once each."""
    found: list[tuple[Path, str]] = []
    if not statuses:
        found.append((("user_statuses",), "at least one status is needed (a user who never chose has the first)"))
    name_at: dict[str, int] = {}
    for index, status in enumerate(statuses):
        at: Path = ("user_statuses", index)
        if not 1 <= len(status.name) <= MAX_NAME or not _NAME.fullmatch(status.name):
            found.append(((*at, "name"), f"a status name must be 1 to {MAX_NAME} letters, digits, _ or -, "
                                         f"got {status.name[:MAX_NAME]!r}"))
        elif status.name in name_at:
            found.append(((*at, "name"), f"duplicate status {status.name!r} (also at index {name_at[status.name]})"))
        name_at.setdefault(status.name, index)
        if not 1 <= len(status.long_name) <= MAX_LONG_NAME:
            found.append(((*at, "long_name"), f"a long name must be 1 to {MAX_LONG_NAME} characters"))
        if not _COLOR.fullmatch(status.color):
            found.append(((*at, "color"), f"a colour must be written #RRGGBB (hexadecimal), got {status.color[:16]!r}"))
        seen: dict[str, int] = {}
        for position, action in enumerate(status.actions):
            found += _action_problems((*at, "actions", position), action, seen, position)
    if found:
        raise InvalidUserStatuses.of_violations([FieldViolation(path, message) for path, message in found])


@dataclass(frozen=True)
class StatusTable:
    """The configured statuses, in order (never empty: check_statuses refuses an empty list)."""

    statuses: tuple[UserStatus, ...] = DEFAULT_STATUSES

    @classmethod
    def of(cls, configured: Sequence[UserStatus]) -> StatusTable:
        """The table of what is stored: the defaults while nothing is."""
        return cls(tuple(configured)) if configured else cls()

    @property
    def first(self) -> UserStatus:
        return self.statuses[0]

    def find(self, name: str) -> UserStatus:
        for status in self.statuses:
            if status.name == name:
                return status
        known = ", ".join(status.name for status in self.statuses)
        raise UnknownUserStatus(f"No user status {name[:MAX_NAME]!r} (configured: {known})" if name
                                else "No status given")

    def current(self, chosen: str | None) -> UserStatus:
        """A user's status from their last choice (None: never chose): the first status when the
        choice is none or no longer configured."""
        for status in self.statuses:
            if status.name == chosen:
                return status
        return self.first

