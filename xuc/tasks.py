"""Background tasks: how they are stopped.

Pure asyncio, for every layer (the service layers hold background tasks too).
"""

from __future__ import annotations

import asyncio
from typing import Any

# How often a task that ignored a cancellation is cancelled again.
RECANCEL_SECONDS = 0.1


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for its end; an exception it ended with is raised.

    The task is cancelled again while it runs on: on Python 3.11, `asyncio.wait_for` returns the
    result of an operation that completed as the cancellation arrived and drops the cancellation
    (bpo-42130; nats-py's requests go through it), and a loop around such a call would run on
    forever, holding up a process that was told to stop.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    if not task.cancelled():
        task.result()
