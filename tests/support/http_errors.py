"""The documented error answer of the REST API, checked exactly: status, `application/json`, and a
body of exactly `{"error": <code>, "message": <text>}` (no other key), with the message when the
test knows it.

Answers of status 500 and up never carry internals: their messages are the fixed ones below
(gateway/errors.py keeps the same texts), or for `JsonParsingError`, a 500 as the REST page
documents it, "The body is not valid JSON".
"""

from __future__ import annotations

from typing import Any

import httpx

UNREACHABLE_MESSAGE = "A service needed to answer is not reachable, try again later"
UNHANDLED_MESSAGE = "The request could not be handled"
# The gateway's own refusals of a request's credentials (gateway/requests.py, xuc/errors.py).
NO_CREDENTIALS_MESSAGE = "No Authorization header (or X-Auth-Token) was sent"
NO_BEARER_MESSAGE = "The Authorization header does not hold a Bearer token"
TOKEN_EXPIRED_MESSAGE = "The token has expired"


def assert_error_body(response: httpx.Response, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    """Assert a documented error answer; returns its body. `message`, when given, must match exactly."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error", "message"}, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    if message is not None:
        assert body["message"] == message, body
    return body
