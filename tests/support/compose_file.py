"""compose.yaml read and interpolated the way Compose does, without a Docker engine.

The compose file is read with PyYAML (anchors and `<<` merges resolve as Compose resolves them) and
interpolated here the way Compose does (`${VAR:-default}`, `${VAR:?error}`, `$$`), against a
chosen host environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xuc import nats_config

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


def services_of(document: Mapping[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = document["services"]
    return services


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
