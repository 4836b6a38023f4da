"""Fixtures of the deployment files' tests: compose.yaml as written and as interpolated against the
chosen host environment, and a local gRPC health server for the healthcheck commands."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2_grpc

from tests.support.compose_file import COMPOSE_FILE, HOST_ENV, interpolated


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The compose document as Compose sees it with HOST_ENV."""
    resolved: dict[str, Any] = interpolated(raw, HOST_ENV)
    return resolved


@pytest.fixture
def health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, servicer
    finally:
        server.stop(None).wait()
