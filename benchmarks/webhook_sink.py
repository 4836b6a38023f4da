"""The event URL receiver of benchmarks/telephony.py, in its own process:

    python -m benchmarks.webhook_sink PORT

Answers 200 (empty body) to every POST and records, per request, its arrival time
(`time.monotonic()`: Linux's CLOCK_MONOTONIC, one clock for every process of the machine, so it
compares with the event driver's), the `X-Xuc-Event-Id` header the forwarder sends and the raw
body. The arrival time is taken when the handler starts, before the body is read; bodies are
parsed only when reported, not on the path being measured.

    GET  /_report?from=N   {"count": total, "records": [[arrived, event_id, body], ...]} from record N on
    GET  /_stats           {"count": total, "last": arrival time of the last record (0 if none), "now": ...}
    POST /_reset           forget every record
"""

from __future__ import annotations

import sys
import time

import uvloop
from aiohttp import web

Record = tuple[float, str, str]


def make_app() -> web.Application:
    records: list[Record] = []

    async def receive(request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.read()
        records.append((arrived, request.headers.get("X-Xuc-Event-Id", ""), body.decode("utf-8", "replace")))
        return web.Response(status=200)

    async def report(request: web.Request) -> web.Response:
        start = int(request.query.get("from", "0"))
        return web.json_response({"count": len(records), "records": records[start:]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"count": len(records), "last": records[-1][0] if records else 0.0,
                                  "now": time.monotonic()})

    async def reset(request: web.Request) -> web.Response:
        records.clear()
        return web.json_response({"count": 0})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/_report", report)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", receive)
    return app


def main() -> None:
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
