"""gateway/openapi.yaml documents exactly the routes the gateway serves, no more, no fewer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

from gateway.app import GatewayConfig, create_app, load_openapi
from gateway.errors import TABLE, unhandled_code

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
CONVERTOR = re.compile(r"\{(\w+):\w+\}")  # Starlette's "{queueId:int}" is OpenAPI's "{queueId}"


def _served(routes: Iterable[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    served: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            methods = {method.lower() for method in route.methods or ()} - {"head"}  # HEAD comes with GET
            served |= {(CONVERTOR.sub(r"{\1}", prefix + route.path), method) for method in methods}
        elif isinstance(route, Mount):
            served |= _served(route.routes, prefix + route.path)
        else:
            raise AssertionError(f"a route this test cannot read: {route!r}; teach it")
    return served


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item
            if method in HTTP_METHODS}


def test_every_served_route_is_documented_and_every_documented_one_served() -> None:
    # The handlers are not called: no stub or key cache is needed to list the routes.
    app = create_app(GatewayConfig(service_token="unused"), None, None, None, None)  # type: ignore[arg-type]

    served = _served(app.routes)

    assert served, "no routes found"
    assert served == _documented(load_openapi())


def test_every_operation_has_an_id_and_answers() -> None:
    document = load_openapi()
    operations = [operation for item in document["paths"].values()
                  for method, operation in item.items() if method in HTTP_METHODS]

    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    assert all(operation.get("responses") for operation in operations)
    assert all(str(status).isdigit() for operation in operations for status in operation["responses"])


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_resolves() -> None:
    document = load_openapi()

    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict), f"{ref} does not resolve"
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def _parameters(document: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    resolved = []
    for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rpartition("/")[2]]
        resolved.append(parameter)
    return resolved


def test_every_path_parameter_is_described() -> None:
    document = load_openapi()

    for path, item in document["paths"].items():
        in_path = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            described = {parameter["name"] for parameter in _parameters(document, item, operation)
                         if parameter["in"] == "path"}
            assert described == in_path, (path, method)


ERROR_CODE = re.compile(r"`([A-Z][a-z]+[A-Za-z]*)`")  # `NotFound`, not `PUT`
NOT_CODES = {"Origin"}  # a header named in backquotes


def test_every_documented_error_is_answered_with_its_status_by_the_gateways_table() -> None:
    document = load_openapi()
    wrong = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                if "$ref" in response:
                    response = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
                for code in set(ERROR_CODE.findall(response.get("description", ""))) - NOT_CODES:
                    answered = TABLE.get(code, (500, unhandled_code(path)))
                    if answered != (int(status), code):
                        wrong.append(f"{method.upper()} {path}: {status} {code}, answered {answered}")
    assert wrong == []
