"""Background tasks: how they are stopped.

Pure asyncio, for every layer (the service layers hold background tasks too).

A single `task.cancel()` is not enough to stop a task: on Python 3.11, `asyncio.wait_for` returns
the result of an operation that completed as the cancellation arrived and drops the cancellation
(bpo-42130; nats-py's requests go through it), so a loop around such a call runs on, and whoever
awaits the task waits forever (seen: the event forwarder's lag sampler holding up the gateway's
stop, the PBX failover holding up telephony's). These functions cancel again until the tasks end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

# How often a task that ignored a cancellation is cancelled again.
RECANCEL_SECONDS = 0.1


async def _cancelled(tasks: Iterable[asyncio.Task[Any] | None]) -> list[asyncio.Task[Any]]:
    """Cancel until every task has ended; the tasks."""
    given = [task for task in tasks if task is not None]
    running = given
    while running := [task for task in running if not task.done()]:
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=RECANCEL_SECONDS)
    return given


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for its end; an exception it ended with is raised, as
    `await task` would."""
    for ended in await _cancelled([task]):
        if not ended.cancelled():
            ended.result()


async def cancel_all(tasks: Iterable[asyncio.Task[Any] | None]) -> None:
    """Cancel tasks and wait for all of them to end; what they ended with is not raised (as
    `asyncio.gather(..., return_exceptions=True)`): for stopping helpers whose errors were
    reported already, or do not matter any more."""
    for ended in await _cancelled(tasks):
        if not ended.cancelled():
            ended.exception()  # retrieved: no "exception was never retrieved" warning
