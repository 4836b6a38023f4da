"""Reading back what a service published on NATS JetStream."""

from __future__ import annotations

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.support.deadlines import EVENT_DEADLINE_SECONDS


async def stored_messages(js: JetStreamContext, subject: str, count: int,
                          within: float = EVENT_DEADLINE_SECONDS) -> list[Msg]:
    """The `count` messages the stream holds on `subject`, oldest first; fails if it holds more."""
    subscription = await js.subscribe(subject, ordered_consumer=True)
    try:
        messages: list[Msg] = []
        while len(messages) < count:
            try:
                messages.append(await subscription.next_msg(timeout=within))
            except nats.errors.TimeoutError:
                pytest.fail(f"{len(messages)} message(s) on {subject} within {within} s, expected {count}")
        info = await subscription.consumer_info()
        assert info.num_pending == 0, f"more than {count} message(s) on {subject}"
        assert subscription.pending_msgs == 0, f"more than {count} message(s) on {subject}"
    finally:
        await subscription.unsubscribe()
    return messages
