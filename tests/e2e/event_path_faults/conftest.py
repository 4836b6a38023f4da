"""Fixtures of the event-path fault tests: a webhook receiver run by the test, a single nats-server
node and a 3-node NATS cluster, each started per test so that a test may kill them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats_cluster import NatsCluster, NatsNode
from tests.support.webhook_receiver import ThreadedWebhookReceiver


# --- processes ------------------------------------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[ThreadedWebhookReceiver]:
    with ThreadedWebhookReceiver() as running:
        yield running


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsNode]:
    """Requested before make_stack: torn down after the stack has stopped."""
    with NatsNode.single(tmp_path / "nats").start() as node:
        yield node


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster.start(tmp_path / "cluster", size=3) as cluster:
        yield cluster
