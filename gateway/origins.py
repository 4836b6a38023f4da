"""Cross-site request forgery: state-changing requests sent by web pages of other origins are refused.

A page may make a browser send some requests to any site without asking it first (a form post, or
a fetch POST with `Content-Type: text/plain`: no CORS preflight), with whatever the browser holds
for that site: its network address, which is all the 1.0 API checks. Such a request always carries
the page's `Origin`, which the page cannot change; server-side clients send none.

So every request whose method is not GET, HEAD or OPTIONS and that carries an `Origin` is refused
with 403 `OriginNotAllowed`, unless that origin is
- the gateway's own as the client reached it: the request's scheme and `Host`; and, from a trusted
  proxy (XUC_TRUSTED_PROXIES), the first `Forwarded` element's proto/host, or `X-Forwarded-Proto`,
  `X-Forwarded-Host` (and `X-Forwarded-Port`);
- or one of XUC_CORS_ORIGINS (`*`: any origin, as CORS then allows any).
Origins are compared as scheme://host[:port], lower case, without the default port (80 for http,
443 for https). `Origin: null` (sandboxed frames, local files, some redirects) is refused. A
request without `Origin` passes unchanged, whatever its content type. The refusal comes before
the body is read and before any route runs (the 1.0 API's client check included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.client_address import ClientPolicy
from gateway.errors import response_for_domain_error
from gateway.requests import OriginNotAllowed

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_ORIGIN = "*"
SHOWN_CHARACTERS = 200  # of a refused Origin, in the answer's message and the log


def normalised_origin(text: str) -> str | None:
    """`scheme://host[:port]` in lower case without its scheme's default port; None when `text`
    is no such origin (`null`, a path, user info, a bad port)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if (not parts.scheme or not host or parts.username is not None or parts.password is not None
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    scheme = parts.scheme.lower()
    if port == DEFAULT_PORTS.get(scheme):
        port = None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


def _first(value: str | None) -> str:
    return value.split(",")[0].strip() if value else ""


def forwarded_origin(headers: dict[str, str]) -> str | None:
    """The origin the client reached according to a proxy's headers (names in lower case)."""
    pairs = (pair.partition("=") for pair in _first(headers.get("forwarded")).split(";"))
    forwarded = {key.strip().lower(): value.strip().strip('"') for key, _, value in pairs}
    proto = forwarded.get("proto") or _first(headers.get("x-forwarded-proto"))
    # nginx's usual recipe passes the Host header on and adds only X-Forwarded-Proto.
    host = forwarded.get("host") or _first(headers.get("x-forwarded-host")) or headers.get("host", "")
    if not proto or not host:
        return None
    port = _first(headers.get("x-forwarded-port"))
    if port and ":" not in host.rpartition("]")[2]:  # a host without its port ([v6] or name)
        host = f"{host}:{port}"
    return normalised_origin(f"{proto}://{host}")


_HTTP_SCHEME_OF = {"ws": "http", "wss": "https"}  # a page at http://host opens ws://host


class OriginCheck:
    """ASGI middleware: 403 OriginNotAllowed to state-changing requests of another origin."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], clients: ClientPolicy) -> None:
        self._app = app
        allowed = tuple(allowed)
        self._any = ANY_ORIGIN in allowed
        self._allowed = frozenset(origin for origin in map(normalised_origin, allowed) if origin is not None)
        self._clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A WebSocket handshake is a GET, but what follows changes state (the CTI channel's
        # commands): browsers send its Origin, and it is checked like a state-changing request's.
        checked = scope["type"] == "websocket" or (scope["type"] == "http" and scope["method"] not in SAFE_METHODS)
        if not checked or self._any:
            return await self._app(scope, receive, send)
        sent = [value.decode("latin-1") for name, value in scope["headers"] if name == b"origin"]
        refused = next((origin for origin in sent if not self._allows(scope, origin)), None)
        if refused is None:
            return await self._app(scope, receive, send)
        shown = refused[:SHOWN_CHARACTERS]
        log.debug("request from another origin refused", extra={"origin": shown, "path": scope["path"]})
        error = OriginNotAllowed(f"Requests from the origin {shown!r} are not allowed "
                                 "(a web page of another site): add it to XUC_CORS_ORIGINS to allow it")
        if scope["type"] == "websocket":  # closed before it is accepted: the server answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": "origin not allowed"})
            return
        await response_for_domain_error(error, scope["path"])(scope, receive, send)

    def _allows(self, scope: Scope, origin: str) -> bool:
        normalised = normalised_origin(origin)
        if normalised is None:
            return False
        if normalised in self._allowed:
            return True
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        scheme = _HTTP_SCHEME_OF.get(scope["scheme"], scope["scheme"])
        if normalised == normalised_origin(f"{scheme}://{headers.get('host', '')}"):
            return True
        client = scope.get("client")
        return self._clients.trusts(client[0] if client else None) and normalised == forwarded_origin(headers)
