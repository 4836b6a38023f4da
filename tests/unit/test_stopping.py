"""How processes stop: background tasks that ignore a cancellation, and a stop that hangs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from xuc.runtime.process import STUCK_EXIT_CODE
from xuc.tasks import cancel_all, cancel_and_wait

pytestmark = pytest.mark.timeout(30)


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again() -> None:
    """As a loop around `asyncio.wait_for` does on Python 3.11 when the awaited operation completes
    as the cancellation arrives (bpo-42130): the loop goes on, and a single cancel would wait forever."""
    swallowed = 0

    async def renewing() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 2:
                    raise

    task = asyncio.create_task(renewing())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(cancel_and_wait(task), 5)
    assert task.cancelled()
    assert swallowed == 3


async def test_an_ended_or_absent_task_is_fine_and_its_error_is_raised() -> None:
    await cancel_and_wait(None)

    async def failing() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait(task)


async def test_cancel_all_ends_every_task_and_raises_nothing() -> None:
    async def stubborn() -> None:  # swallows one cancellation, as a sampler around wait_for may
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)

    async def failing() -> None:
        raise ValueError("reported elsewhere already")

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(failing()), asyncio.create_task(asyncio.sleep(3600))]
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_all([*tasks, None]), 5)
    assert [task.done() for task in tasks] == [True, True, True]
    assert [task.cancelled() for task in tasks] == [True, False, True]


def test_a_stop_that_hangs_logs_where_and_exits() -> None:
    """Past the stop deadline, the process names the coroutines it waits in, and exits 70."""
    script = textwrap.dedent("""
        import asyncio, sys
        from xuc.runtime import logs
        from xuc.runtime.process import stop_signal

        async def release_the_lease_forever():
            await asyncio.Event().wait()

        async def main():
            stopping = stop_signal(deadline=0.5)
            print("ready", flush=True)
            await stopping.wait()
            await release_the_lease_forever()

        logs.configure("INFO", "text")
        asyncio.run(main())
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        logged, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == STUCK_EXIT_CODE, logged
    assert time.monotonic() - sent >= 0.5
    assert "still stopping 0.5 s after the signal" in logged
    assert "in release_the_lease_forever" in logged  # the await chain, down to where it waits
    assert "in main" in logged
