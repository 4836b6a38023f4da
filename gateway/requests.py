"""Reading what a client sent: JSON bodies and credentials, with the documented error codes."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

from starlette.requests import Request

from xuc.errors import DomainError, ErrorKind, MissingCredentials

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TYPE_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false"}
TRAILING_COMMAS_MAX_BYTES = 64 * 1024


class InvalidJson(DomainError):
    reason = "InvalidJson"
    kind = ErrorKind.INVALID
    default_message = "The body is not the JSON this route expects"


class BearerNotFound(DomainError):
    reason = "BearerNotFound"
    kind = ErrorKind.UNAUTHENTICATED
    default_message = "The Authorization header does not hold a Bearer token"


class JsonParsingError(DomainError):
    """Personal contacts: the body is not JSON; answered 500 as the REST page documents it, though
    the client's doing (gateway/errors.py)."""

    reason = "JsonParsingError"
    kind = ErrorKind.INVALID
    default_message = "The personal contact sent is not valid JSON"


class InvalidContactRequest(DomainError):
    """Personal contacts: the JSON (or query) is not the shape of a contact (unknown key, wrong type)."""

    reason = "InvalidContact"
    kind = ErrorKind.INVALID
    default_message = "Personal contact has bad format"


class JsonBodyNotFound(DomainError):
    reason = "JsonBodyNotFound"
    kind = ErrorKind.INVALID
    default_message = "No qualification answer was sent"


class JsonErrorDecoding(DomainError):
    reason = "JsonErrorDecoding"
    kind = ErrorKind.INVALID
    default_message = "The qualification answer sent is not valid"


class PayloadTooLarge(DomainError):
    reason = "PayloadTooLarge"
    kind = ErrorKind.INVALID
    default_message = "The request body is too large"


class RequestTimeout(DomainError):
    reason = "RequestTimeout"
    kind = ErrorKind.INVALID
    default_message = "The request did not arrive in time"


class OriginNotAllowed(DomainError):
    """A state-changing request sent by a web page of an origin neither ours nor allowed (CSRF)."""

    reason = "OriginNotAllowed"
    kind = ErrorKind.FORBIDDEN
    default_message = "Requests from this origin are not allowed"


class RequestHeaderFieldsTooLarge(DomainError):
    reason = "RequestHeaderFieldsTooLarge"
    kind = ErrorKind.INVALID
    default_message = "The request line and headers are too large"


def without_trailing_commas(text: str) -> str:
    """`text` without the commas that end a JSON object or array after a value
    (`{"token": "1234-5678",}`, as the mobile documentation writes it). Commas in strings, and
    those that follow no value (`[,]`), stay: what was not JSON but for them still is not. Linear."""
    kept: list[str] = []
    comma = -1  # where in `kept` a comma after a value waits to learn what follows it
    previous = ""  # the last character outside strings that is not whitespace
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                previous = char
        elif char not in " \t\r\n":
            if char == ",":
                comma = len(kept) if previous not in ("", "{", "[", ",") else -1
            elif char in "}]" and comma >= 0:
                kept[comma] = ""
                comma = -1
            else:
                comma = -1
            in_string = char == '"'
            previous = char
        kept.append(char)
    return "".join(kept)


async def json_value(request: Request, invalid: type[DomainError] = InvalidJson,
                     empty: type[DomainError] | None = None, trailing_commas: bool = False) -> Any:
    """The body as JSON, whatever JSON content type (and charset) it was labelled with.

    `invalid` is raised for bytes that are not JSON and `empty` (when given) for no body at all:
    each section of the API documents its own codes for these. With `trailing_commas`, a body
    that is JSON but for commas before `}` or `]` is read as if they were not there (bodies up to
    TRAILING_COMMAS_MAX_BYTES: the documented bodies that have them are a few bytes long).
    """
    body = await request.body()
    if not body and empty is not None:
        raise empty()
    try:
        return json.loads(body)  # detects UTF-8/16/32 from the bytes themselves
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; nesting bombs recurse
        if not trailing_commas or len(body) > TRAILING_COMMAS_MAX_BYTES:
            raise invalid("The body is not valid JSON") from None
    try:
        return json.loads(without_trailing_commas(body.decode(json.detect_encoding(body))))
    except (ValueError, RecursionError):
        raise invalid("The body is not valid JSON") from None


async def json_object(request: Request, invalid: type[DomainError] = InvalidJson,
                      empty: type[DomainError] | None = None, trailing_commas: bool = False) -> dict[str, Any]:
    """The body as a JSON object (see json_value)."""
    value = await json_value(request, invalid, empty, trailing_commas)
    if not isinstance(value, dict):
        raise invalid("The body must be a JSON object")
    return value


def _has_type(value: Any, expected: type) -> bool:
    if expected is int:
        # JSON true/false are not numbers; and a protobuf int64 field refuses what it cannot hold.
        return type(value) is int and INT64_MIN <= value <= INT64_MAX
    if expected is str:
        return is_text(value)  # a protobuf string field refuses a lone surrogate
    return type(value) is expected


def checked_object(body: dict[str, Any], types: Mapping[str, type], required: Collection[str],
                   invalid: type[DomainError]) -> dict[str, Any]:
    """`body` if it has only the keys of `types`, each of its type, and every `required` key.

    This checks the representation only (what the JSON must look like to become the request
    message); what the values may be is the service's to say.
    """
    unknown = sorted(set(body) - set(types))
    if unknown:
        raise invalid(f"'{unknown[0]}' is not a known key")
    missing = [name for name in required if name not in body]
    if missing:
        raise invalid(f"'{missing[0]}' is required")
    for name, value in body.items():
        if not _has_type(value, types[name]):
            raise invalid(f"'{name}' must be {TYPE_NAMES[types[name]]}")
    return body


def is_text(value: Any) -> TypeGuard[str]:
    """A string a protobuf string field can carry: JSON may hold lone surrogates (`"\\ud800"`),
    which are no UTF-8."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def required_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not is_text(value):
        raise InvalidJson(f"'{name}' is required and must be a string")
    return value


def optional_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if is_text(value) else ""


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
