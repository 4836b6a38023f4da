"""The gateway's ASGI application: routes, middleware and the exception handlers (one place)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp

from gateway.client_address import ClientPolicy
from gateway.cti.endpoint import PATH as CTI_PATH
from gateway.cti.endpoint import CtiEndpoint
from gateway.errors import (
    response_for_domain_error,
    response_for_http_error,
    response_for_reason,
    response_for_rpc_error,
    response_for_unhandled_error,
)
from gateway.limits import BodyReadTimeout, BodySizeLimit
from gateway.observability import Observed, route_templates
from gateway.origins import ANY_ORIGIN, OriginCheck
from gateway.routes.auth import AuthRoutes
from gateway.routes.contacts import IMPORT_PATH, ContactsRoutes
from gateway.routes.push import PushRoutes
from gateway.routes.qualifications import QualificationsRoutes
from gateway.routes.telephony import TelephonyRoutes
from xuc.errors import DomainError
from xuc.runtime import request_ids
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_errors import reason_of
from xuc.runtime.keys import PublicKeyCache
from xuc.runtime.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from xuc.runtime.metrics import render as render_metrics
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2_grpc

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499
METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class GatewayConfig:
    service_token: str
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    max_import_bytes: int = 64 * 1024 * 1024  # the contacts import (a CSV file) only
    # The 1.0 API's allowed clients (DEPRECATED_API_HOST; nobody when empty) and the proxies whose
    # X-Forwarded-For is believed (XUC_TRUSTED_PROXIES): addresses and networks, IPv4 and IPv6.
    deprecated_api_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    body_timeout_seconds: float = 30.0  # a request body must arrive in time (XUC_BODY_TIMEOUT_SECONDS): 408


def load_openapi() -> dict[str, Any]:
    text = (Path(__file__).parent / "openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return response_for_domain_error(exc, request.url.path)


async def _rpc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, grpc.aio.AioRpcError)
    reason = reason_of(exc)
    if exc.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) or not reason:
        log.warning("service call failed", extra={"path": request.url.path, "status": exc.code().name,
                                                   "details": exc.details()})
    return response_for_rpc_error(exc.code(), reason, exc.details() or "", request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = response_for_http_error(exc.status_code, str(exc.detail), request.url.path)
    response.headers.update(exc.headers or {})  # e.g. the Allow header a 405 must carry
    return response


class JsonErrorCors(CORSMiddleware):
    """CORS whose refused preflights answer in the error body shape, like every other error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = response_for_reason("CorsNotAllowed", bytes(response.body).decode())
        for name in ("vary", "access-control-allow-methods", "access-control-max-age"):
            if name in response.headers:
                refused.headers[name] = response.headers[name]
        return refused


class Gateway(Starlette):
    """Starlette, with the request id and the HTTP metrics around everything, its own error
    middleware included (the 500 of an unhandled error carries the id and is counted).

    Its router never redirects: Starlette's would answer a path with a slash more or less with a
    redirect built from the request's Host header, which anyone can set (a client following it
    would send its credentials there). Such a path is 404 NotFound, like any other unknown one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router.redirect_slashes = False

    def build_middleware_stack(self) -> ASGIApp:
        return Observed(super().build_middleware_stack(), route_templates(self.routes))


async def _unexpected(request: Request, exc: Exception) -> Response:
    """One ERROR line per unhandled error (the request id is added to it by the log filter); its
    traceback at DEBUG only, so that a client repeating a failing request cannot flood the logs."""
    route = request.scope.get("route")
    log.error("unhandled error", extra={"error": type(exc).__name__, "method": request.method,
                                        "path": request.url.path,
                                        "route": getattr(route, "path", "unmatched")})
    log.debug("unhandled error: traceback", exc_info=exc)
    return response_for_unhandled_error(request.url.path)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed its connection before its request was read: nobody is left to answer
    (the status is for the metrics only: 499, as nginx counts it)."""
    log.debug("client disconnected before its request was read", extra={"path": request.url.path})
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def create_app(
    config: GatewayConfig,
    auth: auth_pb2_grpc.AuthStub,
    keys: PublicKeyCache,
    personal_contacts: contacts_pb2_grpc.PersonalContactsStub,
    qualifications: contacts_pb2_grpc.QualificationsStub,
    telephony: telephony_pb2_grpc.TelephonyStub | None = None,
    cti: CtiEndpoint | None = None,
) -> Starlette:
    """The gateway; without a telephony stub (no XUC_TELEPHONY_ADDRESS) its routes answer 503.
    The CTI WebSocket is served when `cti` is given (the process gives it; some tests do not).

    SettingsError if an allowed host or trusted proxy is not an address or network."""
    openapi = load_openapi()
    clients = ClientPolicy.from_settings(config.deprecated_api_hosts, config.trusted_proxies)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    async def live(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ready") if keys.ready else PlainTextResponse("starting", status_code=503)

    async def metrics(request: Request) -> Response:
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    routes: list[BaseRoute] = [
        *AuthRoutes(auth, service_metadata(config.service_token), keys).routes(),
        *ContactsRoutes(personal_contacts, keys).routes(),
        *QualificationsRoutes(qualifications, keys).routes(),
        *TelephonyRoutes(telephony, auth, service_metadata(config.service_token), clients).routes(),
        *PushRoutes(telephony, keys).routes(),
        Route("/xuc/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route(METRICS_PATH, metrics, methods=["GET"]),  # not authenticated: see docs/operations.md, "Observability"
    ]
    if cti is not None:
        routes.append(WebSocketRoute(CTI_PATH, cti.serve))
    # CORS outermost, so that every answer (errors and 413s included) carries its headers.
    middleware = []
    if config.cors_origins:
        middleware.append(Middleware(
            JsonErrorCors,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "X-Auth-Token", "Content-Type", request_ids.HTTP_HEADER],
            expose_headers=[request_ids.HTTP_HEADER],
            max_age=600,
        ))
    middleware.append(Middleware(BodyReadTimeout, seconds=config.body_timeout_seconds))
    # Before the body limit and the routes: a forged request learns nothing else (docs/rest-api.md,
    # "Cross-site requests"); inside the body timeout, whose closing the refusal needs (body unread).
    middleware.append(Middleware(OriginCheck, allowed=config.cors_origins, clients=clients))
    if ANY_ORIGIN in config.cors_origins:
        log.warning("XUC_CORS_ORIGINS allows any origin: any web page may make state-changing calls, "
                    "the 1.0 API's included, from the browsers of allowed clients")
    middleware.append(Middleware(BodySizeLimit, max_bytes=config.max_body_bytes,
                                 overrides={IMPORT_PATH: config.max_import_bytes}))
    return Gateway(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            DomainError: _domain_error,
            grpc.aio.AioRpcError: _rpc_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
