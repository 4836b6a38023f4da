"""Telephony events for the webhook delivery's tests, and what the delivery counted: the events a
user's lane should post in order, the bodies the event URL should receive, the delivery's
Prometheus counters read on a real /metrics page, and the dead letters stored on NATS."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from nats.js import JetStreamContext

from tests.support.events import stored_messages
from tests.support.metrics import scrape_url
from xuc import event_catalogue, subjects
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent, PhoneStatusChanged, UndeliveredEvent

TelephonyEvent = PhoneEvent | PhoneStatusChanged
PHONE_EVENT_TYPE = event_catalogue.PHONE_EVENT.type_name
PHONE_STATUS_TYPE = event_catalogue.PHONE_STATUS.type_name
UNDELIVERED_TYPE = event_catalogue.WEBHOOK_DEAD.type_name


# --- events ---------------------------------------------------------------------------------------
def login(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def phone_event(username: str, number: int, event_type: str = "EventDialing") -> PhoneEvent:
    """The `number`th event of a user: its order shows in uniqueId (and in userData)."""
    return PhoneEvent(username=username, event_type=event_type, dn="1058", other_dn="3000",
                      linked_id=f"1447670380.{number}", unique_id=str(number),
                      user_data={"XIVO_USERID": "9", "SEQ": str(number)}, event_id=uuid.uuid4().hex)


def status_change(username: str, status: int) -> PhoneStatusChanged:
    return PhoneStatusChanged(username=username, number="1058", status=status, event_id=uuid.uuid4().hex)


def event_n(username: str, number: int) -> TelephonyEvent:
    """Events of a user alternate phone events (uniqueId = n) and status changes (status = n)."""
    return phone_event(username, number) if number % 2 == 0 else status_change(username, number)


def number_of(body: Any) -> int:
    """Which `event_n` a delivered body is."""
    if "status" in body:
        return int(body["status"])
    return int(body["message"]["ctiMessage"]["uniqueId"])


def to_message(event: TelephonyEvent) -> tuple[str, TelephonyEvent]:
    if isinstance(event, PhoneEvent):
        return event_catalogue.PHONE_EVENT.outgoing(event.username, event)
    return event_catalogue.PHONE_STATUS.outgoing(event.username, event)


def expected_body(event: TelephonyEvent) -> dict[str, Any]:
    if isinstance(event, PhoneStatusChanged):
        return {"username": event.username, "status": event.status}
    return {"username": event.username, "message": {"msgType": "PhoneEvent", "ctiMessage": {
        "eventType": event.event_type, "DN": event.dn, "otherDN": event.other_dn, "linkedId": event.linked_id,
        "uniqueId": event.unique_id, "userData": dict(event.user_data)}}}



# --- what the delivery counted: its metrics on a real endpoint -----------------------------------------
class Counts:
    """The delivery's counters for one consumer, read from the /metrics page as Prometheus would."""

    def __init__(self, address: str, consumer: str) -> None:
        self._url, self._consumer = f"http://{address}/metrics", consumer

    def _read(self, name: str, label: str = "", values: tuple[str, ...] = ("",)) -> float:
        page = scrape_url(self._url)
        return sum(page.value(name, consumer=self._consumer, **({label: value} if label else {}))
                   for value in values)

    def posts(self, *outcomes: str) -> float:
        return self._read("xuc_webhook_deliveries_total", "outcome", outcomes or ("delivered", "failed", "refused"))

    @property
    def attempts(self) -> float:
        return self.posts()

    @property
    def delivered(self) -> float:
        return self.posts("delivered")

    @property
    def failures(self) -> float:
        return self.posts("failed", "refused")

    def dead_lettered(self, *causes: str) -> float:
        return self._read("xuc_webhook_dead_lettered_total", "cause",
                          causes or ("attempts", "refused", "backlog", "invalid", "error"))

    @property
    def redeliveries(self) -> float:
        return self._read("xuc_webhook_redeliveries_total")

    @property
    def skipped(self) -> float:
        return self._read("xuc_webhook_events_skipped_total")



async def eventually(condition: Callable[[], bool], within: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def dead_letters(js: JetStreamContext, username: str, count: int) -> list[UndeliveredEvent]:
    records = []
    for msg in await stored_messages(js, subjects.WEBHOOK_DEAD.for_key(username), count):
        assert (msg.headers or {})[subjects.EVENT_TYPE_HEADER] == UNDELIVERED_TYPE
        record = UndeliveredEvent()
        record.ParseFromString(msg.data)
        records.append(record)
    return records


