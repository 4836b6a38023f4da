"""A webhook receiver down for a while, then back, with phone events flowing through a whole stack:
every event reaches it, in order, and the webhooks process's back-off shows in its metrics."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Callable

from tests.e2e.conftest import Stack
from tests.e2e.event_path_faults.phone_traffic import (
    FAULT_USERS,
    PhoneDriver,
    assert_every_event_delivered_in_order,
    metric,
    phone_stack,
    wait_until_quiet,
)
from tests.support.webhook_receiver import ThreadedWebhookReceiver, username_is

# --- (c) the webhook receiver down, then back ---------------------------------------------------------------
OUTAGE_SECONDS = float(os.environ.get("XUC_TEST_WEBHOOK_OUTAGE_S", "60"))


MAX_BACKOFF_SECONDS = 5.0


CONSUMER = "xuc-webhook"  # the webhooks process's series carry its consumer


async def test_a_webhook_receiver_down_for_a_minute_gets_every_event_and_the_back_off_shows_in_metrics(
    make_stack: Callable[..., Stack], receiver: ThreadedWebhookReceiver,
) -> None:
    """The issue's 60 s outage, the receiver answering 503 Service Unavailable to the user's events
    (so that it sees, and times, every attempt), with the longest back-off lowered from 30 s to 5 s
    so that the events come within seconds of the receiver's return (with 30 s, up to 30 s later)
    and the test stays near 75 s. XUC_TEST_WEBHOOK_OUTAGE_S shortens the outage for a quick run.

    One user: all its events wait in one lane behind the one being retried, so each refused POST is
    one attempt of that event, and the time between two of them, at the receiver, is at least the
    back-off after the first: 0.5 s doubling up to 5 s, less up to a quarter of jitter. Only lower
    bounds are checked: a busy machine may make the gaps longer, never shorter."""
    login, line = "faulta", FAULT_USERS["faulta"]
    stack = phone_stack(make_stack, receiver, XUC_EVENT_MAX_BACKOFF_MS=str(int(MAX_BACKOFF_SECONDS * 1000)))
    webhooks_metrics = f"http://{stack.run_file('webhooks')['metrics']}/metrics"
    after = wait_until_quiet(receiver)
    driver = PhoneDriver(stack, {login: line})
    await driver.start()
    await driver.run_for(1.0)  # a few calls delivered at once
    failed_before = metric(webhooks_metrics, "xuc_webhook_deliveries_total", consumer=CONSUMER, outcome="failed")

    outage = receiver.respond(503, when=username_is(login))
    outage_started = time.monotonic()
    await driver.run_for(2.0)  # and a few more while the receiver is down
    await driver.stop()
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))  # the outage lasts
    delivered_before = metric(webhooks_metrics, "xuc_webhook_deliveries_total", consumer=CONSUMER,
                              outcome="delivered")
    receiver.clear_rules()

    doubles = await assert_every_event_delivered_in_order(receiver, driver, after,
                                                          within=MAX_BACKOFF_SECONDS + 30.0)
    assert doubles == 0
    delivered_after = metric(webhooks_metrics, "xuc_webhook_deliveries_total", consumer=CONSUMER, outcome="delivered")
    assert delivered_after > delivered_before
    assert metric(webhooks_metrics, "xuc_webhook_dead_lettered_total", consumer=CONSUMER, cause="attempts") == 0

    attempts = [request.arrived_monotonic for request in list(receiver.receiver.requests)
                if request.status == 503 and isinstance(request.body, dict) and request.body.get("username") == login]
    assert len(attempts) == outage.used
    # every refused attempt counted as failed in the webhooks process's metrics
    failed = metric(webhooks_metrics, "xuc_webhook_deliveries_total", consumer=CONSUMER, outcome="failed")
    assert failed - failed_before == len(attempts)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    print(f"{driver.total_calls} calls, {len(attempts)} refused attempts during the {OUTAGE_SECONDS:.0f} s "
          f"outage, gaps between them: {[round(gap, 2) for gap in gaps]}")
    assert len(attempts) >= 3, "the forwarder kept trying"
    # After failed attempt n (1-based) the wait is min(5, 0.5 x 2^(n-1)) less up to a quarter: never
    # shorter, so the back-off grows and there is no tight loop (0.02 s: clock and scheduling noise).
    schedule = [0.75 * min(MAX_BACKOFF_SECONDS, 0.5 * 2.0 ** attempt) for attempt in range(len(gaps))]
    assert [round(gap, 2) for gap, least in zip(gaps, schedule, strict=True) if gap < least - 0.02] == [], (
        gaps, schedule)
    if OUTAGE_SECONDS >= 20:  # long enough to reach the longest back-off
        assert len(gaps) > 4, "the back-off reached its maximum"
    print(json.dumps({"attempts": [round(when - outage_started, 2) for when in attempts]}))
