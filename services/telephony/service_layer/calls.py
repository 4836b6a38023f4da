"""Calls: click-to-call, and what the PBX's channel events make of it (phone events, phone status,
call history, push requests). See docs/telephony.md for the rules.

The PBX adapter reports events one at a time, in order; `on_channel` handles each completely
(events published in order) before the next, which keeps every user's events in PBX order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

from services.telephony.domain.call_data import checked_call_data
from services.telephony.domain.current_calls import CurrentCalls
from services.telephony.domain.directions import CallDirections
from services.telephony.domain.errors import InvalidRequest, NoMobileNumber, PushTokenMissing
from services.telephony.domain.history import CallTracker, EndedCall, HistoryEntry, entry_for
from services.telephony.domain.model import (
    MAX_PUSH_TOKEN,
    Event,
    PhoneEventOccurred,
    PhoneStatusChanged,
    PushPlatform,
    PushRequested,
    Queue,
)
from services.telephony.domain.numbers import sanitize
from services.telephony.domain.pbx import (
    CallIds,
    ChannelEvent,
    ChannelState,
    LineAvailability,
    Originate,
)
from services.telephony.domain.phone_status import LineStatuses, PhoneStatus
from services.telephony.service_layer.dependencies import Dependencies
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_HISTORY_SIZE = 1000
MAX_HISTORY_DAYS = 3660
USER_ID_VARIABLE = "XIVO_USERID"
HISTORY_BATCH = 500


class CallService:
    def __init__(self, deps: Dependencies) -> None:
        self._uow = deps.uow
        self._pbx = deps.pbx
        self._publisher = deps.publisher
        self._directory = deps.directory
        self._clock = deps.clock
        self._statuses = LineStatuses()
        self._tracker = CallTracker()
        self._directions = CallDirections()
        self.current_calls = CurrentCalls()  # shared with CallControlService, which reads it
        self._push: dict[str, dict[PushPlatform, str]] = {}
        self._ended: asyncio.Queue[tuple[EndedCall, str, str]] = asyncio.Queue()
        self._recorder: asyncio.Task[None] | None = None
        self._push_lock = asyncio.Lock()

    async def load(self) -> None:
        """Read what the event path needs in memory: the push registrations, in one query."""
        async with self._uow() as uow:
            self._push = await uow.repository.all_push_tokens()

    # --- commands ---------------------------------------------------------------------------
    async def dial(self, login: str, number: str, variables: Mapping[str, str]) -> tuple[CallIds, str]:
        user = self._directory.with_line(login)
        destination = sanitize(number)
        ids = await self._pbx.originate(Originate(
            source=user.number, destination=destination, caller_id_name=user.name, caller_id_number=user.number,
            variables={**variables, USER_ID_VARIABLE: user.user_id},
        ))
        log.info("dial", extra={"user": login, "destination": destination, "linked_id": ids.linked_id})
        return ids, destination

    async def dial_by_username(self, login: str, target: str) -> tuple[CallIds, str]:
        callee = self._directory.with_line(target)
        return await self.dial(login, callee.number, {})

    async def dial_from_queue(self, queue: Queue, destination: str, caller_id_name: str, caller_id_number: str,
                              variables: Mapping[str, str]) -> tuple[CallIds, str]:
        number = sanitize(destination)
        ids = await self._pbx.originate(Originate(
            source=queue.number, destination=number, caller_id_name=caller_id_name,
            caller_id_number=caller_id_number, variables=dict(variables), from_queue=True,
        ))
        return ids, number

    async def dial_from_mobile(self, login: str, destination: str, variables: Mapping[str, str]
                               ) -> tuple[CallIds, str]:
        """The user's mobile rings first (an outside number: the user's line is not involved), then
        `destination` is dialled, shown the user's name and line (their mobile without a line)."""
        user = self._directory.require(login)
        if not user.mobile.strip():
            raise NoMobileNumber(f"User {login!r} has no mobile number")
        mobile, number = sanitize(user.mobile), sanitize(destination)
        ids = await self._pbx.originate(Originate(
            source=mobile, destination=number, caller_id_name=user.name, caller_id_number=user.number or mobile,
            variables={**checked_call_data(variables, required=False), USER_ID_VARIABLE: user.user_id},
            external_source=True,
        ))
        log.info("dial from mobile", extra={"user": login, "destination": number, "linked_id": ids.linked_id})
        return ids, number

    async def handshake(self) -> int:
        """Publish every user's current phone status again (the event URL gets them all)."""
        now = self._clock()
        events: list[Event] = [
            PhoneStatusChanged(user.login, user.number, int(self._statuses.status(user.number)), now, handshake=True)
            for user in self._directory.lines()
        ]
        await self._publisher.publish(events)
        return len(events)

    async def register_push(self, login: str, platform: PushPlatform, token: str) -> None:
        token = token.strip()
        if not token:
            raise PushTokenMissing("The push token is missing")
        if len(token) > MAX_PUSH_TOKEN:
            raise InvalidRequest(f"The push token is longer than {MAX_PUSH_TOKEN} characters")
        self._directory.require(login)
        async with self._push_lock:  # update-or-insert: two registrations at once would both insert
            async with self._uow() as uow:
                await uow.repository.save_push(login, platform, token)
                await uow.commit()
            self._push.setdefault(login, {})[platform] = token

    # --- queries ----------------------------------------------------------------------------
    def phone_statuses(self, numbers: Sequence[str]) -> dict[str, int]:
        known = self._directory.numbers()
        return {number: int(self._statuses.status(number) if number in known else PhoneStatus.NOT_A_LINE)
                for number in numbers}

    async def history(self, login: str, size: int, days: int) -> list[HistoryEntry]:
        self._directory.require(login)
        if (size > 0) == (days > 0) or size < 0 or days < 0:
            raise InvalidRequest("Give either size or days, a positive number")
        if size > MAX_HISTORY_SIZE or days > MAX_HISTORY_DAYS:
            raise InvalidRequest(f"size is at most {MAX_HISTORY_SIZE}, days at most {MAX_HISTORY_DAYS}")
        async with self._uow() as uow:
            if size:
                rows = await uow.repository.calls_of(login, limit=size)
            else:
                rows = await uow.repository.calls_of(login, since=self._clock() - timedelta(days=days))
        return [entry_for(call, src, dst, login) for call, src, dst in rows]

    # --- PBX events -------------------------------------------------------------------------
    async def on_channel(self, event: ChannelEvent) -> None:
        user = self._directory.by_number(event.number)
        if user is None:
            return  # a line no user has: nothing to tell anyone
        now = self._clock()
        phone_event = PhoneEventOccurred(user.login, event, now, direction=self._directions.apply(event))
        self.current_calls.apply(phone_event)  # before publishing: whoever saw the event finds the call so
        events: list[Event] = [phone_event]
        status = self._statuses.apply(event)
        if status is not None:
            events.append(PhoneStatusChanged(user.login, user.number, int(status), now))
        if event.state is ChannelState.RINGING:
            events += [PushRequested(user.login, platform, token, event.other_number, event.other_name,
                                     event.unique_id, event.linked_id, now)
                       for platform, token in self._push.get(user.login, {}).items()]
        await self._publisher.publish(events)
        ended = self._tracker.apply(event, now)
        if ended is not None:
            self._record(ended)

    async def on_availability(self, event: LineAvailability) -> None:
        user = self._directory.by_number(event.number)
        status = self._statuses.set_available(event.number, event.available)
        if user is not None and status is not None:
            await self._publisher.publish([PhoneStatusChanged(user.login, user.number, int(status), self._clock())])

    async def on_disconnected(self) -> None:
        """The PBX is gone: its calls are unknown now. Lines go back to available (announced),
        and live calls are dropped from history tracking."""
        self._tracker.forget_all()
        self._directions.forget_all()
        self.current_calls.forget_all()
        now = self._clock()
        events: list[Event] = []
        for number in self._statuses.reset():
            user = self._directory.by_number(number)
            if user is not None:
                events.append(PhoneStatusChanged(user.login, number, int(self._statuses.status(number)), now))
        await self._publisher.publish(events)

    # --- history, written behind the event path -------------------------------------------
    async def start_recording(self) -> None:
        """Ended calls are queued by the event path and written by one task, in batches: a phone
        event never waits for the database."""
        self._recorder = asyncio.create_task(self._record_ended_calls(), name="call-history")

    async def stop_recording(self) -> None:
        """Write what is queued, then stop."""
        if self._recorder is None:
            return
        await self._ended.join()
        recorder, self._recorder = self._recorder, None
        await cancel_and_wait(recorder)

    async def _record_ended_calls(self) -> None:
        while True:
            batch = [await self._ended.get()]
            while len(batch) < HISTORY_BATCH and not self._ended.empty():
                batch.append(self._ended.get_nowait())
            try:
                await self._write_calls(batch)
            finally:
                for _ in batch:
                    self._ended.task_done()

    async def _write_calls(self, batch: list[tuple[EndedCall, str, str]]) -> None:
        """One transaction for the batch; if it fails, one per call, so that a call the database
        refuses does not take the others with it. The events went out already: a history write
        that fails is logged, and never stops the event path."""
        for attempt in ([batch] if len(batch) == 1 else [batch, *([one] for one in batch)]):
            try:
                async with self._uow() as uow:
                    await uow.repository.add_calls(attempt)
                    await uow.commit()
            except Exception:
                log.exception("calls not recorded in history", extra={"count": len(attempt)})
                continue
            if attempt is batch:
                return

    def _record(self, call: EndedCall) -> None:
        # The parties are named as the directory knows them now, when the call ends.
        self._ended.put_nowait((call, self._directory.party(call.src_number), self._directory.party(call.dst_number)))
