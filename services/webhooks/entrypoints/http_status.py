"""`/metrics` (Prometheus), `/health/live` and `/health/ready` of the webhooks process, on
XUC_WEBHOOKS_METRICS_LISTEN. Ready once the delivery takes events (or when it has no event URL
and so nothing to wait for): `xuc up` and orchestrators wait for it."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from xuc.runtime import metrics
from xuc.runtime.metrics import join_address, split_listen


def status_app(ready: Callable[[], bool]) -> web.Application:
    async def serve_metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = metrics.CONTENT_TYPE
        return response

    async def live(_request: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def readiness(_request: web.Request) -> web.Response:
        if ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "starting"}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", readiness)
    return app


class StatusServer:
    """The endpoint, served on the event loop (a scrape renders a few dozen series)."""

    def __init__(self, listen: str, ready: Callable[[], bool]) -> None:
        self._listen = listen
        self._runner = web.AppRunner(status_app(ready), access_log=None)
        self.address = ""

    async def start(self) -> None:
        host, port = split_listen(self._listen)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise OSError(f"cannot serve metrics on {self._listen}: {exc}") from exc
        bound = self._runner.addresses[0]  # the port taken, when port 0 asked for any free one
        self.address = join_address(host, int(bound[1]))

    async def close(self) -> None:
        await self._runner.cleanup()
