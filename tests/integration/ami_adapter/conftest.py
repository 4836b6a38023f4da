"""Fixtures of the AmiPbx tests: a scripted AMI server on a free port, a sink, and an adapter
connected to the server and done resynchronising (tests start clean)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.telephony.adapters.ami.adapter import AmiPbx
from tests.support.ami_adapter import Sink, connected, started
from tests.support.ami_server import ScriptedAmiServer


@pytest.fixture
async def server() -> AsyncIterator[ScriptedAmiServer]:
    ami = ScriptedAmiServer(username="xuc", secret="s3cret")
    await ami.start()
    try:
        yield ami
    finally:
        await ami.close()


@pytest.fixture
async def sink() -> Sink:
    return Sink()


@pytest.fixture
async def pbx(server: ScriptedAmiServer, sink: Sink) -> AsyncIterator[AmiPbx]:
    adapter = await started(server.url(), sink)
    try:
        await sink.until(connected(True))
        await server.wait_for_action("Status")  # the resynchronisation is done: tests start clean
        yield adapter
    finally:
        await adapter.close()
