"""The telephony service's own data: users' lines (a copy of auth's), user services, agents and
queues, push registrations; and the events the service publishes."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from services.telephony.domain.errors import InvalidQueues, InvalidRequest
from services.telephony.domain.pbx import AgentStatus, ChannelEvent, ForwardKind
from services.telephony.domain.presence import UserStatus
from xuc.errors import FieldViolation, Path

MAX_DESTINATION = 40
MAX_PUSH_TOKEN = 4096
_DESTINATION = re.compile(r"\+?[0-9*#]+")


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class UserLine:
    """A provisioned user and the line they use (auth service's data, copied)."""

    login: str
    number: str  # empty: the user has no line
    firstname: str = ""
    lastname: str = ""
    user_id: str = ""
    mobile: str = ""  # the user's mobile number as auth has it ("" when none): dial from mobile

    @property
    def name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip() or self.login


@dataclass(frozen=True)
class Forward:
    enabled: bool = False
    destination: str = ""


@dataclass(frozen=True)
class UserServices:
    login: str
    dnd: bool = False
    unconditional: Forward = Forward()
    no_answer: Forward = Forward()
    busy: Forward = Forward()

    def with_forward(self, kind: ForwardKind, forward: Forward) -> UserServices:
        if kind is ForwardKind.UNCONDITIONAL:
            return replace(self, unconditional=forward)
        if kind is ForwardKind.NO_ANSWER:
            return replace(self, no_answer=forward)
        return replace(self, busy=forward)


def checked_forward(enabled: bool, destination: str) -> Forward:
    """A forward to store: an enabled forward needs a dialable destination."""
    destination = destination.strip()
    if len(destination) > MAX_DESTINATION or (destination and not _DESTINATION.fullmatch(destination)):
        raise InvalidRequest(f"the forward destination {destination[:MAX_DESTINATION]!r} is not a phone number")
    if enabled and not destination:
        raise InvalidRequest("an enabled forward needs a destination")
    return Forward(enabled, destination)


@dataclass(frozen=True)
class Agent:
    number: str
    login: str


@dataclass(frozen=True)
class Queue:
    id: int
    name: str
    number: str
    agents: tuple[str, ...] = ()  # agent numbers


MAX_QUEUE_NAME = 128
MAX_QUEUE_ID = 2**63 - 1  # a signed 64-bit integer, as stored


def _number_problem(number: str, what: str) -> str | None:
    if not number:
        return f"{what} is required"
    if len(number) > MAX_DESTINATION or not _DESTINATION.fullmatch(number):
        return (f"{what} must be a phone number: at most {MAX_DESTINATION} digits, * or #, with an optional "
                f"leading +, got {number[:MAX_DESTINATION]!r}")
    return None


def check_agents_and_queues(agents: list[Agent], queues: list[Queue]) -> None:
    """InvalidQueues listing every rule the agents and queues break, each at its path
    (("agents", 0, "number"), ("queues", 1, "agents", 0)): numbers, names, ids, duplicates, and
    queue members that are not agents."""
    found: list[tuple[Path, str | None]] = []
    agent_at: dict[str, int] = {}
    for index, agent in enumerate(agents):
        at = ("agents", index)
        found.append(((*at, "number"), _number_problem(agent.number, "an agent number")))
        if agent.number in agent_at:
            found.append(((*at, "number"),
                          f"duplicate agent number {agent.number!r} (also at index {agent_at[agent.number]})"))
        agent_at.setdefault(agent.number, index)
        found.append(((*at, "login"), None if agent.login else "an agent needs a user"))
    queue_at: dict[int, int] = {}
    for index, queue in enumerate(queues):
        at = ("queues", index)
        if not 1 <= queue.id <= MAX_QUEUE_ID:
            found.append(((*at, "id"), f"a queue id must be positive, got {queue.id}"))
        elif queue.id in queue_at:
            found.append(((*at, "id"), f"duplicate queue id {queue.id} (also at index {queue_at[queue.id]})"))
        queue_at.setdefault(queue.id, index)
        if not 1 <= len(queue.name) <= MAX_QUEUE_NAME:
            found.append(((*at, "name"), f"a queue name must be 1 to {MAX_QUEUE_NAME} characters"))
        found.append(((*at, "number"), _number_problem(queue.number, "a queue number")))
        found += [((*at, "agents", position), f"unknown agent {member!r}: not among the agents")
                  for position, member in enumerate(queue.agents) if member not in agent_at]
    violations = [FieldViolation(path, message) for path, message in found if message is not None]
    if violations:
        raise InvalidQueues.of_violations(violations)


class PushPlatform(Enum):
    ANDROID = "android"
    IOS = "ios"


@dataclass(frozen=True)
class AgentState:
    agent: Agent
    status: AgentStatus = AgentStatus.LOGGED_OUT
    phone_number: str = ""
    queue_ids: tuple[int, ...] = ()


# --- events (published on NATS after the change) ------------------------------------------------
@dataclass(frozen=True)
class PhoneEventOccurred:
    login: str
    channel: ChannelEvent
    occurred_at: datetime
    event_id: str = field(default_factory=new_event_id)
    direction: str = ""  # "Outgoing" or "Incoming" (domain/directions.py)


@dataclass(frozen=True)
class PhoneStatusChanged:
    login: str
    number: str
    status: int
    occurred_at: datetime
    handshake: bool = False
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class AgentStateChanged:
    state: AgentState
    occurred_at: datetime
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class UserServicesChanged:
    services: UserServices
    occurred_at: datetime
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class PushRequested:
    login: str
    platform: PushPlatform
    token: str
    caller_number: str
    caller_name: str
    unique_id: str
    linked_id: str
    occurred_at: datetime
    event_id: str = field(default_factory=new_event_id)


@dataclass(frozen=True)
class UserStatusChanged:
    """A presence status chosen (domain/presence.py), published on each choice, a repeat too:
    its actions were applied again."""

    login: str
    status: UserStatus
    occurred_at: datetime
    event_id: str = field(default_factory=new_event_id)


Event = (PhoneEventOccurred | PhoneStatusChanged | AgentStateChanged | UserServicesChanged | PushRequested
         | UserStatusChanged)
