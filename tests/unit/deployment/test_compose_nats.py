"""compose.yaml's NATS: a 3-node cluster running JetStream on volumes of their own, users from
deploy/nats.conf, each component as its own user, every stream replicated on every node."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.compose_file import (
    HOST_ENV,
    NATS_CLUSTER_PORT,
    NATS_CONFIG,
    NATS_NODES,
    NATS_PASSWORDS,
    OUR_COMPONENTS,
    ROOT,
    MissingVariable,
    environment,
    interpolated,
    named_volume_at,
    services_of,
)
from xuc import nats_config
from xuc.runtime.nats_credentials import login_for
from xuc.runtime.settings import Settings


def option(command: list[str], name: str) -> str:
    """The value following `name` in a command line ("" when absent)."""
    return command[command.index(name) + 1] if name in command else ""


@pytest.mark.parametrize("name", NATS_NODES)
def test_each_nats_node_runs_jetstream_on_a_volume_of_its_own(compose: dict[str, Any], name: str) -> None:
    nats = services_of(compose)[name]
    assert nats["image"].startswith("nats:2.10")
    command = nats["command"]
    assert "-js" in command
    volume = named_volume_at(compose, nats, option(command, "-sd"))
    assert volume
    others = [named_volume_at(compose, services_of(compose)[other], option(services_of(compose)[other]["command"],
                                                                          "-sd")) for other in NATS_NODES]
    assert others.count(volume) == 1, "two nodes on one store"


def test_the_nats_nodes_form_one_cluster(compose: dict[str, Any]) -> None:
    commands = [services_of(compose)[name]["command"] for name in NATS_NODES]
    assert [option(command, "-n") for command in commands] == list(NATS_NODES), "unique server names"
    assert len({option(command, "--cluster_name") for command in commands}) == 1
    for command in commands:
        listen = urlsplit(option(command, "--cluster"))
        assert (listen.hostname, listen.port) == ("0.0.0.0", NATS_CLUSTER_PORT)
        routes = [urlsplit(route) for route in option(command, "--routes").split(",")]
        assert {(route.scheme, route.hostname, route.port) for route in routes} == {
            ("nats", node, NATS_CLUSTER_PORT) for node in NATS_NODES}


@pytest.mark.parametrize("name", NATS_NODES)
def test_each_nats_node_takes_its_users_from_deploy_nats_conf(compose: dict[str, Any], name: str) -> None:
    node = services_of(compose)[name]
    target = option(node["command"], "-c")
    assert f"./{NATS_CONFIG}:{target}:ro" in node["volumes"]
    assert {key: value for key, value in environment(node).items() if key in NATS_PASSWORDS} == NATS_PASSWORDS


def test_deploy_nats_conf_is_what_xuc_nats_config_env_prints() -> None:
    """The compose users have exactly the permissions `xuc up` gives its own (xuc/nats_config.py)."""
    text = (ROOT / NATS_CONFIG).read_text(encoding="utf-8")
    generated = nats_config.render({"authorization": nats_config.authorization()})
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert body.strip() == generated.strip(), f"run: xuc nats-config --env, and put its output in {NATS_CONFIG}"


@pytest.mark.parametrize("variable", sorted(NATS_PASSWORDS))
def test_compose_refuses_to_run_without_each_nats_password(raw: dict[str, Any], variable: str) -> None:
    with pytest.raises(MissingVariable, match=variable):
        interpolated(raw, {**HOST_ENV, variable: ""})


@pytest.mark.parametrize("name", OUR_COMPONENTS)
def test_each_component_connects_to_nats_as_its_own_user(compose: dict[str, Any], name: str) -> None:
    env = environment(services_of(compose)[name])
    urls = [urlsplit(url) for url in env["XUC_NATS_URL"].split(",")]
    password = NATS_PASSWORDS[f"XUC_NATS_{name.upper()}_PASSWORD"]
    assert {(url.username, url.password) for url in urls} == {(name, password)}
    login = login_for(Settings.from_env(name, env), name)
    assert login is not None
    assert login.user == name


def test_every_stream_is_replicated_on_every_nats_node(compose: dict[str, Any]) -> None:
    for name in OUR_COMPONENTS:
        settings = Settings.from_env(name, environment(services_of(compose)[name]))
        assert settings.stream_replicas == len(NATS_NODES) == 3
