"""What every telephony use case works with, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.telephony.domain.pbx import Pbx
from services.telephony.domain.ports import EventPublisher, TelephonyUnitOfWork
from services.telephony.service_layer.directory import Directory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], TelephonyUnitOfWork]
    pbx: Pbx
    publisher: EventPublisher
    directory: Directory
    clock: Callable[[], datetime] = field(default=utc_now)
