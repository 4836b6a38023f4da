"""Builders of realistic Asterisk Manager Interface frames for tests (field sets from the Asterisk
13+ AMI event docs), and `encode`, which writes any frame as the wire does. The scripted AMI server
(tests/support/ami_server.py) pushes them; the translator's unit tests feed them directly.

    alice = Chan("PJSIP/1001-00000001", "1700000000.1", "1700000000.1", "1001", exten="1002", state=4)
    await server.push_events([newchannel(alice), dial_begin(alice, bob, "PJSIP/1002")])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

Headers = Sequence[tuple[str, str]]


def encode(headers: Headers | Mapping[str, str]) -> bytes:
    """Written independently of the code under test: `Key: Value` CRLF lines, an empty line."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


# -- realistic AMI events (Asterisk 13+ field sets)

STATE_NAMES = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


@dataclass(frozen=True)
class Chan:
    """A channel as AMI events describe it; `replace()` it to change its state or caller id."""

    name: str  # PJSIP/1001-00000001
    unique_id: str
    linked_id: str
    caller_num: str
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    exten: str = "s"
    context: str = "default"
    state: int = 0

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        return [(prefix + key, value) for key, value in [
            ("Channel", self.name), ("ChannelState", str(self.state)),
            ("ChannelStateDesc", STATE_NAMES.get(self.state, "Unknown")), ("CallerIDNum", self.caller_num),
            ("CallerIDName", self.caller_name), ("ConnectedLineNum", self.connected_num),
            ("ConnectedLineName", self.connected_name), ("Language", "en"), ("AccountCode", ""),
            ("Context", self.context), ("Exten", self.exten), ("Priority", "1"), ("Uniqueid", self.unique_id),
            ("Linkedid", self.linked_id),
        ]]

    def with_state(self, state: int) -> Chan:
        return replace(self, state=state)


def _event(name: str, *parts: Iterable[tuple[str, str]], privilege: str = "call,all") -> Headers:
    pairs = [("Event", name), ("Privilege", privilege)]
    for part in parts:
        pairs.extend(part)
    return pairs


def newchannel(chan: Chan) -> Headers:
    return _event("Newchannel", chan.fields())


def newstate(chan: Chan) -> Headers:
    return _event("Newstate", chan.fields())


def dial_begin(caller: Chan, dest: Chan, dial_string: str) -> Headers:
    return _event("DialBegin", caller.fields(), dest.fields("Dest"), [("DialString", dial_string)])


def dial_end(caller: Chan, dest: Chan, status: str = "ANSWER") -> Headers:
    return _event("DialEnd", caller.fields(), dest.fields("Dest"), [("DialStatus", status)])


def _bridge(bridge_id: str, channels: int) -> list[tuple[str, str]]:
    return [("BridgeUniqueid", bridge_id), ("BridgeType", "basic"), ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(channels)),
            ("BridgeVideoSourceMode", "none")]


def bridge_enter(chan: Chan, bridge_id: str, channels: int) -> Headers:
    return _event("BridgeEnter", _bridge(bridge_id, channels), chan.fields())


def bridge_leave(chan: Chan, bridge_id: str, channels: int) -> Headers:
    return _event("BridgeLeave", _bridge(bridge_id, channels), chan.fields())


def hold(chan: Chan) -> Headers:
    return _event("Hold", chan.fields(), [("MusicClass", "default")])


def unhold(chan: Chan) -> Headers:
    return _event("Unhold", chan.fields())


def hangup(chan: Chan, cause: int = 16, text: str = "Normal Clearing") -> Headers:
    return _event("Hangup", chan.fields(), [("Cause", str(cause)), ("Cause-txt", text)])


def extension_status(exten: str, status: int, text: str, context: str = "default") -> Headers:
    return _event("ExtensionStatus", [("Exten", exten), ("Context", context), ("Hint", f"PJSIP/{exten}"),
                                      ("Status", str(status)), ("StatusText", text)])


def _member(queue: str, agent: str, phone: str, paused: bool) -> list[tuple[str, str]]:
    return [("Queue", queue), ("MemberName", f"Agent/{agent}"), ("Interface", f"PJSIP/{phone}"),
            ("StateInterface", f"PJSIP/{phone}"), ("Membership", "dynamic"), ("Penalty", "0"),
            ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", "0"), ("LoginTime", "1700000000"),
            ("InCall", "0"), ("Status", "1"), ("Paused", "1" if paused else "0"), ("PausedReason", ""),
            ("Ringinuse", "0"), ("Wrapuptime", "0")]


def queue_member_added(queue: str, agent: str, phone: str, paused: bool = False) -> Headers:
    return _event("QueueMemberAdded", _member(queue, agent, phone, paused), privilege="agent,all")


def queue_member_removed(queue: str, agent: str, phone: str) -> Headers:
    return _event("QueueMemberRemoved", _member(queue, agent, phone, False), privilege="agent,all")


def queue_member_pause(queue: str, agent: str, phone: str, paused: bool) -> Headers:
    return _event("QueueMemberPause", _member(queue, agent, phone, paused), privilege="agent,all")


def queue_member(queue: str, agent: str, phone: str, paused: bool = False) -> Headers:
    """An item of the QueueStatus list (Name and Location instead of MemberName and Interface)."""
    return [("Event", "QueueMember"), ("Queue", queue), ("Name", f"Agent/{agent}"), ("Location", f"PJSIP/{phone}"),
            ("StateInterface", f"PJSIP/{phone}"), ("Membership", "dynamic"), ("Penalty", "0"),
            ("CallsTaken", "0"), ("LastCall", "0"), ("LastPause", "0"), ("InCall", "0"), ("Status", "1"),
            ("Paused", "1" if paused else "0"), ("PausedReason", "")]


def status_item(chan: Chan, bridge_id: str = "") -> Headers:
    """An item of the Status list: a channel still up."""
    return [("Event", "Status"), ("Privilege", "Call"), *chan.fields(), ("Type", "PJSIP"), ("DNID", ""),
            ("TimeToHangup", "0"), ("BridgeID", bridge_id), ("Application", "Dial"), ("Data", ""),
            ("Seconds", "12")]
