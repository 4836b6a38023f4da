"""Call control on a user's line (the CTI socket's commands): the calls in progress, and answer,
hold, hang up, DTMF and transfers of the user's current call or of the one named.

Which call a command acts on is decided here, once for both PBX adapters, from the phone events
already published (domain/current_calls.py); the adapter is then told the line's channel by its
unique id. The state changes themselves come back, as always, as the PBX's events.
"""

from __future__ import annotations

import logging

from services.telephony.domain.current_calls import CurrentCalls
from services.telephony.domain.model import PhoneEventOccurred
from services.telephony.service_layer.dependencies import Dependencies

log = logging.getLogger(__name__)


class CallControlService:
    def __init__(self, deps: Dependencies, current_calls: CurrentCalls) -> None:
        self._pbx = deps.pbx
        self._directory = deps.directory
        self._current = current_calls

    def current_calls(self, login: str) -> list[PhoneEventOccurred]:
        """The latest phone event of each call in progress on the user's line, oldest call first."""
        return self._current.of_line(self._directory.with_line(login).number)
