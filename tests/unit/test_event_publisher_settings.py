"""The settings of publishing and streams: XUC_NATS_URL as a list of cluster nodes,
XUC_STREAM_REPLICAS applied where streams are ensured, XUC_NATS_PUBLISH_BUFFER. Both are read
once, with the other settings, and passed in (xuc/runtime/bootstrap.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from xuc import subjects
from xuc.runtime import bootstrap
from xuc.runtime import nats as runtime_nats
from xuc.runtime.settings import Settings, SettingsError


def test_the_defaults() -> None:
    settings = Settings.from_env("", env={})
    assert settings.stream_replicas == 1
    assert settings.publish_buffer == 10_000


def test_the_values_are_read() -> None:
    env = {"XUC_STREAM_REPLICAS": " 3 ", "XUC_NATS_PUBLISH_BUFFER": "500"}
    settings = Settings.from_env("telephony", env=env)
    assert (settings.stream_replicas, settings.publish_buffer) == (3, 500)


@pytest.mark.parametrize(("name", "value"), [
    ("XUC_STREAM_REPLICAS", "0"), ("XUC_STREAM_REPLICAS", "6"), ("XUC_STREAM_REPLICAS", "three"),
    ("XUC_NATS_PUBLISH_BUFFER", "0"), ("XUC_NATS_PUBLISH_BUFFER", "-1"), ("XUC_NATS_PUBLISH_BUFFER", "1e4"),
])
def test_bad_values_are_refused_at_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env("", env={name: value})


def test_the_process_environment_is_read_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUC_STREAM_REPLICAS", "3")
    monkeypatch.setenv("XUC_NATS_PUBLISH_BUFFER", "42")
    settings = Settings.from_env("contacts")
    assert (settings.stream_replicas, settings.publish_buffer) == (3, 42)


def test_the_roots_publishers_and_streams_get_the_settings() -> None:
    events = bootstrap.Events(cast(Any, FakeConnection()), stream_replicas=3, publish_buffer=42)
    publisher = events.publisher(lambda event: ("subject", cast(Any, event)))
    assert publisher._buffer_size == 42


@pytest.mark.parametrize(("url", "servers"), [
    ("nats://127.0.0.1:4222", ["nats://127.0.0.1:4222"]),
    ("nats://n1:4222,nats://n2:4222, nats://n3:4222 ", ["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]),
    ("nats://n1:4222,,", ["nats://n1:4222"]),
])
def test_a_nats_url_may_list_the_nodes_of_a_cluster(url: str, servers: list[str]) -> None:
    assert runtime_nats.server_urls(url) == servers


def test_an_empty_nats_url_is_refused() -> None:
    with pytest.raises(ValueError, match="no NATS server"):
        runtime_nats.server_urls(" , ")


class FakeStreams:
    """A JetStream manager holding stream configurations by name."""

    def __init__(self) -> None:
        self.streams: dict[str, StreamConfig] = {}
        self.calls: list[str] = []

    async def stream_info(self, name: str) -> object:
        if name not in self.streams:
            raise NotFoundError
        return SimpleNamespace(config=self.streams[name])

    async def add_stream(self, config: StreamConfig) -> None:
        assert config.name
        self.calls.append("add")
        self.streams[config.name] = config

    async def update_stream(self, config: StreamConfig) -> None:
        assert config.name
        self.calls.append("update")
        self.streams[config.name] = config


async def test_streams_are_created_and_updated_with_the_replicas_setting() -> None:
    js = FakeStreams()
    await runtime_nats.ensure_stream(cast(Any, js), subjects.telephony_stream(), replicas=3)
    assert js.streams[subjects.TELEPHONY_STREAM].num_replicas == 3
    await runtime_nats.ensure_stream(cast(Any, js), subjects.telephony_stream())  # not given: kept
    assert js.streams[subjects.TELEPHONY_STREAM].num_replicas == 3
    await runtime_nats.ensure_stream(cast(Any, js), subjects.telephony_stream(), replicas=1)  # given: wins
    assert js.streams[subjects.TELEPHONY_STREAM].num_replicas == 1
    await runtime_nats.ensure_stream(cast(Any, js), subjects.auth_stream())  # a new one, not given: 1
    assert js.streams[subjects.AUTH_STREAM].num_replicas == 1
    assert js.calls == ["add", "update", "update", "add"]

    events = bootstrap.Events(cast(Any, FakeConnection(js)), stream_replicas=3, publish_buffer=1)
    await events.ensure_stream(subjects.auth_stream())
    assert js.streams[subjects.AUTH_STREAM].num_replicas == 3
    assert subjects.telephony_stream().num_replicas in (None, 1), "the catalogue's configuration is left alone"


class FakeConnection:
    """A NATS connection as far as the publishers and streams need one."""

    def __init__(self, js: FakeStreams | None = None) -> None:
        self._js = js or FakeStreams()

    def jetstream(self) -> FakeStreams:
        return self._js
