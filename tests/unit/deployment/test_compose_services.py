"""compose.yaml's components: built from the repository, reaching each other through DNS names,
2 replicas of each stateless component and one telephony service, PostgreSQL shared, ports, volumes
and start order."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.compose_file import (
    COMPOSE_FILE,
    GRPC_SERVICES,
    HOST_ENV,
    NATS_CLIENT_PORT,
    NATS_NODES,
    OUR_COMPONENTS,
    ROOT,
    STATELESS,
    MissingVariable,
    environment,
    healthcheck_command,
    interpolated,
    named_volume_at,
    services_of,
)
from xuc.runtime.settings import Settings


def grpc_port(compose: dict[str, Any], name: str) -> int:
    listen = environment(services_of(compose)[name])[f"XUC_{name.upper()}_GRPC_LISTEN"]
    return int(listen.rpartition(":")[2])


def replicas(service: Mapping[str, Any]) -> int:
    return int((service.get("deploy") or {}).get("replicas", 1))


def test_postgres_is_checked_and_stores_on_a_volume(raw: dict[str, Any], compose: dict[str, Any]) -> None:
    postgres = services_of(compose)["postgres"]
    assert postgres["image"].startswith("postgres:16")
    env = environment(postgres)
    assert env["POSTGRES_DB"] == "xuc"
    assert "${XUC_DB_PASSWORD:-" in environment(services_of(raw)["postgres"])["POSTGRES_PASSWORD"]
    assert any("pg_isready" in part for part in healthcheck_command(postgres))
    assert named_volume_at(compose, postgres, "/var/lib/postgresql/data")


@pytest.mark.parametrize("name", OUR_COMPONENTS)
def test_each_component_is_built_from_the_repository(compose: dict[str, Any], name: str) -> None:
    service = services_of(compose)[name]
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (COMPOSE_FILE.parent / context).resolve() == ROOT
    if isinstance(build, dict):
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert "image" not in service, "one image for all: every component builds the same Dockerfile"
    assert "entrypoint" not in service, "the image's `python -m` entry point runs the command"


@pytest.mark.parametrize(("name", "module"), OUR_COMPONENTS.items())
def test_each_command_is_a_runnable_module(compose: dict[str, Any], name: str, module: str) -> None:
    command = services_of(compose)[name]["command"]
    assert command == [module]
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"python -m {module} would fail"


@pytest.mark.parametrize("name", OUR_COMPONENTS)
def test_each_component_reaches_nats_and_trusts_the_service_token(
    raw: dict[str, Any], compose: dict[str, Any], name: str
) -> None:
    env = environment(services_of(compose)[name])
    urls = [urlsplit(url) for url in env["XUC_NATS_URL"].split(",")]
    assert [(url.scheme, url.hostname, url.port) for url in urls] == [
        ("nats", node, NATS_CLIENT_PORT) for node in NATS_NODES], "every node, so that clients fail over"
    assert env["XUC_SERVICE_TOKEN"] == HOST_ENV["XUC_SERVICE_TOKEN"]
    assert env["XUC_LOG_FORMAT"] == "json"
    raw_token = environment(services_of(raw)[name])["XUC_SERVICE_TOKEN"]
    assert raw_token.startswith("${XUC_SERVICE_TOKEN:?"), "a missing token must stop compose, not start insecurely"


def test_compose_refuses_to_run_without_a_service_token(raw: dict[str, Any]) -> None:
    with pytest.raises(MissingVariable, match="XUC_SERVICE_TOKEN"):
        interpolated(raw, {})
    with pytest.raises(MissingVariable, match="XUC_SERVICE_TOKEN"):
        interpolated(raw, {"XUC_SERVICE_TOKEN": ""})


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_each_grpc_service_listens_on_all_interfaces(compose: dict[str, Any], name: str) -> None:
    env = environment(services_of(compose)[name])
    listen = env[f"XUC_{name.upper()}_GRPC_LISTEN"]
    host, _, port = listen.rpartition(":")
    assert host in ("0.0.0.0", "[::]"), "other containers must reach it"
    assert port.isdigit()
    assert [key for key in env if key.endswith("_GRPC_LISTEN")] == [f"XUC_{name.upper()}_GRPC_LISTEN"]


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_the_gateway_is_given_each_service_address(compose: dict[str, Any], name: str) -> None:
    env = environment(services_of(compose)["gateway"])
    assert env[f"XUC_{name.upper()}_ADDRESS"] == f"dns:///{name}:{grpc_port(compose, name)}"


@pytest.mark.parametrize(("client", "name"), [("contacts", "auth"), ("contacts", "telephony"), ("telephony", "auth")])
def test_services_reach_each_other_through_dns_names(compose: dict[str, Any], client: str, name: str) -> None:
    """`dns:///name:port`: gRPC resolves every replica's address and balances round-robin."""
    env = environment(services_of(compose)[client])
    assert env[f"XUC_{name.upper()}_ADDRESS"] == f"dns:///{name}:{grpc_port(compose, name)}"


@pytest.mark.parametrize("name", STATELESS)
def test_each_stateless_component_runs_two_replicas(compose: dict[str, Any], name: str) -> None:
    assert replicas(services_of(compose)[name]) >= 2


def test_telephony_runs_one_instance(compose: dict[str, Any]) -> None:
    """It holds the PBX connection and the live calls (a standby needs the failover mode)."""
    assert replicas(services_of(compose)["telephony"]) == 1


def test_the_gateway_publishes_8090_and_a_port_per_replica(compose: dict[str, Any]) -> None:
    gateway = services_of(compose)["gateway"]
    (published,) = [str(port) for port in gateway["ports"]]
    host, _, container = published.partition(":")
    first, _, last = host.partition("-")
    assert container == "8090"
    assert int(first) == 8090
    assert int(last or first) - int(first) + 1 == replicas(gateway), "a replica without a host port would not start"
    env = environment(gateway)
    assert env["XUC_HTTP_PORT"] == "8090"
    assert env.get("XUC_HTTP_HOST", "0.0.0.0") == "0.0.0.0"


def test_only_the_gateway_publishes_ports(compose: dict[str, Any]) -> None:
    assert [name for name, service in services_of(compose).items() if service.get("ports")] == ["gateway"]


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_the_grpc_services_share_the_postgres_database(compose: dict[str, Any], name: str) -> None:
    postgres = environment(services_of(compose)["postgres"])
    url = urlsplit(environment(services_of(compose)[name])["XUC_DATABASE_URL"])
    assert url.scheme == "postgresql"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.username == postgres.get("POSTGRES_USER", "postgres")
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path == f"/{postgres['POSTGRES_DB']}"


def test_the_database_password_follows_xuc_db_password(raw: dict[str, Any]) -> None:
    document = interpolated(raw, {**HOST_ENV, "XUC_DB_PASSWORD": "s3cret"})
    assert environment(services_of(document)["postgres"])["POSTGRES_PASSWORD"] == "s3cret"
    assert urlsplit(environment(services_of(document)["auth"])["XUC_DATABASE_URL"]).password == "s3cret"


def test_the_auth_replicas_share_the_signing_keys_in_the_database(compose: dict[str, Any]) -> None:
    """No key file (one per container would sign with different keys): the keys are in PostgreSQL,
    on its volume, and survive restarts."""
    settings = Settings.from_env("auth", environment(services_of(compose)["auth"]))
    assert settings.signing_key_file is None
    assert urlsplit(settings.database_url).hostname == "postgres"


def test_every_named_volume_used_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services_of(compose).items():
        for volume in service.get("volumes") or []:
            source = volume.partition(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, (name, source)


# --- start order -----------------------------------------------------------------------------------------
def test_dependencies_exist_and_wait_as_they_should(compose: dict[str, Any]) -> None:
    services = services_of(compose)
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: use the long form, with conditions"
        for target, rule in depends_on.items():
            assert target in services, (name, target)
            expected = "service_healthy" if target == "postgres" else "service_started"
            assert rule["condition"] == expected, (name, target)


@pytest.mark.parametrize("name", OUR_COMPONENTS)
def test_each_component_starts_after_nats(compose: dict[str, Any], name: str) -> None:
    assert set(NATS_NODES) <= set(services_of(compose)[name]["depends_on"])


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_each_grpc_service_waits_for_a_healthy_postgres(compose: dict[str, Any], name: str) -> None:
    assert services_of(compose)[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_gateway_starts_after_the_services(compose: dict[str, Any]) -> None:
    assert set(GRPC_SERVICES) <= set(services_of(compose)["gateway"]["depends_on"])
