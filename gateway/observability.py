"""What the gateway records of every HTTP request: its request id, and its metrics.

`Observed` wraps the whole application, outside Starlette's own error middleware, so that even an
unhandled error's 500 carries the request id and is counted (and is logged once: not again by
uvicorn). Per request it costs a header scan, a contextvar, a wrapped `send` and one cached
recorder (a dict lookup): no label objects are made once a (route, method, status) has been seen.
Routes are labelled by their template (`/xuc/api/2.0/contact/personal/{id}`), never by the raw
path, so label values stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xuc.runtime import request_ids
from xuc.runtime.metrics import HTTP, Recorder

UNMATCHED = "unmatched"  # the route label of a request no route took (404)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_REQUEST_ID_HEADER = request_ids.HTTP_HEADER.lower().encode()


def route_templates(routes: Iterable[BaseRoute], prefix: str = "") -> dict[int, str]:
    """The full path template of every route (by identity: Starlette routes are not hashable),
    mounted routes included; a mount itself stands for the paths under it that none of its routes
    take (`/xuc/api/1.0/{path}`)."""
    templates: dict[int, str] = {}
    for route in routes:
        if isinstance(route, Route):
            templates[id(route)] = prefix + route.path
        elif isinstance(route, Mount):
            templates[id(route)] = f"{prefix}{route.path}/{{path}}"
            templates.update(route_templates(route.routes, prefix + route.path))
    return templates


class Observed:
    """ASGI middleware: request id in and out, `xuc_http_requests_total` and
    `xuc_http_request_duration_seconds` by route template, method and status."""

    def __init__(self, app: ASGIApp, templates: dict[int, str]) -> None:
        self._app = app
        self._templates = templates
        self._metrics = HTTP
        self._recorders: dict[tuple[int, str, int], Recorder] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_ids.bind(request_id)
        header = (_REQUEST_ID_HEADER, request_id.encode())
        status = 500  # if the application fails before it answers

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: the response's own header list may be shared (a cached response).
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self._app(scope, receive, send_with_request_id)
        except Exception:
            # Starlette's error middleware re-raises what it has logged (once, gateway/app.py's
            # `_unexpected`) and answered: uvicorn would log it again, traceback and all. An answer
            # cut short is still closed by uvicorn, as an application that did not complete it.
            pass
        finally:
            request_ids.reset(token)
            self._recorder(scope, status)(time.perf_counter() - started)

    def _recorder(self, scope: Scope, status: int) -> Recorder:
        route = scope.get("route")
        method = scope["method"] if scope["method"] in METHODS else "other"
        key = (id(route), method, status)
        recorder = self._recorders.get(key)
        if recorder is None:
            template = self._templates.get(id(route), UNMATCHED) if route is not None else UNMATCHED
            recorder = self._recorders[key] = self._metrics.recorder(template, method, str(status))
        return recorder


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id when it is a sane one, else a new id."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            accepted = request_ids.accept(value.decode("latin-1"))
            if accepted is not None:
                return accepted
            break
    return request_ids.new()
