"""The failover controller (services/telephony/service_layer/failover.py) with a hand-written lease:
acquire, renew, step down when the lease is taken or cannot be renewed for 3/4 of the TTL, release
on close. Real asyncio time with a 0.4 s TTL (renewals every 0.1 s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from services.telephony.domain.ports import LeaseUnavailable
from services.telephony.service_layer.failover import Failover

TTL = 0.4


class FakeLease:
    def __init__(self) -> None:
        self.holder_name = "other"  # someone else holds it at first
        self.revision = 1
        self.unavailable = False
        self.released: list[int] = []
        self.renewals = 0
        self.renewal_calls: list[float] = []  # time.monotonic() at the start of each successful renewal
        self.acquire_calls = 0

    async def acquire(self) -> int | None:
        self.acquire_calls += 1
        if self.unavailable:
            raise LeaseUnavailable("nats down")
        if self.holder_name:
            return None
        self.holder_name, self.revision = "me", self.revision + 1
        return self.revision

    async def renew(self, revision: int) -> int | None:
        called_at = time.monotonic()
        if self.unavailable:
            raise LeaseUnavailable("nats down")
        if self.holder_name != "me" or revision != self.revision:
            return None
        self.renewal_calls.append(called_at)
        self.renewals += 1
        self.revision += 1
        return self.revision

    async def release(self, revision: int) -> None:
        self.released.append(revision)
        if revision == self.revision:
            self.holder_name = ""

    async def holder(self) -> str:
        return self.holder_name


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def activate(self) -> None:
        self.calls.append("activate")

    async def deactivate(self, detail: str) -> None:
        self.calls.append(f"deactivate: {detail}")


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def lease() -> FakeLease:
    return FakeLease()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def failover(lease: FakeLease, recorder: Recorder) -> Failover:
    return Failover(lease, ttl_seconds=TTL)


async def test_a_standby_takes_the_free_lease_renews_it_and_releases_it_on_close(
    failover: Failover, lease: FakeLease, recorder: Recorder,
) -> None:
    failover.start(recorder.activate, recorder.deactivate)
    await until(lambda: lease.acquire_calls >= 2)  # it looked at the lease, more than once
    assert not failover.active
    assert failover.detail == "standby: the PBX is held by other"
    lease.holder_name = ""  # the other instance's lease expired
    await until(lambda: failover.active)
    assert recorder.calls == ["activate"]
    await until(lambda: lease.renewals >= 3 and failover.active)
    await failover.close()
    assert recorder.calls == ["activate", "deactivate: stopping"]
    assert lease.released == [lease.revision]
    assert lease.holder_name == ""


async def test_the_active_steps_down_when_another_instance_took_the_lease(
    failover: Failover, lease: FakeLease, recorder: Recorder,
) -> None:
    lease.holder_name = ""
    failover.start(recorder.activate, recorder.deactivate)
    await until(lambda: failover.active)
    lease.holder_name = "usurper"  # the lease expired and another took it
    await until(lambda: not failover.active)
    await until(lambda: len(recorder.calls) == 2)
    assert recorder.calls[1].startswith("deactivate: standby: stepped down (the lease expired or another")
    lease.holder_name = ""
    await until(lambda: failover.active)  # and takes it again once free
    assert recorder.calls[2] == "activate"
    await failover.close()


async def test_the_active_fences_itself_when_it_cannot_renew_for_three_quarters_of_the_ttl(
    failover: Failover, lease: FakeLease, recorder: Recorder,
) -> None:
    lease.holder_name = ""
    failover.start(recorder.activate, recorder.deactivate)
    await until(lambda: failover.active)
    await until(lambda: lease.renewals >= 1)
    lease.unavailable = True
    # Sampled (time, active): from 3/4 of the TTL after the last renewal began, it never says active
    # (it would still hold a lease that may have expired), however late this task gets to look.
    samples: list[tuple[float, bool]] = []

    def sampled_inactive() -> bool:
        samples.append((time.monotonic(), failover.active))
        return not samples[-1][1]

    await until(sampled_inactive, within=30.0)
    fenced_from = lease.renewal_calls[-1] + 0.75 * TTL
    assert [at for at, active in samples if active and at >= fenced_from] == []
    await until(lambda: len(recorder.calls) == 2)
    assert "the lease store is unreachable" in recorder.calls[1]
    attempts = lease.acquire_calls
    await until(lambda: lease.acquire_calls > attempts)  # it went on trying, in standby
    assert "standby: the lease store is unreachable" in failover.detail
    await failover.close()
    assert lease.released == []  # not active: nothing to release
