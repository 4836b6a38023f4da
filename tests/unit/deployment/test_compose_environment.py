"""compose.yaml's interpolation (as these tests do it), its names, and the environment it gives our
components: valid settings, and only variables the code knows."""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest

from tests.support.compose_file import (
    GRPC_SERVICES,
    HOST_ENV,
    OUR_COMPONENTS,
    ROOT,
    SOURCE_DIRS,
    THIRD_PARTY,
    MissingVariable,
    environment,
    interpolate,
    services_of,
)
from xuc.runtime.settings import Settings, WebhooksSettings


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
