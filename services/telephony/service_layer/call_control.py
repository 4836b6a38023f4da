"""Call control on a user's line (the CTI socket's commands): the calls in progress, and answer,
hold, hang up, DTMF, transfers and call data of the user's current call or of the one named.

Which call a command acts on is decided here, once for both PBX adapters, from the phone events
already published (domain/current_calls.py); the adapter is then told the line's channel by its
unique id. The state changes themselves come back, as always, as the PBX's events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from services.telephony.domain.call_data import checked_call_data
from services.telephony.domain.current_calls import CallCommand, CurrentCalls, checked_dtmf_key
from services.telephony.domain.model import PhoneEventOccurred, UserLine
from services.telephony.domain.numbers import sanitize
from services.telephony.domain.pbx import CallIds, ChannelEvent, ChannelState
from services.telephony.service_layer.dependencies import Dependencies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acted:
    """The line's channel a command acted on (for hold: whether it was put on hold or resumed)."""

    channel: ChannelEvent
    on_hold: bool = False


class CallControlService:
    def __init__(self, deps: Dependencies, current_calls: CurrentCalls) -> None:
        self._pbx = deps.pbx
        self._directory = deps.directory
        self._current = current_calls

    def current_calls(self, login: str) -> list[PhoneEventOccurred]:
        """The latest phone event of each call in progress on the user's line, oldest call first."""
        return self._current.of_line(self._directory.with_line(login).number)

    async def answer(self, login: str, unique_id: str = "") -> Acted:
        user, channel = self._choose(login, CallCommand.ANSWER, unique_id)
        await self._pbx.answer_channel(user.number, channel.unique_id)
        return self._acted("answer", user, channel)

    async def hold(self, login: str, unique_id: str = "") -> Acted:
        """A toggle: an established call is put on hold, a call on hold is resumed."""
        user, channel = self._choose(login, CallCommand.HOLD, unique_id)
        on_hold = channel.state is ChannelState.ESTABLISHED
        await self._pbx.hold_channel(user.number, channel.unique_id, on_hold)
        return self._acted("hold" if on_hold else "resume", user, channel, on_hold)

    async def hangup(self, login: str, unique_id: str = "") -> Acted:
        user, channel = self._choose(login, CallCommand.HANGUP, unique_id)
        await self._pbx.hangup_channel(user.number, channel.unique_id)
        return self._acted("hangup", user, channel)

    async def send_dtmf(self, login: str, key: str, unique_id: str = "") -> Acted:
        key = checked_dtmf_key(key)
        user, channel = self._choose(login, CallCommand.DTMF, unique_id)
        await self._pbx.send_dtmf(user.number, channel.unique_id, key)
        return self._acted("dtmf", user, channel)

    async def direct_transfer(self, login: str, destination: str, unique_id: str = "") -> Acted:
        number = sanitize(destination)  # as Dial's: InvalidNumber
        user, channel = self._choose(login, CallCommand.TRANSFER, unique_id)
        await self._pbx.direct_transfer(user.number, channel.unique_id, number)
        return self._acted("direct transfer", user, channel)

    async def attended_transfer(self, login: str, destination: str, unique_id: str = "") -> Acted:
        number = sanitize(destination)
        user, channel = self._choose(login, CallCommand.TRANSFER, unique_id)
        await self._pbx.attended_transfer(user.number, channel.unique_id, number)
        return self._acted("attended transfer", user, channel)

    async def set_call_data(self, login: str, variables: Mapping[str, str], unique_id: str = "") -> Acted:
        """Attach variables to the call: its later phone events (both parties') carry them."""
        checked = checked_call_data(variables)
        user, channel = self._choose(login, CallCommand.SET_DATA, unique_id)
        await self._pbx.set_call_data(user.number, channel.unique_id, checked)
        return self._acted("set data", user, channel)

    async def complete_transfer(self, login: str) -> CallIds:
        """The adapter knows the line's attended transfer (TransferNotFound when none)."""
        return await self._pbx.complete_transfer(self._directory.with_line(login).number)

    async def cancel_transfer(self, login: str) -> CallIds:
        return await self._pbx.cancel_transfer(self._directory.with_line(login).number)

    def _choose(self, login: str, command: CallCommand, unique_id: str) -> tuple[UserLine, ChannelEvent]:
        user = self._directory.with_line(login)
        return user, self._current.choose(user.number, command, unique_id.strip())

    @staticmethod
    def _acted(what: str, user: UserLine, channel: ChannelEvent, on_hold: bool = False) -> Acted:
        log.info("call control", extra={"action": what, "user": user.login, "unique_id": channel.unique_id})
        return Acted(channel, on_hold)
