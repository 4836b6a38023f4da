"""compose.yaml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose file describes the deployment across machines: a 3-node NATS cluster (JetStream,
streams with as many replicas as nodes), PostgreSQL, 2 replicas of each stateless component
reached through `dns:///` names (gRPC round-robin), one telephony service.

The compose file is read with PyYAML (anchors and `<<` merges resolve as Compose resolves them) and
interpolated here the way Compose does (`${VAR:-default}`, `${VAR:?error}`, `$$`), against a
chosen host environment. Its healthcheck commands are run for real against a local gRPC health
server and a local HTTP server.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from xuc import nats_config
from xuc.runtime.nats_credentials import login_for
from xuc.runtime.settings import Settings, WebhooksSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SOURCE_DIRS = ("xuc", "services", "gateway")  # where the processes' code lives

OUR_COMPONENTS = {
    "auth": "services.auth",
    "contacts": "services.contacts",
    "telephony": "services.telephony",
    "gateway": "gateway",
    "webhooks": "services.webhooks",
}
GRPC_SERVICES = ("auth", "contacts", "telephony")
NATS_NODES = ("nats-1", "nats-2", "nats-3")
NATS_CLIENT_PORT, NATS_CLUSTER_PORT = 4222, 6222
THIRD_PARTY = (*NATS_NODES, "postgres")
STATELESS = ("gateway", "auth", "contacts")  # run as several replicas
NATS_PASSWORDS = {f"XUC_NATS_{user.upper()}_PASSWORD": f"{user}-password-from-the-host" for user in nats_config.USERS}
HOST_ENV = {"XUC_SERVICE_TOKEN": "token-from-the-host", **NATS_PASSWORDS}
NATS_CONFIG = "deploy/nats.conf"


# --- Compose interpolation ------------------------------------------------------------------------------
class MissingVariable(Exception):
    pass


_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>.*))?", re.DOTALL)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """A string as Compose interpolates it from the host environment `env` (no nested `${...}`)."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["plain"]:
            return env.get(match["plain"], "")
        parsed = _BRACED.fullmatch(match["braced"])
        if parsed is None:
            raise ValueError(f"invalid interpolation {match[0]!r}")
        name, operator, argument = parsed["name"], parsed["operator"], parsed["argument"] or ""
        value = env.get(name)
        unset_or_empty = not value if operator and operator.startswith(":") else value is None
        if operator in (":-", "-"):
            return interpolate(argument, env) if unset_or_empty else str(value)
        if operator in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {argument}")
            return str(value)
        if operator in (":+", "+"):
            return "" if unset_or_empty else interpolate(argument, env)
        return value or ""

    return _REFERENCE.sub(replace, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    return node


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, mapping or `KEY=value` list, as strings."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def healthcheck_command(service: Mapping[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert isinstance(test, list), "use the exec form: [CMD, ...]"
    return list(test)


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


def services_of(document: Mapping[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = document["services"]
    return services


# --- the interpolation of these tests ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("pre-${A}-post", {"A": "y"}, "pre-y-post"),
        ("$A/$$A", {"A": "y"}, "y/$A"),
        ("${A:?need A}", {"A": "y"}, "y"),
    ],
)
def test_interpolation_of_these_tests(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_a_required_variable_is_required() -> None:
    with pytest.raises(MissingVariable, match="need A"):
        interpolate("${A:?need A}", {"A": ""})


# --- the services ---------------------------------------------------------------------------------------
def test_compose_names_every_component(raw: dict[str, Any]) -> None:
    assert set(services_of(raw)) >= {*THIRD_PARTY, *OUR_COMPONENTS}


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


def grpc_port(compose: dict[str, Any], name: str) -> int:
    listen = environment(services_of(compose)[name])[f"XUC_{name.upper()}_GRPC_LISTEN"]
    return int(listen.rpartition(":")[2])


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_the_gateway_is_given_each_service_address(compose: dict[str, Any], name: str) -> None:
    env = environment(services_of(compose)["gateway"])
    assert env[f"XUC_{name.upper()}_ADDRESS"] == f"dns:///{name}:{grpc_port(compose, name)}"


@pytest.mark.parametrize(("client", "name"), [("contacts", "auth"), ("contacts", "telephony"), ("telephony", "auth")])
def test_services_reach_each_other_through_dns_names(compose: dict[str, Any], client: str, name: str) -> None:
    """`dns:///name:port`: gRPC resolves every replica's address and balances round-robin."""
    env = environment(services_of(compose)[client])
    assert env[f"XUC_{name.upper()}_ADDRESS"] == f"dns:///{name}:{grpc_port(compose, name)}"


def replicas(service: Mapping[str, Any]) -> int:
    return int((service.get("deploy") or {}).get("replicas", 1))


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


def named_volume_at(compose: Mapping[str, Any], service: Mapping[str, Any], target: str) -> str:
    """The named volume mounted at `target` in `service` (declared at the top level), or ""."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            mounted = rest.split(":")[0]
        else:
            source, mounted = volume.get("source", ""), volume.get("target", "")
        if mounted == target and source in (compose.get("volumes") or {}):
            return str(source)
    return ""


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


# --- the settings the processes will read --------------------------------------------------------------------
@pytest.mark.parametrize("name", OUR_COMPONENTS)
def test_the_environment_makes_valid_settings(compose: dict[str, Any], name: str) -> None:
    env = environment(services_of(compose)[name])
    settings = Settings.from_env(name, env)
    assert settings.service_token == HOST_ENV["XUC_SERVICE_TOKEN"]
    assert settings.nats_url == env["XUC_NATS_URL"]
    assert settings.log_format == "json"
    if name in GRPC_SERVICES:
        assert settings.grpc_listen == env[f"XUC_{name.upper()}_GRPC_LISTEN"]
        assert settings.database_url == env["XUC_DATABASE_URL"]
    elif name == "webhooks":
        own = WebhooksSettings.from_env(env)
        assert own.event_url == ""  # idle unless the host sets XUC_EVENT_URL
        assert own.listen == "0.0.0.0:9090"
    else:
        assert settings.auth_address == env["XUC_AUTH_ADDRESS"]
        assert settings.http_port == 8090


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _template(node: ast.JoinedStr) -> re.Pattern[str] | None:
    """f"{prefix}GRPC_LISTEN" or f"XUC_{name.upper()}_ADDRESS" as a pattern of the names it makes."""
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if not re.fullmatch(r"[A-Z0-9_]*", value.value):
                return None
            parts.append(re.escape(value.value))
        else:
            parts.append("[A-Z][A-Z0-9_]*")
    constant = "".join(
        value.value for value in node.values if isinstance(value, ast.Constant) and isinstance(value.value, str)
    )
    return re.compile("".join(parts)) if len(constant) >= 4 else None


def variables_known_to_the_code() -> tuple[set[str], list[re.Pattern[str]]]:
    """Variable names in string literals of our code (docstrings aside), and f-string name templates."""
    names: set[str] = set()
    templates: list[re.Pattern[str]] = []
    for directory in SOURCE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr) and (template := _template(node)) is not None:
                    templates.append(template)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    names.update(re.findall(r"\b(?:XUC|DEPRECATED)_[A-Z0-9_]+\b", node.value))
    return names, templates


def test_every_variable_compose_gives_our_components_is_known_to_the_code(compose: dict[str, Any]) -> None:
    names, templates = variables_known_to_the_code()
    assert "XUC_NATS_URL" in names, "the scan of the source found nothing: is SOURCE_DIRS right?"
    unknown = {
        (service_name, variable)
        for service_name in OUR_COMPONENTS
        for variable in environment(services_of(compose)[service_name])
        if variable not in names
        and not (variable.startswith("XUC_") and any(template.fullmatch(variable) for template in templates))
    }
    assert not unknown, f"compose sets variables no code reads (misspelt?): {sorted(unknown)}"


# --- healthchecks, run for real ---------------------------------------------------------------------------
def run_check(command: list[str], env: dict[str, str]) -> int:
    assert command[0] == "CMD"
    assert command[1] == "python", "the image's interpreter"
    argv = [sys.executable, *command[2:]]
    return subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False).returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


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


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_the_grpc_healthcheck_reports_the_health_service(
    compose: dict[str, Any], name: str, health_server: tuple[int, health.HealthServicer]
) -> None:
    port, servicer = health_server
    command = healthcheck_command(services_of(compose)[name])
    env = {f"XUC_{name.upper()}_GRPC_LISTEN": f"0.0.0.0:{port}"}
    assert run_check(command, env) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert run_check(command, env) != 0


def test_the_grpc_healthcheck_fails_when_nothing_listens(compose: dict[str, Any]) -> None:
    command = healthcheck_command(services_of(compose)["auth"])
    assert run_check(command, {"XUC_AUTH_GRPC_LISTEN": f"0.0.0.0:{free_port()}"}) != 0


class _Health(BaseHTTPRequestHandler):
    ready = True

    def do_GET(self) -> None:
        status = 200 if self.path == "/health/ready" and self.ready else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_gateway_healthcheck_asks_for_readiness(compose: dict[str, Any]) -> None:
    command = healthcheck_command(services_of(compose)["gateway"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"XUC_HTTP_PORT": str(server.server_address[1])}
        assert run_check(command, env) == 0
        _Health.ready = False
        assert run_check(command, env) != 0
    finally:
        _Health.ready = True
        server.shutdown()
        server.server_close()
        thread.join()


# --- Dockerfile and .dockerignore ---------------------------------------------------------------------
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def instruction(keyword: str) -> list[str]:
    return [arguments for name, arguments in instructions() if name == keyword]


def test_the_image_runs_python_m_with_the_gateway_by_default() -> None:
    assert [json.loads(arguments) for arguments in instruction("ENTRYPOINT")] == [["python", "-m"]]
    assert [json.loads(arguments) for arguments in instruction("CMD")] == [["gateway"]]
    assert importlib.util.find_spec("gateway.__main__") is not None


def test_the_image_is_python_311_slim() -> None:
    assert instruction("FROM") == ["python:3.11-slim"]


def test_the_image_installs_the_package_without_a_cache() -> None:
    assert any("pip install --no-cache-dir ." in arguments for arguments in instruction("RUN"))


def test_the_image_runs_unprivileged() -> None:
    users = instruction("USER")
    assert users, "no USER: the processes would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern) for pattern in patterns)


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_leaves_out_local_state() -> None:
    patterns = dockerignore_patterns()
    for path in (".git", ".venv", ".xuc", "xuc.egg-info", "build", "xuc/__pycache__/x.pyc"):
        assert ignored(path, patterns) or ignored(path.split("/")[-1], patterns), path


def test_every_copied_path_exists_and_reaches_the_build() -> None:
    patterns = dockerignore_patterns()
    copied = [arguments.split()[:-1] for arguments in instruction("COPY")]
    sources = [source for sources in copied for source in sources]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_every_package_of_the_distribution_is_copied() -> None:
    sources = {source.rstrip("/") for arguments in instruction("COPY") for source in arguments.split()[:-1]}
    assert {"pyproject.toml", "README.md"} <= sources
    for package in ("xuc", "xucproto", "services", "gateway"):
        assert package in sources, f"the image would lack the {package} package"
