"""One active telephony instance per PBX, the others standing by (XUC_TELEPHONY_FAILOVER).

Every instance runs a `Failover`: as a standby it tries to take the PBX lease every TTL/4; once it
holds it, it becomes active (`activate`: reload what lives in the database, connect to the PBX) and
renews the lease every TTL/4. It steps down (`deactivate`: disconnect from the PBX, refuse calls)
as soon as a renewal says the lease is no longer its own (expired, taken over: the revision is the
fencing token), and also, on its own, when no renewal succeeded for 3/4 of the TTL (the lease store
unreachable): the store may expire the lease a TTL after its last write, and the old active must
have let the PBX go before a standby can take it. A process that dies without a word loses the
lease a TTL after its last renewal; a clean stop releases it at once.

Takeover after a crash: at most TTL (expiry) + TTL/4 (the standby's next attempt), then the PBX
connection (an AMI login and its resynchronisation: milliseconds on a LAN).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from services.telephony.domain.ports import LeaseUnavailable, PbxLease
from xuc.tasks import cancel_all, cancel_and_wait

log = logging.getLogger(__name__)

RENEWALS_PER_TTL = 4
FENCE_FRACTION = 0.75


class Failover:
    """Created before what it drives (the PBX gate reads `active` and `detail`); given what to do on
    taking and losing the lease when started."""

    def __init__(self, lease: PbxLease, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lease = lease
        self._interval = ttl_seconds / RENEWALS_PER_TTL
        self._fence_after = ttl_seconds * FENCE_FRACTION
        self._deactivate: Callable[[str], Awaitable[None]] | None = None  # given by start
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._revision: int | None = None  # set while active
        self._renewed_at = 0.0  # when the last successful write of the lease began
        self.detail = "standby: looking for the PBX lease"

    @property
    def active(self) -> bool:
        """Whether this instance may drive the PBX now: it holds the lease, and its last renewal is
        recent enough for no standby to have taken it (checked on every command and call, so a
        process resumed after a long pause refuses them even before its renewal task has run)."""
        return self._revision is not None and self._clock() - self._renewed_at < self._fence_after

    def start(self, activate: Callable[[], Awaitable[None]], deactivate: Callable[[str], Awaitable[None]]) -> None:
        """Compete for the lease: `activate` once it is ours, `deactivate(why)` once it is not any more."""
        self._deactivate = deactivate
        self._task = asyncio.create_task(self._run(activate, deactivate), name="pbx-failover")

    async def close(self) -> None:
        """Stop; an active instance disconnects from the PBX, then releases the lease."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        revision, self._revision = self._revision, None
        if revision is not None:
            assert self._deactivate is not None  # it was started
            await self._deactivate("stopping")
            await self._lease.release(revision)

    async def _run(self, activate: Callable[[], Awaitable[None]], deactivate: Callable[[str], Awaitable[None]]) \
            -> None:
        while True:
            revision, acquired_at = await self._acquire()
            self._revision, self._renewed_at = revision, acquired_at
            self.detail = "active"
            log.warning("PBX lease taken: this telephony instance is now active")
            holding = asyncio.create_task(self._hold(acquired_at), name="pbx-lease-renewal")
            try:
                try:
                    await activate()
                except Exception:
                    log.exception("activation incomplete (the instance stays active)")
                reason = await holding
            finally:  # stopping: the renewals end before the lease is released
                await cancel_all([holding])
            self._revision = None
            self.detail = f"standby: stepped down ({reason})"
            log.warning("PBX lease lost: this telephony instance steps down: %s", reason)
            await deactivate(self.detail)

    async def _acquire(self) -> tuple[int, float]:
        """Wait until this instance holds the lease: its revision, and when the winning attempt began."""
        while True:
            began = self._clock()
            try:
                async with asyncio.timeout(self._interval):
                    revision = await self._lease.acquire()
                if revision is not None:
                    return revision, began
                async with asyncio.timeout(self._interval):
                    holder = await self._lease.holder()
                self.detail = f"standby: the PBX is held by {holder}" if holder else "standby"
            except (LeaseUnavailable, TimeoutError) as error:
                self.detail = f"standby: the lease store is unreachable ({error or 'timeout'})"
            await asyncio.sleep(max(0.0, began + self._interval - self._clock()))

    async def _hold(self, last_renewed: float) -> str:
        """Renew until the lease is lost; the reason."""
        while True:
            await asyncio.sleep(max(0.0, last_renewed + self._interval - self._clock()))
            deadline = last_renewed + self._fence_after
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return f"lease not renewed for {self._fence_after:.1f} s: the lease store is unreachable"
                began = self._clock()
                assert self._revision is not None
                try:
                    async with asyncio.timeout(remaining):
                        renewed = await self._lease.renew(self._revision)
                except (LeaseUnavailable, TimeoutError) as error:
                    log.warning("PBX lease renewal failed: %s", error or "timeout")
                    await asyncio.sleep(min(self._interval / 4, max(0.0, deadline - self._clock())))
                    continue
                if renewed is None:
                    return "the lease expired or another instance took it"
                self._revision, self._renewed_at = renewed, began
                last_renewed = began
                break
