"""Who talks to whom, by channel (pure): the other party's channel of each channel, which a direct
transfer redirects (AMI `Redirect`).

Two sources, the bridge winning: the other channel of a two-channel bridge (BridgeEnter/Leave:
after a pickup, a queue or a transfer, the bridge says who is really connected), else the other
side of the DialBegin that joined them (before the call is bridged). Every channel is followed,
not only the lines' (the other party is often a trunk or a Local channel); a Hangup forgets it.
"""

from __future__ import annotations


class Peers:
    def __init__(self) -> None:
        self._dialled: dict[str, str] = {}  # unique id -> the other side's channel name
        self._bridges: dict[str, dict[str, str]] = {}  # bridge id -> unique id -> channel name
        self._bridge_of: dict[str, str] = {}  # unique id -> bridge id

    def dialled(self, caller_id: str, caller_name: str, dest_id: str, dest_name: str) -> None:
        if caller_id and dest_id and caller_name and dest_name:
            self._dialled[caller_id], self._dialled[dest_id] = dest_name, caller_name

    def entered(self, bridge_id: str, unique_id: str, name: str) -> None:
        if bridge_id and unique_id:
            self.left(self._bridge_of.get(unique_id, ""), unique_id)
            self._bridges.setdefault(bridge_id, {})[unique_id] = name
            self._bridge_of[unique_id] = bridge_id

    def left(self, bridge_id: str, unique_id: str) -> None:
        members = self._bridges.get(bridge_id)
        if members is None:
            return
        members.pop(unique_id, None)
        if self._bridge_of.get(unique_id) == bridge_id:
            del self._bridge_of[unique_id]
        if not members:
            del self._bridges[bridge_id]

    def gone(self, unique_id: str) -> None:
        self.left(self._bridge_of.get(unique_id, ""), unique_id)
        self._dialled.pop(unique_id, None)

    def clear(self) -> None:
        self._dialled.clear()
        self._bridges.clear()
        self._bridge_of.clear()

    def of(self, unique_id: str) -> str:
        """The other party's channel name, "" when not known (or several others: a conference)."""
        bridge = self._bridges.get(self._bridge_of.get(unique_id, ""), {})
        others = [name for member, name in bridge.items() if member != unique_id]
        if len(others) == 1:
            return others[0]
        return "" if others else self._dialled.get(unique_id, "")
