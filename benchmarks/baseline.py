"""The cost floor of one gateway hop, measured beside our routes in the same run.

    python -m benchmarks.baseline echo PORT              # a grpc.aio server echoing bytes
    python -m benchmarks.baseline http PORT [ECHO_ADDR]  # a bare ASGI route (+ one unary call)

The HTTP side is served like the gateway (uvicorn, same options); with ECHO_ADDR the route makes
one grpc.aio unary call per request, without it the route answers at once (no hop).
"""

from __future__ import annotations

import asyncio
import sys

import grpc
import uvicorn

ECHO_METHOD = "/bench.Echo/Echo"


async def serve_echo(port: int) -> None:
    def echo(request: bytes, context: object) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def http_app(echo_address: str | None):  # type: ignore[no-untyped-def]
    call = None

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        nonlocal call
        if scope["type"] != "http":
            return
        body = b'{"ok":true}'
        if echo_address:
            if call is None:
                call = grpc.aio.insecure_channel(echo_address).unary_unary(ECHO_METHOD)
            body = await call(body, timeout=5)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "echo":
        asyncio.run(serve_echo(port))
    else:
        echo_address = sys.argv[3] if len(sys.argv) > 3 else None
        uvicorn.run(http_app(echo_address), host="127.0.0.1", port=port, log_config=None, access_log=False,
                    lifespan="off", server_header=False)


if __name__ == "__main__":
    main()
