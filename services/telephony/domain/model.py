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


def check_agents_and_queues(agents: list[Agent], queues: list[Queue]) -> None:
    """InvalidQueues for duplicates and for queue members that are not agents."""
    problems: list[str] = []
    numbers = [agent.number for agent in agents]
    problems += [f"duplicate agent {n!r}" for n in sorted({n for n in numbers if numbers.count(n) > 1})]
    ids = [queue.id for queue in queues]
    problems += [f"duplicate queue id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    problems += [f"queue {queue.id} lists unknown agent {member!r}"
                 for queue in queues for member in queue.agents if member not in numbers]
    problems += [f"agent {agent.number!r} has no user" for agent in agents if not agent.login]
    problems += [f"queue {queue.id} has no number" for queue in queues if not queue.number]
    if problems:
        raise InvalidQueues("; ".join(problems))


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


Event = PhoneEventOccurred | PhoneStatusChanged | AgentStateChanged | UserServicesChanged | PushRequested
