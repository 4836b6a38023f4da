"""Faults of NATS on the event path, with real processes on loopback: phone events flow from the PBX
simulator through the telephony service, NATS JetStream and the webhooks process's delivery to a
webhook receiver run by the test, while

  (a) the single nats-server is killed (SIGKILL) and started again on its port and store;
  (b) one node of a 3-node NATS cluster (streams with 3 replicas) is killed and started again;
      the node killed is the leader of the XUC_TELEPHONY stream (the hard case: a new leader is
      elected while events are being published).

Each time: every event reaches the receiver, in order per user, none lost, and is stored once
(phone_traffic.py says how both are checked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nats

from tests.e2e.conftest import Stack
from tests.e2e.event_path_faults.phone_traffic import (
    FAULT_USERS,
    PhoneDriver,
    assert_every_event_delivered_in_order,
    assert_stored_once_in_order,
    metric,
    phone_stack,
    sample_while,
    stored_events,
    telephony_metrics,
    wait_until_quiet,
)
from tests.support.nats_cluster import NatsCluster, NatsNode
from tests.support.webhook_receiver import ThreadedWebhookReceiver
from xuc import subjects


# --- (b) one node of a 3-node cluster killed and restarted ------------------------------------------------
async def telephony_stream_leader(urls: str) -> tuple[str, int]:
    client = await nats.connect(urls.split(","), name="xuc-faults-admin")
    try:
        info = await client.jetstream().stream_info(subjects.TELEPHONY_STREAM)
        assert info.cluster is not None
        assert info.cluster.leader
        return info.cluster.leader, info.config.num_replicas or 1
    finally:
        await client.close()


# --- (a) the nats-server restarted ----------------------------------------------------------------------
async def test_a_nats_restart_while_phone_events_flow_loses_and_reorders_nothing(
    nats_node: NatsNode, make_stack: Callable[..., Stack], receiver: ThreadedWebhookReceiver,
) -> None:
    stack = phone_stack(make_stack, receiver, XUC_NATS_URL=nats_node.url)
    after = wait_until_quiet(receiver)
    driver = PhoneDriver(stack, FAULT_USERS)
    await driver.start()
    try:
        await driver.run_for(2.0)
        calls_before = driver.total_calls
        nats_node.kill()
        held = await sample_while(3.0, lambda: metric(telephony_metrics(stack), "xuc_nats_publish_buffered"))
        await asyncio.to_thread(nats_node.start)
        await driver.run_for(3.0)
    finally:
        await driver.stop()
    assert driver.total_calls > calls_before + 20, "calls went on during the outage and after"
    assert held > 0, "the telephony service held events while NATS was down"
    doubles = await assert_every_event_delivered_in_order(receiver, driver, after)
    assert_stored_once_in_order(await stored_events(nats_node.url), receiver, driver, after)
    assert metric(telephony_metrics(stack), "xuc_nats_publish_buffered") == 0
    assert metric(telephony_metrics(stack), "xuc_nats_publish_failures_total", event="PhoneEvent") == 0
    print(f"calls: {driver.total_calls}, held at most {held:.0f} events, doubles at the receiver: {doubles}")


async def test_a_cluster_node_killed_while_phone_events_flow_loses_and_reorders_nothing(
    nats_cluster: NatsCluster, make_stack: Callable[..., Stack], receiver: ThreadedWebhookReceiver,
) -> None:
    stack = phone_stack(make_stack, receiver, XUC_NATS_URL=nats_cluster.urls, XUC_STREAM_REPLICAS="3")
    leader, replicas = await telephony_stream_leader(nats_cluster.urls)
    assert replicas == 3
    after = wait_until_quiet(receiver)
    driver = PhoneDriver(stack, FAULT_USERS)
    await driver.start()
    try:
        await driver.run_for(2.0)
        calls_before = driver.total_calls
        victim = nats_cluster.node(leader)
        victim.kill()
        held = await sample_while(4.0, lambda: metric(telephony_metrics(stack), "xuc_nats_publish_buffered"))
        await asyncio.to_thread(victim.start)
        await driver.run_for(3.0)
    finally:
        await driver.stop()
    assert driver.total_calls > calls_before + 20
    doubles = await assert_every_event_delivered_in_order(receiver, driver, after)
    await asyncio.to_thread(nats_cluster.wait_healthy)
    assert_stored_once_in_order(await stored_events(nats_cluster.urls), receiver, driver, after)
    assert held > 0, "the telephony service held events while the stream's leader was being elected"
    assert metric(telephony_metrics(stack), "xuc_nats_publish_buffered") == 0
    assert metric(telephony_metrics(stack), "xuc_nats_publish_failures_total", event="PhoneEvent") == 0
    new_leader, _ = await telephony_stream_leader(nats_cluster.urls)
    print(f"killed {leader} (new leader {new_leader}), calls: {driver.total_calls}, held at most {held:.0f} "
          f"events during the election, doubles: {doubles}")
