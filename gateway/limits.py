"""Refuse request bodies above XUC_MAX_BODY_BYTES with 413 and the error body.

A declared Content-Length above the limit is refused before reading; a chunked body is counted
as it streams and refused as soon as it passes the limit, so memory stays bounded either way.
A few paths take larger bodies (the contacts import: XUC_MAX_IMPORT_BYTES); they get their own
limit by exact path.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import response_for_domain_error
from gateway.requests import PayloadTooLarge


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
