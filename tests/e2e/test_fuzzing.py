"""Property-based fuzzing of every REST route of the OpenAPI description, with schemathesis.

The description is gateway/openapi.yaml, the one the gateway serves; each of its operations
becomes one test, whose cases schemathesis generates from the schemas (examples, boundary and
wrong-typed values, missing keys, random data) and sends over HTTP to a stack started by `xuc up`,
with a valid user token. For every answer:

- no 5xx but the documented ones (`Unreachable`, SSO not configured...): see `documented_server_error`;
- an error answer is the documented shape `{"error": <code>, "message": <text>}` and its code is
  one the description names for that operation and status (or a code every route may answer);
- status codes, content types, headers and bodies conform to the description (schemathesis' own checks).

Bounded: MAX_EXAMPLES cases per operation and phase, derandomized (the same cases every run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import load_openapi
from tests.e2e.conftest import BASE, Stack

MAX_EXAMPLES = 15
# The users, agent, queues and qualification the description's examples name, so that the examples
# (and the cases built from them) reach the success paths too.
FUZZ_USERS = {
    # login: (password, line)
    "alicej": ("alice-secret", "1001"),
    "john": ("john-secret", "1002"),
}
# Codes any route may answer, whatever its own description says (see the description's introduction).
GLOBAL_CODES = {
    404: {"NotFound"},
    405: {"MethodNotAllowed"},
    408: {"RequestTimeout"},
    413: {"PayloadTooLarge"},
    503: {"Unreachable"},
}
# The 5xx a healthy stack may answer: SSO methods this stack does not configure (documented as 501).
DOCUMENTED_SERVER_ERRORS = {(501, "CasServerUrlNotSet"), (501, "OidcNotEnabled"),
                            (500, "JsonParsingError")}  # a contact body that is not JSON, as the page says
_CODE = re.compile(r"`([A-Za-z]+)`")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own (the fuzzer creates and deletes at will), answering the 1.0 API to 127.0.0.1."""
    stack = Stack(tmp_path_factory.mktemp("fuzz"), extra_env={
        "DEPRECATED_API_HOST": "127.0.0.1",
        "XUC_SIM_RING_TIMEOUT": "1",
    }).start()
    try:
        path = stack.write_file("fuzz.yaml", {
            "users": [{"login": login, "password": password, "line": line}
                      for login, (password, line) in FUZZ_USERS.items()],
            # Agent 1 is the one the documented answer names (an answer names one of the caller's).
            "agents": [{"number": "2001", "user": "alicej"}, {"number": "1", "user": "alicej"}],
            "queues": [{"id": 1, "name": "sales", "number": "3001", "agents": ["1"]},
                       {"id": 5, "name": "support", "number": "3000", "agents": ["2001"]}],
            "qualifications": [{"name": "Support", "queues": [1, 5],
                                "subQualifications": [{"name": "Technical"}, {"name": "General"}]}],
        })
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture(scope="module")
def fuzz_token(fuzz_stack: Stack) -> str:
    password = FUZZ_USERS["alicej"][0]
    response = httpx.post(f"{fuzz_stack.url}{BASE}/auth/login", json={"login": "alicej", "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


# The source file, read at collection so that each operation is a test of its own (what the gateway
# serves is this file: test_http_edges.py checks it). schemathesis' lazy loading from a fixture does
# not work with this pytest.
DESCRIPTION = load_openapi()
schema = schemathesis.openapi.from_dict(DESCRIPTION)


# --- checks ---------------------------------------------------------------------------------------
def _documented_codes(case: Case, status: int) -> set[str]:
    """The error codes the description names (in backquotes) for this operation and status."""
    responses = DESCRIPTION["paths"][case.operation.path][case.operation.method.lower()]["responses"]
    documented = responses.get(str(status), {})
    if "$ref" in documented:  # "#/components/responses/Name"
        documented = DESCRIPTION["components"]["responses"][documented["$ref"].rpartition("/")[2]]
    return set(_CODE.findall(documented.get("description", ""))) | GLOBAL_CODES.get(status, set())


def error_body_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is `{"error": <documented code>, "message": <text>}`, as JSON."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (response.status_code, content_type, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    # The documented keys, and no other but those the Error schema may add.
    assert {"error", "message"} <= set(body) <= set(DESCRIPTION["components"]["schemas"]["Error"]["properties"]), body
    assert isinstance(body["error"], str), body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    documented = _documented_codes(case, response.status_code)
    assert body["error"] in documented, (
        f"{case.operation.label}: {response.status_code} {body['error']!r} is not documented "
        f"(documented: {sorted(documented)})")
    return None


def documented_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """No 5xx but the documented ones a healthy stack may answer."""
    if response.status_code < 500:
        return None
    body = response.json()
    assert (response.status_code, body.get("error")) in DOCUMENTED_SERVER_ERRORS, (
        f"{case.operation.label}: server error {response.status_code} {body}")
    return None


CHECKS = [documented_server_error, error_body_shape, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_route_answers_fuzzed_requests_as_documented(case: Case, fuzz_stack: Stack, fuzz_token: str) -> None:
    case.call_and_validate(base_url=fuzz_stack.url, headers={"X-Auth-Token": fuzz_token}, checks=CHECKS, timeout=30)
