"""CSV files in and out of the services, streamed: the gateway never holds a whole file.

Export: a server-streaming call of `CsvChunk`s becomes a `text/csv; charset=utf-8` answer. Its
first chunk is awaited before the answer starts, so that an error the service raises at once
(bad dates, no such user, service down) is still answered with its status and error body.

Import: the request body is written, piece by piece as the HTTP server hands it over, into a
bidirectional call; gRPC flow control makes a slow service slow down the reading of the body.
The service answers once the file is imported: the first message of its answer is awaited
before the HTTP answer starts (an error is answered with its status); the rest may be streamed.

Once an answer has started, an error of the call can no longer change its status: the answer
ends without its final chunk, so that the client sees a broken transfer, never a short body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
DEFAULT_CHARSET = "utf-8"
# Above this a received piece is split: gRPC refuses messages over 4 MiB by default, and an ASGI
# server may hand over larger pieces than uvicorn's.
MAX_CHUNK_BYTES = 1024 * 1024


class CallStreamResponse(StreamingResponse):
    """An answer whose body is generated from a streaming call as the call goes.

    The call is cancelled however the answer ends (sent, client gone, error), so that a client
    that disconnects stops the service's work too (cancelling a finished call does nothing).
    """

    def __init__(self, call: Any, body: AsyncIterator[bytes], media_type: str, status_code: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body, status_code=status_code, media_type=media_type, headers=headers)
        self._call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except grpc.aio.AioRpcError as error:
            # The status line is sent: the only honest signal left is to end the answer without
            # its final chunk, so the client sees a broken transfer rather than a short body.
            log.warning("a streamed answer failed after it started",
                        extra={"path": scope["path"], "status": error.code().name, "details": error.details()})
        finally:
            self._call.cancel()


async def _chunks(call: Any, first: Any) -> AsyncIterator[bytes]:
    chunk = first
    while chunk is not grpc.aio.EOF:
        if chunk.data:
            yield bytes(chunk.data)
        chunk = await call.read()


async def csv_export(call: Any, filename: str) -> CallStreamResponse:
    """The answer to an export: `call` is a server-streaming call of CsvChunk, not yet read."""
    try:
        first = await call.read()  # an error here still becomes a JSON error answer
    except BaseException:
        call.cancel()
        raise
    return CallStreamResponse(call, _chunks(call, first), CSV_MEDIA_TYPE,
                              headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def request_charset(request: Request) -> str:
    """The `charset` parameter of the Content-Type (any media type is accepted), else UTF-8."""
    _, _, parameters = request.headers.get("content-type", "").partition(";")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"'):
            return value.strip().strip('"')
    return DEFAULT_CHARSET


async def _write(call: Any, message: Message) -> bool:
    """Write one message; False once the service has answered (it may refuse a file early)."""
    if call.done():
        return False
    try:
        await call.write(message)
    except asyncio.InvalidStateError:  # it answered between the check and the write
        return False
    return True


async def upload(call: Any, request: Request, chunk: Callable[[bytes, bool, bool], Message]) -> Any:
    """Stream the request body into a bidirectional `call`; the first message of its answer
    (grpc.aio.EOF if it answered none), its error raised.

    `chunk(data, first, last)` builds the message for a piece of the body; once the body is read
    whole, an empty message marked `last` ends the file (it is also the first for an empty body,
    which still reaches the service, which says what an empty file means). Whatever
    interrupts the upload (body too large, client gone) cancels the call: the service then
    discards what it received. The caller reads the rest of the answer, and cancels the call if
    it gives up on it.
    """
    try:
        first = True
        async for data in request.stream():
            for start in range(0, len(data), MAX_CHUNK_BYTES):
                if not await _write(call, chunk(data[start:start + MAX_CHUNK_BYTES], first, False)):
                    return await call.read()  # the service answered early: its answer (an error) is ours
                first = False
        await _write(call, chunk(b"", first, True))
        await call.done_writing()
        return await call.read()
    except BaseException:
        call.cancel()
        raise
