"""An ordered consumer's creation that JetStream does not answer in time is asked again, so that a
process does not fail to start while a clustered stream elects its leader (seen in CI: the gateway
exited at start on `nats: timeout` with a 3-node cluster under load)."""

from __future__ import annotations

from typing import Any

import nats.errors
import pytest

from xuc.runtime import nats as runtime_nats


class _JetStream:
    def __init__(self, timeouts: int) -> None:
        self.timeouts = timeouts
        self.calls: list[dict[str, Any]] = []

    async def subscribe(self, subject: str, **options: Any) -> str:
        self.calls.append({"subject": subject, **options})
        if len(self.calls) <= self.timeouts:
            raise nats.errors.TimeoutError
        return "subscription"


class _Connection:
    def __init__(self, timeouts: int) -> None:
        self.js = _JetStream(timeouts)

    def jetstream(self) -> _JetStream:
        return self.js


async def _ignore(message: Any) -> None:
    del message


async def test_a_creation_left_unanswered_is_asked_again_under_a_new_name() -> None:
    connection = _Connection(timeouts=runtime_nats.CONSUMER_CREATE_ATTEMPTS - 1)
    subscription = await runtime_nats.subscribe_ordered(connection, "S", "s.>", _ignore)  # type: ignore[arg-type]
    assert subscription == "subscription"
    assert len(connection.js.calls) == runtime_nats.CONSUMER_CREATE_ATTEMPTS
    names = {call["config"].name for call in connection.js.calls}
    assert len(names) == runtime_nats.CONSUMER_CREATE_ATTEMPTS  # never two consumers of one name


async def test_the_last_timeout_reaches_the_caller() -> None:
    connection = _Connection(timeouts=runtime_nats.CONSUMER_CREATE_ATTEMPTS)
    with pytest.raises(nats.errors.TimeoutError):
        await runtime_nats.subscribe_ordered(connection, "S", "s.>", _ignore)  # type: ignore[arg-type]
    assert len(connection.js.calls) == runtime_nats.CONSUMER_CREATE_ATTEMPTS
