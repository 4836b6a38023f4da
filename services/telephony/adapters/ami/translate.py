"""AMI events -> the Pbx port's events, pure (frames in, events out; no I/O, no clock).

AMI events are channel-scoped; the port speaks of *lines*. Only channels of known lines (the
numbers given to `set_lines`) are tracked and reported; the other party of a call (an external
number, a trunk, a queue) only appears as a line channel's `other_number`.

Which line a channel belongs to, in this order:
1. a channel we originated: AmiPbx sets its Uniqueid (Originate's ChannelId) and tells the
   translator which line it rings (`expect_channel`);
2. the dialled side of a DialBegin: the first known line among DestCallerIDNum, the number in the
   DialString (`PJSIP/1002`, `1002@trunk` -> 1002), DestExten and the DestChannel's endpoint
   (`PJSIP/1002-00000001` -> 1002); a line other than the caller's is preferred;
3. otherwise the channel's own CallerIDNum, when it is a known line (a phone calling out presents
   its own number), else its endpoint name (`PJSIP/1001-00000001` -> 1001) when that is a line.
`Local/` channels are dialplan plumbing and never a line's channel. A line channel guessed at
Newchannel is corrected by the DialBegin that dials it, before it reports anything.

States, reported once per change of a channel's state:
- the calling channel of a DialBegin -> DIALING (other_number: the dialled line, else the dialled
  extension, DestCallerIDNum or DialString number);
- the dialled channel of a DialBegin, or a line channel reaching Newstate 5 (Ringing) before any
  other state (the first leg of an Originate) -> RINGING (other_number: the calling line, else
  the caller's CallerIDNum; other_name: its CallerIDName);
- DialEnd with DialStatus ANSWER (both sides), or BridgeEnter -> ESTABLISHED;
- Hold -> ON_HOLD (the channel whose phone put the call on hold), Unhold -> ESTABLISHED;
- Hangup -> RELEASED (only for a channel that reported something). BridgeLeave says nothing by
  itself: a Hangup or a new bridge follows.
unique_id is the channel's Uniqueid, linked_id its Linkedid.

Lines: ExtensionStatus of a known line (Exten) -> LineAvailability, unavailable for Status 4
(unavailable), -1 (no such extension) and -2 (hint removed), available otherwise; reported on change.

Agents: queue members named `Agent/<number>` (MemberName, or Name in QueueStatus's QueueMember)
are our agents; members named otherwise are ignored. An agent is LOGGED_OUT with no membership,
PAUSED when paused in every queue it belongs to, READY otherwise; its phone is the number in the
member's Interface (`PJSIP/1002` -> 1002). Reported on change.

After a reconnection AmiPbx resynchronises: `connection_lost` forgets the channels (the service
forgets its calls too), `begin_resync` forgets what was reported of lines and agents so that the
answers to ExtensionStateList, QueueStatus and Status are reported afresh, and
`end_agent_resync` logs out the agents that were logged in before and are members no more.
Status items re-announce the calls still up (Ringing -> RINGING; Up in a bridge -> ESTABLISHED;
Ring, or Up outside a bridge -> DIALING).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from services.telephony.adapters.ami.frames import Frame
from services.telephony.adapters.ami.peers import Peers
from services.telephony.domain.pbx import (
    AgentEvent,
    AgentStatus,
    ChannelEvent,
    ChannelState,
    LineAvailability,
    PbxEvent,
)

RINGING_STATE = "5"  # AST_STATE_RINGING: the remote end (this phone) is ringing
UNAVAILABLE_EXTENSION_STATUSES = frozenset({"4", "-1", "-2"})
MAX_EXPECTED_CHANNELS = 1000
_NUMBER = re.compile(r"^\+?[0-9*#]+$")
_TRUE = frozenset({"1", "true", "yes", "on"})


def clean(value: str) -> str:
    """A caller id field without Asterisk's `<unknown>` placeholder."""
    value = value.strip()
    return "" if value.casefold() in ("<unknown>", "unknown") else value


def endpoint_of(channel: str) -> str:
    """`PJSIP/1001-00000001` -> `1001`; "" for Local channels and names without a technology."""
    technology, slash, rest = channel.partition("/")
    if not slash or technology.casefold() == "local":
        return ""
    return rest.rsplit("-", 1)[0] if "-" in rest else rest


def number_in(dial_string: str) -> str:
    """The number a dial string or a queue member interface points at: `PJSIP/1002` -> `1002`,
    `0611223344@trunk` -> `0611223344`, `Local/1002@default/n` -> `1002`, `sip:1002@host` -> `1002`."""
    target = dial_string.split("@", 1)[0].rsplit("/", 1)[-1]
    for scheme in ("sip:", "sips:", "tel:"):
        target = target.removeprefix(scheme)
    return target.strip()


def is_number(value: str) -> bool:
    return bool(_NUMBER.match(value))


@dataclass
class _Channel:
    unique_id: str
    linked_id: str
    line: str
    other_number: str = ""
    other_name: str = ""
    state: ChannelState | None = None  # the last one reported
    user_data: Mapping[str, str] = field(default_factory=dict)
    is_caller: bool = False  # a channel our Originate created: the calling side
    name: str = ""  # the Asterisk channel name (PJSIP/1001-00000001): what call control actions name

    def moved_to(self, state: ChannelState) -> list[PbxEvent]:
        if state is self.state:
            return []
        self.state = state
        return [ChannelEvent(self.line, self.other_number, state, self.unique_id, self.linked_id,
                             user_data=self.user_data, other_name=self.other_name, is_caller=self.is_caller)]


@dataclass(frozen=True)
class _Membership:
    phone: str
    paused: bool


class AmiTranslator:
    def __init__(self, lines: Collection[str] = ()) -> None:
        self._lines = frozenset(lines)
        self._channels: dict[str, _Channel] = {}
        # unique id -> (line, other number, call data) of the channels our Originates create
        self._expected: OrderedDict[str, tuple[str, str, Mapping[str, str]]] = OrderedDict()
        # linked id -> the data of a call we originated: every channel of the call carries it
        self._call_data: OrderedDict[str, Mapping[str, str]] = OrderedDict()
        self._availability: dict[str, bool] = {}
        self._members: dict[str, dict[str, _Membership]] = {}  # agent -> queue -> membership
        self._agents: dict[str, tuple[AgentStatus, str]] = {}  # agent -> last reported (status, phone)
        self._logged_in_before: set[str] = set()
        self.peers = Peers()  # the other party's channel of each channel (direct transfers)
        self._handlers: dict[str, Callable[[Frame], list[PbxEvent]]] = {
            "newchannel": self._newchannel, "newstate": self._newstate, "dialbegin": self._dial_begin,
            "dialend": self._dial_end, "bridgeenter": self._bridge_enter, "hold": self._hold,
            "unhold": self._unhold, "hangup": self._hangup, "bridgeleave": self._bridge_leave,
            "status": self._status,
            "extensionstatus": self._extension_status, "queuememberadded": self._member_update,
            "queuemember": self._member_update, "queuememberpause": self._member_update,
            "queuememberstatus": self._member_update, "queuememberremoved": self._member_removed,
        }

    def set_lines(self, lines: Collection[str]) -> None:
        self._lines = frozenset(lines)

    def expect_channel(self, unique_id: str, line: str, other_number: str,
                       user_data: Mapping[str, str] | None = None) -> None:
        """The channel with this Uniqueid (set by an Originate's ChannelId) is `line`'s; the
        events of every channel of its call carry `user_data` (the Originate's variables)."""
        self._expected[unique_id] = (line, other_number, dict(user_data or {}))
        while len(self._expected) > MAX_EXPECTED_CHANNELS:
            self._expected.popitem(last=False)

    def channel_name(self, line: str, unique_id: str) -> str:
        """The Asterisk name of the line's channel with this Uniqueid, "" when not known (ended,
        or never a channel of that line)."""
        channel = self._channels.get(unique_id)
        return channel.name if channel is not None and channel.line == line else ""

    def linked_id(self, unique_id: str) -> str:
        channel = self._channels.get(unique_id)
        return channel.linked_id if channel is not None else unique_id

    def add_call_data(self, unique_id: str, variables: Mapping[str, str]) -> None:
        """Variables set on the channel's call (Setvar): the later events of every channel of the
        call carry them, as an Originate's variables."""
        channel = self._channels.get(unique_id)
        if channel is None:
            return
        linked_id = channel.linked_id
        data = {**self._call_data.get(linked_id, {}), **variables}
        self._call_data[linked_id] = data
        while len(self._call_data) > MAX_EXPECTED_CHANNELS:
            self._call_data.popitem(last=False)
        for other in self._channels.values():
            if other.linked_id == linked_id:
                other.user_data = data

    def translate(self, frame: Frame) -> list[PbxEvent]:
        handler = self._handlers.get(frame.event.casefold())
        return handler(frame) if handler else []

    # -- resynchronisation

    def connection_lost(self) -> None:
        self._channels.clear()
        self._expected.clear()
        self._call_data.clear()
        self.peers.clear()

    def begin_resync(self) -> None:
        self._availability.clear()
        self._logged_in_before = {agent for agent, (status, _) in self._agents.items()
                                  if status is not AgentStatus.LOGGED_OUT}
        self._members.clear()
        self._agents.clear()

    def end_agent_resync(self) -> list[PbxEvent]:
        gone, self._logged_in_before = self._logged_in_before - set(self._members), set()
        return [event for agent in sorted(gone) for event in self._agent_changed(agent)]

    # -- channels

    def _line_of(self, caller_number: str, channel: str) -> str:
        if channel.casefold().startswith("local/"):
            return ""
        for candidate in (clean(caller_number), endpoint_of(channel)):
            if candidate in self._lines:
                return candidate
        return ""

    def _newchannel(self, frame: Frame) -> list[PbxEvent]:
        unique_id = frame.first("Uniqueid")
        expected = self._expected.pop(unique_id, None)  # a channel our Originate created: the caller's
        line, other, data = expected or ("", "", {})
        linked_id = frame.first("Linkedid") or unique_id
        if data:
            self._call_data[linked_id] = data
            while len(self._call_data) > MAX_EXPECTED_CHANNELS:
                self._call_data.popitem(last=False)
        line = line or self._line_of(frame.first("CallerIDNum"), frame.first("Channel"))
        if unique_id and line:
            self._channels[unique_id] = _Channel(unique_id, linked_id, line, other,
                                                 user_data=self._call_data.get(linked_id, {}),
                                                 is_caller=expected is not None, name=frame.first("Channel"))
        return []

    def _newstate(self, frame: Frame) -> list[PbxEvent]:
        channel = self._channels.get(frame.first("Uniqueid"))
        if channel is None or frame.first("ChannelState") != RINGING_STATE or channel.state is not None:
            return []
        channel.other_number = channel.other_number or clean(frame.first("ConnectedLineNum"))
        channel.other_name = channel.other_name or clean(frame.first("ConnectedLineName"))
        return channel.moved_to(ChannelState.RINGING)

    def _dial_begin(self, frame: Frame) -> list[PbxEvent]:
        caller_id = frame.first("Uniqueid")
        caller = self._channels.get(caller_id)
        caller_line = caller.line if caller else self._line_of(frame.first("CallerIDNum"), frame.first("Channel"))
        dest_line = self._dialled_line(frame, caller_line)
        events: list[PbxEvent] = []
        if caller_line and caller_id:
            if caller is None:
                caller = self._track(caller_id, frame.first("Linkedid"), caller_line, frame.first("Channel"))
            caller.other_number = caller.other_number or dest_line or self._dialled_number(frame)
            events += caller.moved_to(ChannelState.DIALING)
        dest_id, dest_channel_name = frame.first("DestUniqueid"), frame.first("DestChannel")
        self.peers.dialled(caller_id, frame.first("Channel"), dest_id, dest_channel_name)
        if dest_line and dest_id:
            dest = self._track(dest_id, frame.first("DestLinkedid"), dest_line, dest_channel_name)
            dest.other_number = caller_line or clean(frame.first("CallerIDNum"))
            dest.other_name = clean(frame.first("CallerIDName"))
            events += dest.moved_to(ChannelState.RINGING)
        elif dest_id in self._channels and self._channels[dest_id].state is None:
            del self._channels[dest_id]  # a guess at Newchannel, but the dialled party is no line
        return events

    def _track(self, unique_id: str, linked_id: str, line: str, name: str) -> _Channel:
        channel = self._channels.get(unique_id)
        if channel is None or (channel.state is None and channel.line != line):
            linked_id = linked_id or unique_id
            channel = self._channels[unique_id] = _Channel(unique_id, linked_id, line,
                                                           user_data=self._call_data.get(linked_id, {}))
        channel.name = name or channel.name
        return channel

    def _dialled_line(self, frame: Frame, caller_line: str) -> str:
        dest_channel = frame.first("DestChannel")
        if dest_channel.casefold().startswith("local/"):
            return ""
        candidates = [clean(frame.first("DestCallerIDNum")), number_in(frame.first("DialString")),
                      clean(frame.first("DestExten")), endpoint_of(dest_channel)]
        lines = [candidate for candidate in candidates if candidate in self._lines]
        others = [line for line in lines if line != caller_line]
        return (others or lines or [""])[0]

    @staticmethod
    def _dialled_number(frame: Frame) -> str:
        candidates = (clean(frame.first("Exten")), clean(frame.first("DestCallerIDNum")),
                      number_in(frame.first("DialString")))
        return next((candidate for candidate in candidates if is_number(candidate)), "")

    def _dial_end(self, frame: Frame) -> list[PbxEvent]:
        if frame.first("DialStatus").upper() != "ANSWER":
            return []
        return self._establish(frame.first("Uniqueid"), frame.first("DestUniqueid"))

    def _establish(self, *unique_ids: str) -> list[PbxEvent]:
        events: list[PbxEvent] = []
        for unique_id in unique_ids:
            channel = self._channels.get(unique_id)
            if channel is not None and channel.state is not ChannelState.ON_HOLD:
                events += channel.moved_to(ChannelState.ESTABLISHED)
        return events

    def _bridge_enter(self, frame: Frame) -> list[PbxEvent]:
        self.peers.entered(frame.first("BridgeUniqueid"), frame.first("Uniqueid"), frame.first("Channel"))
        channel = self._channels.get(frame.first("Uniqueid"))
        if channel is not None and not channel.other_number:
            channel.other_number = clean(frame.first("ConnectedLineNum"))
        return self._establish(frame.first("Uniqueid"))

    def _hold(self, frame: Frame) -> list[PbxEvent]:
        channel = self._channels.get(frame.first("Uniqueid"))
        if channel is None or channel.state is not ChannelState.ESTABLISHED:
            return []
        return channel.moved_to(ChannelState.ON_HOLD)

    def _unhold(self, frame: Frame) -> list[PbxEvent]:
        channel = self._channels.get(frame.first("Uniqueid"))
        if channel is None or channel.state is not ChannelState.ON_HOLD:
            return []
        return channel.moved_to(ChannelState.ESTABLISHED)

    def _bridge_leave(self, frame: Frame) -> list[PbxEvent]:
        self.peers.left(frame.first("BridgeUniqueid"), frame.first("Uniqueid"))
        return []  # says nothing of the state by itself: a Hangup or a new bridge follows

    def _hangup(self, frame: Frame) -> list[PbxEvent]:
        self.peers.gone(frame.first("Uniqueid"))
        channel = self._channels.pop(frame.first("Uniqueid"), None)
        if channel is not None and not any(other.linked_id == channel.linked_id for other in self._channels.values()):
            self._call_data.pop(channel.linked_id, None)  # the call's last channel of a line
        if channel is None or channel.state is None:
            return []
        return channel.moved_to(ChannelState.RELEASED)

    def _status(self, frame: Frame) -> list[PbxEvent]:
        """A channel still up after a reconnection (an item of the Status action's list)."""
        unique_id = frame.first("Uniqueid")
        line = self._line_of(frame.first("CallerIDNum"), frame.first("Channel"))
        if not unique_id or not line or unique_id in self._channels:
            return []
        channel = self._track(unique_id, frame.first("Linkedid"), line, frame.first("Channel"))
        channel.other_number = clean(frame.first("ConnectedLineNum"))
        channel.other_name = clean(frame.first("ConnectedLineName"))
        if frame.first("ChannelState") == RINGING_STATE:
            return channel.moved_to(ChannelState.RINGING)
        if frame.first("BridgeID"):
            return channel.moved_to(ChannelState.ESTABLISHED)
        return channel.moved_to(ChannelState.DIALING)

    # -- lines

    def _extension_status(self, frame: Frame) -> list[PbxEvent]:
        line = frame.first("Exten")
        if line not in self._lines:
            return []
        available = frame.first("Status").strip() not in UNAVAILABLE_EXTENSION_STATUSES
        if self._availability.get(line) is available:
            return []
        self._availability[line] = available
        return [LineAvailability(line, available)]

    # -- agents

    @staticmethod
    def _agent_of(frame: Frame) -> str:
        name = frame.first("MemberName") or frame.first("Name")
        prefix, slash, number = name.partition("/")
        return number if slash and prefix.casefold() == "agent" else ""

    def _member_update(self, frame: Frame) -> list[PbxEvent]:
        agent = self._agent_of(frame)
        if not agent:
            return []
        interface = frame.first("Interface") or frame.first("Location") or frame.first("StateInterface")
        paused = frame.first("Paused").strip().casefold() in _TRUE
        self._members.setdefault(agent, {})[frame.first("Queue")] = _Membership(number_in(interface), paused)
        return self._agent_changed(agent)

    def _member_removed(self, frame: Frame) -> list[PbxEvent]:
        agent = self._agent_of(frame)
        if not agent:
            return []
        queues = self._members.get(agent, {})
        queues.pop(frame.first("Queue"), None)
        if not queues:
            self._members.pop(agent, None)
        return self._agent_changed(agent)

    def _agent_changed(self, agent: str) -> list[PbxEvent]:
        state = self._agent_state(self._members.get(agent, {}).values())
        if self._agents.get(agent) == state:
            return []
        self._agents[agent] = state
        return [AgentEvent(agent, state[1], state[0])]

    @staticmethod
    def _agent_state(memberships: Iterable[_Membership]) -> tuple[AgentStatus, str]:
        members = list(memberships)
        if not members:
            return AgentStatus.LOGGED_OUT, ""
        paused = all(member.paused for member in members)
        return (AgentStatus.PAUSED if paused else AgentStatus.READY), members[-1].phone
