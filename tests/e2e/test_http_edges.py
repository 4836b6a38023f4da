"""What every HTTP client meets around the routes: CORS, errors for unknown routes, health, OpenAPI."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import load_openapi
from tests.e2e.conftest import APP_ORIGIN, BASE, MAX_BODY_BYTES, assert_error, assert_token_answer, login_body
from tests.support.http_errors import NO_CREDENTIALS_MESSAGE

LOGIN = f"{BASE}/auth/login"
CHECK = f"{BASE}/auth/check"
ALLOW_ORIGIN = "access-control-allow-origin"


# --- CORS -----------------------------------------------------------------------------------------
def test_a_preflight_from_the_allowed_origin_is_allowed(api: httpx.Client) -> None:
    response = api.options(LOGIN, headers={
        "Origin": APP_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    })

    assert response.status_code == 200, response.text
    assert response.headers[ALLOW_ORIGIN] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize("header", ["Authorization", "X-Auth-Token"])
def test_a_preflight_may_announce_the_token_headers(api: httpx.Client, header: str) -> None:
    response = api.options(CHECK, headers={
        "Origin": APP_ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": header,
    })

    assert response.status_code == 200, response.text
    assert response.headers[ALLOW_ORIGIN] == APP_ORIGIN
    assert header.lower() in response.headers["access-control-allow-headers"].lower()


def test_a_successful_answer_to_the_allowed_origin_carries_cors_headers(api: httpx.Client) -> None:
    response = api.post(LOGIN, json=login_body("alicej"), headers={"Origin": APP_ORIGIN})

    assert_token_answer(response, "alicej")
    assert response.headers[ALLOW_ORIGIN] == APP_ORIGIN


def test_an_error_answer_to_the_allowed_origin_carries_cors_headers(api: httpx.Client) -> None:
    response = api.get(CHECK, headers={"Origin": APP_ORIGIN})

    assert_error(response, 401, "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)
    assert response.headers[ALLOW_ORIGIN] == APP_ORIGIN


def test_a_payload_too_large_answer_carries_cors_headers(api: httpx.Client) -> None:
    response = api.post(LOGIN, content=b"x" * (MAX_BODY_BYTES + 1),
                        headers={"Origin": APP_ORIGIN, "Content-Type": "application/json"})

    assert_error(response, 413, "PayloadTooLarge")
    assert response.headers[ALLOW_ORIGIN] == APP_ORIGIN


def test_another_origin_is_not_allowed(api: httpx.Client) -> None:
    other = "http://evil.example"
    preflight = api.options(LOGIN, headers={"Origin": other, "Access-Control-Request-Method": "POST"})
    request = api.get(CHECK, headers={"Origin": other})

    assert ALLOW_ORIGIN not in preflight.headers
    assert_error(preflight, 400, "CorsNotAllowed")  # refused, in the same error shape as everything else
    # answered, but not readable by that page
    assert_error(request, 401, "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)
    assert ALLOW_ORIGIN not in request.headers


# --- unknown routes -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", f"{BASE}/auth/unknown", "/xuc/api/1.0/auth/login"])
def test_an_unknown_path_is_not_found(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 404, "NotFound")


@pytest.mark.parametrize(("method", "path"), [("GET", LOGIN), ("PUT", LOGIN), ("POST", CHECK), ("DELETE", CHECK)])
def test_a_wrong_method_is_method_not_allowed(api: httpx.Client, method: str, path: str) -> None:
    assert_error(api.request(method, path), 405, "MethodNotAllowed")


def test_a_method_not_allowed_answer_says_which_methods_are(api: httpx.Client) -> None:
    response = api.get(LOGIN)

    assert response.status_code == 405
    assert response.headers.get("allow") == "POST"  # RFC 9110 15.5.6: a 405 MUST carry Allow


# --- health ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_health(api: httpx.Client, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 200, response.text
    assert response.text


# --- OpenAPI --------------------------------------------------------------------------------------
def test_the_openapi_document_describes_the_auth_routes(api: httpx.Client) -> None:
    response = api.get("/xuc/api/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "post" in document["paths"][LOGIN]
    assert "get" in document["paths"][CHECK]
    assert document == load_openapi()  # what is served is the documented source file
