"""Limits on request bodies: their size (413) and the time they take to arrive (408).

BodySizeLimit: bodies above XUC_MAX_BODY_BYTES are refused with 413 and the error body. A
declared Content-Length above the limit is refused before reading; a chunked body is counted
as it streams and refused as soon as it passes the limit, so memory stays bounded either way.
A few paths take larger bodies (the contacts import: XUC_MAX_IMPORT_BYTES); they get their own
limit by exact path.

BodyReadTimeout: a body must arrive within XUC_BODY_TIMEOUT_SECONDS of the request's headers,
plus as much again for every further MiB received (a large import on a slow but steady link
goes on; a client trickling a few bytes at a time, slow-loris fashion, does not hold a request
open for ever): 408 RequestTimeout, and the connection is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import response_for_domain_error
from gateway.requests import PayloadTooLarge, RequestTimeout

TIMEOUT_UNIT_BYTES = 1024 * 1024  # each further MiB of a body earns one more XUC_BODY_TIMEOUT_SECONDS


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, overrides: Mapping[str, int] | None = None) -> None:
        self._app = app
        self._max = max_bytes
        self._overrides = dict(overrides or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._app(scope, receive, send)
        max_bytes = self._overrides.get(scope["path"], self._max)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return await self._refuse(scope, receive, send, max_bytes)
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # Raised inside the route that reads: a streaming route cancels its call first.
                    raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes")
            return message

        await self._app(scope, counting_receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        error = PayloadTooLarge(f"The request body exceeds {max_bytes} bytes")
        await response_for_domain_error(error, scope["path"])(scope, receive, send)


class BodyReadTimeout:
    def __init__(self, app: ASGIApp, seconds: float, unit_bytes: int = TIMEOUT_UNIT_BYTES) -> None:
        self._app = app
        self._seconds = seconds
        self._unit = unit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        complete = b"transfer-encoding" not in headers and (not declared.isdigit() or int(declared) == 0)
        started = asyncio.get_running_loop().time()
        received = 0

        async def timed_receive() -> Message:
            nonlocal complete, received
            if complete:  # the body is in: from now on only a disconnect is awaited, as long as the answer takes
                return await receive()
            deadline = started + self._seconds * (1 + received // self._unit)
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # Raised inside the route that reads, like PayloadTooLarge: a streaming route cancels its call.
                raise RequestTimeout(f"The request body did not arrive within {self._seconds:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
            else:
                complete = True  # disconnected
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not complete:
                # An answer before the whole body (a timeout, a refusal, a route that does not read it):
                # close the connection rather than wait for the rest of the body.
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self._app(scope, timed_receive, closing_send)
