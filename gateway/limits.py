"""Refuse request bodies above XUC_MAX_BODY_BYTES with 413 and the error body.

A declared Content-Length above the limit is refused before reading; a chunked body is counted
as it streams and refused as soon as it passes the limit, so memory stays bounded either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import response_for_domain_error
from gateway.requests import PayloadTooLarge


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            return await self._refuse(scope, receive, send)
        received = 0
        max_bytes = self._max

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(f"The request body exceeds {max_bytes} bytes")
            return message

        await self._app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"The request body exceeds {self._max} bytes")
        await response_for_domain_error(error, scope["path"])(scope, receive, send)
