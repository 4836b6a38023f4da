"""The call history writer of the telephony service: batches, and what a refused row costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import pytest

from services.telephony.domain.history import EndedCall
from services.telephony.domain.model import UserLine
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.dependencies import Dependencies
from services.telephony.service_layer.directory import Directory

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Storage:
    """Committed rows; a call whose linked id is "poison" makes its whole transaction fail."""

    def __init__(self) -> None:
        self.rows: list[tuple[EndedCall, str, str]] = []
        self.transactions = 0


class FakeRepository:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.pending: list[tuple[EndedCall, str, str]] = []

    async def add_calls(self, calls: list[tuple[EndedCall, str, str]]) -> None:
        if any(call.linked_id == "poison" for call, _, _ in calls):
            raise RuntimeError("value too long for type character varying(64)")
        self.pending += calls


class FakeUnitOfWork:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.repository = FakeRepository(storage)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass

    async def commit(self) -> None:
        self.storage.rows += self.repository.pending
        self.storage.transactions += 1


def call(linked_id: str) -> EndedCall:
    return EndedCall(linked_id, "1001", "0612345678", T0, T0 + timedelta(seconds=5), answered=False)


async def test_a_refused_call_does_not_take_the_rest_of_its_batch_with_it(caplog: pytest.LogCaptureFixture) -> None:
    storage = Storage()
    pbx: Any = None  # not used by the history writer
    service = CallService(Dependencies(lambda: FakeUnitOfWork(storage), pbx, publisher=None,  # type: ignore[arg-type]
                                       directory=Directory([UserLine("alice", "1001")])))
    batch = [(call("a"), "alice", "0612345678"), (call("poison"), "alice", "x"), (call("b"), "alice", "y")]

    await service._write_calls(batch)

    assert [row[0].linked_id for row in storage.rows] == ["a", "b"]
    assert storage.transactions == 2  # the batch failed whole, then one per call
    assert "calls not recorded in history" in caplog.text


async def test_a_batch_is_one_transaction(caplog: pytest.LogCaptureFixture) -> None:
    storage = Storage()
    service = CallService(Dependencies(lambda: FakeUnitOfWork(storage), None, None,  # type: ignore[arg-type]
                                       Directory()))
    await service._write_calls([(call("a"), "alice", "b"), (call("b"), "alice", "c")])
    assert (len(storage.rows), storage.transactions) == (2, 1)
    assert caplog.text == ""
