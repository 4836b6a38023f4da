"""Reading what a client sent: JSON bodies and credentials, with the documented error codes."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from xuc.errors import DomainError, ErrorKind, MissingCredentials


class InvalidJson(DomainError):
    reason = "InvalidJson"
    kind = ErrorKind.INVALID
    default_message = "The body is not the JSON this route expects"


class BearerNotFound(DomainError):
    reason = "BearerNotFound"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "The Authorization header does not hold a Bearer token"


class PayloadTooLarge(DomainError):
    reason = "PayloadTooLarge"
    kind = ErrorKind.INVALID
    default_message = "The request body is too large"


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, whatever JSON content type (and charset) it was labelled with."""
    body = await request.body()
    try:
        value = json.loads(body)  # detects UTF-8/16/32 from the bytes themselves
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; nesting bombs recurse
        raise InvalidJson("The body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidJson("The body must be a JSON object")
    return value


def required_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidJson(f"'{name}' is required and must be a string")
    return value


def optional_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


def presented_token(request: Request) -> str:
    """The user token: `X-Auth-Token` (as the documented examples) or `Authorization: Bearer`."""
    token = request.headers.get("x-auth-token")
    if token is not None and token.strip():
        return token.strip()
    authorization = request.headers.get("authorization")
    if authorization is None:
        raise MissingCredentials("No Authorization header (or X-Auth-Token) was sent")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise BearerNotFound()
    return credentials.strip()


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""
