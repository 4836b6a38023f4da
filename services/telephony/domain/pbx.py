"""The PBX port: what the telephony service asks of a PBX, and the events a PBX reports.

Two adapters implement it: the built-in simulator (adapters/simulator.py) and the Asterisk
Manager Interface client (adapters/ami/). Both report the same events, so phone status, history,
push and the event URL work the same whichever PBX is behind.

Vocabulary: a *line* is a user's phone number (e.g. "1001"). A *channel* is one line's leg of a
call, named by an Asterisk-style `unique_id` ("1447670380.34"); every channel of one call shares
the `linked_id` (the unique id of the call's first channel).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class ChannelState(Enum):
    """One line's side of a call, as the phone events name it."""

    DIALING = "EventDialing"  # this line calls out and the other side rings
    RINGING = "EventRinging"  # this line rings
    ESTABLISHED = "EventEstablished"
    ON_HOLD = "EventOnHold"
    RELEASED = "EventReleased"


class AgentStatus(Enum):
    LOGGED_OUT = "LoggedOut"
    READY = "Ready"
    PAUSED = "Paused"


class ForwardKind(Enum):
    UNCONDITIONAL = "unconditional"
    NO_ANSWER = "no_answer"
    BUSY = "busy"


@dataclass(frozen=True)
class ChannelEvent:
    """A channel of a line changed state. Only channels of known lines are reported as such; an
    external party appears as the `other_number` of a line's channel."""

    number: str  # the line (the phone event's DN)
    other_number: str  # the other party (otherDN); empty when not known yet
    state: ChannelState
    unique_id: str
    linked_id: str
    user_data: Mapping[str, str] = field(default_factory=dict)
    other_name: str = ""  # the other party's caller id name when known (for push)
    # The calling side of its call. A click-to-call rings the caller's own line first: that
    # ringing is not an incoming call from the number about to be dialled. (A property of the
    # channel rather than of the change: left out of event equality.)
    is_caller: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class LineAvailability:
    """The PBX says whether a line can take calls (e.g. AMI ExtensionStatus: unregistered -> 4)."""

    number: str
    available: bool


@dataclass(frozen=True)
class AgentEvent:
    """An agent's state changed on the PBX (login, logout, pause, unpause)."""

    agent_number: str
    phone_number: str  # empty when logged out
    status: AgentStatus


@dataclass(frozen=True)
class ConnectionChanged:
    """The PBX connection went up or down. After an "up", the adapter has resent what it knows of
    the lines and agents (LineAvailability/AgentEvent), so the service can resynchronise."""

    connected: bool
    detail: str


PbxEvent = ChannelEvent | LineAvailability | AgentEvent | ConnectionChanged
EventSink = Callable[[PbxEvent], Awaitable[None]]


@dataclass(frozen=True)
class Originate:
    """Place a call: ring `source` first (a line; or, for a queue call, the queue's number), then
    connect it to `destination` (already sanitised)."""

    source: str
    destination: str
    caller_id_name: str = ""
    caller_id_number: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    from_queue: bool = False  # source is a queue number: no line of the source rings first
    # source is a number outside the PBX (a user's mobile): it rings first, as an external party
    # (no line, no channel of ours), then the destination is dialled
    external_source: bool = False


@dataclass(frozen=True)
class CallIds:
    unique_id: str
    linked_id: str


@dataclass(frozen=True)
class PbxConnection:
    kind: str  # "sim" or "ami"
    connected: bool
    detail: str


@dataclass(frozen=True)
class AgentLine:
    """An agent and the queues it belongs to, for the PBX's queue membership commands."""

    agent_number: str
    phone_number: str
    queue_names: Sequence[str]


class Pbx(Protocol):
    """Every command raises PbxUnreachable when the PBX cannot be reached (nothing is queued)."""

    async def start(self, on_event: EventSink) -> None:
        """Begin reporting events to `on_event` (one at a time, in the PBX's order). Returns at
        once: an adapter that connects keeps (re)connecting in the background."""

    async def close(self) -> None: ...

    def connection(self) -> PbxConnection: ...

    async def set_lines(self, numbers: Collection[str]) -> None:
        """The line numbers the system knows (provisioned users' lines). Called at start and on
        every change; the simulator rings only these, the AMI adapter filters events with them."""

    async def originate(self, call: Originate) -> CallIds: ...

    async def set_dnd(self, number: str, enabled: bool) -> None: ...

    async def set_forward(self, number: str, kind: ForwardKind, enabled: bool, destination: str) -> None: ...

    async def agent_login(self, agent: AgentLine) -> None: ...

    async def agent_logout(self, agent: AgentLine) -> None: ...

    async def agent_pause(self, agent: AgentLine, paused: bool) -> None: ...

    # --- call control: the service chose the line's channel (by its unique id) from the phone
    # events; CallNotFound when the PBX no longer knows it, NotSupportedByPbx for what the PBX
    # cannot do (Asterisk's AMI cannot answer or hold a SIP phone's call).

    async def answer_channel(self, number: str, unique_id: str) -> None:
        """The line picks up its ringing channel."""

    async def hold_channel(self, number: str, unique_id: str, on_hold: bool) -> None:
        """Put the line's established channel on hold (`on_hold`), or resume it."""

    async def hangup_channel(self, number: str, unique_id: str) -> None:
        """Hang up the line's channel (the call ends for a two-party call)."""

    async def send_dtmf(self, number: str, unique_id: str, key: str) -> None:
        """The line's established channel sends one DTMF key (already checked: 0-9, *, #, A-D), as
        if pressed on the phone: the other party hears it."""

    async def direct_transfer(self, number: str, unique_id: str, destination: str) -> None:
        """The other party of the line's channel is put through to `destination` (sanitised); the
        line leaves the call."""

    async def attended_transfer(self, number: str, unique_id: str, destination: str) -> None:
        """The line holds the call of its channel and calls `destination`; one per line at a time."""

    async def complete_transfer(self, number: str) -> CallIds:
        """The line's attended transfer: the held party and the destination are put through, the
        line leaves both calls. The ids of the line's channel in the transferred call.
        TransferNotFound when the line has none."""

    async def cancel_transfer(self, number: str) -> CallIds:
        """The line's attended transfer: the call to the destination ends, the held call resumes."""

    async def set_call_data(self, number: str, unique_id: str, variables: Mapping[str, str]) -> None:
        """Attach `variables` (already checked) to the call of the line's channel: every later
        channel event of the call, of every party, carries them in its user data."""
