"""The settings of publishing and streams: XUC_NATS_URL as a list of cluster nodes,
XUC_STREAM_REPLICAS applied where streams are ensured, XUC_NATS_PUBLISH_BUFFER."""

from __future__ import annotations

from typing import Any, cast

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from xuc import subjects
from xuc.runtime import nats as runtime_nats
from xuc.runtime.settings import Settings, SettingsError, publish_buffer_size, stream_replicas


def test_the_defaults() -> None:
    settings = Settings.from_env("", env={})
    assert settings.stream_replicas == 1
    assert settings.publish_buffer == 10_000
    assert stream_replicas({}) == 1
    assert publish_buffer_size({}) == 10_000


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
    assert (stream_replicas(), publish_buffer_size()) == (3, 42)


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
        return object()

    async def add_stream(self, config: StreamConfig) -> None:
        assert config.name
        self.calls.append("add")
        self.streams[config.name] = config

    async def update_stream(self, config: StreamConfig) -> None:
        assert config.name
        self.calls.append("update")
        self.streams[config.name] = config


async def test_streams_are_created_and_updated_with_the_replicas_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    js = FakeStreams()
    monkeypatch.setenv("XUC_STREAM_REPLICAS", "3")
    await runtime_nats.ensure_stream(cast(Any, js), subjects.telephony_stream())
    assert js.streams[subjects.TELEPHONY_STREAM].num_replicas == 3
    await runtime_nats.ensure_stream(cast(Any, js), subjects.telephony_stream(), replicas=1)  # given: wins
    assert js.streams[subjects.TELEPHONY_STREAM].num_replicas == 1
    assert js.calls == ["add", "update"]
    assert subjects.telephony_stream().num_replicas in (None, 1), "the catalogue's configuration is left alone"
