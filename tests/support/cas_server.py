"""A small CAS protocol server for tests: it issues service tickets and validates them as the CAS
protocol specification says, so CasProvider is tested over real HTTP without a CAS server.

    async with CasServer(prefix="/cas") as cas:      # listens on 127.0.0.1, a free port
        provider = CasProvider(cas.url)              # http://127.0.0.1:PORT/cas
        ticket = cas.issue_ticket("alicej", "https://xucmgt.example.org")
        ...
        cas.respond(b"<html>oops</html>", status=502)  # the next request gets this body and status
        cas.fail("INTERNAL_ERROR", "database down")    # ... or a failure document with any code
        cas.stall(3.0)                                 # the next request waits 3 s before its answer

Validation (`/p3/serviceValidate`, CAS 3.0, and `/serviceValidate`, CAS 2.0, under the prefix):
a ticket is valid once, whatever the outcome, and only for the service it was issued for
(INVALID_SERVICE otherwise, and the ticket is spent); an unknown or spent ticket is
INVALID_TICKET, a missing parameter INVALID_REQUEST, a ticket not starting with "ST-"
INVALID_TICKET_SPEC. Failures are answered HTTP 200 with the failure document, as the
specification's examples are. `requests` records every validation request received.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

CAS_NAMESPACE = "http://www.yale.edu/tp/cas"


def success_document(user: str, attributes: dict[str, str] | None = None) -> bytes:
    """The specification's authenticationSuccess answer (with cas:attributes for CAS 3.0)."""
    lines = [f'<cas:serviceResponse xmlns:cas="{CAS_NAMESPACE}">',
             "  <cas:authenticationSuccess>",
             f"    <cas:user>{escape(user)}</cas:user>"]
    if attributes:
        lines.append("    <cas:attributes>")
        lines += [f"      <cas:{name}>{escape(value)}</cas:{name}>" for name, value in attributes.items()]
        lines.append("    </cas:attributes>")
    lines += ["  </cas:authenticationSuccess>", "</cas:serviceResponse>", ""]
    return "\n".join(lines).encode()


def failure_document(code: str, message: str) -> bytes:
    """The specification's authenticationFailure answer, with its code and human-readable text."""
    return (f'<cas:serviceResponse xmlns:cas="{CAS_NAMESPACE}">\n'
            f"  <cas:authenticationFailure code={quoteattr(code)}>\n"
            f"    {escape(message)}\n"
            "  </cas:authenticationFailure>\n"
            "</cas:serviceResponse>\n").encode()


@dataclass
class ValidationRequest:
    """One validation request as the server saw it."""

    path: str  # without the prefix: "/p3/serviceValidate" or "/serviceValidate"
    service: str | None
    ticket: str | None


@dataclass
class _Canned:
    """An answer given instead of validating, to the next `times` requests (forever if None)."""

    body: bytes | None  # None: validate as usual (after the delay)
    status: int
    delay: float
    times: int | None
    used: int = field(default=0, init=False)


@dataclass
class _Ticket:
    user: str
    service: str
    attributes: dict[str, str]


class CasServer:
    """An aiohttp CAS server on 127.0.0.1 (a free port), its endpoints under `prefix`."""

    def __init__(self, prefix: str = "/cas", host: str = "127.0.0.1") -> None:
        self.prefix = prefix.rstrip("/")
        self.host = host
        self.port = 0
        self.requests: list[ValidationRequest] = []
        self._tickets: dict[str, _Ticket] = {}
        self._canned: list[_Canned] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> CasServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The CAS server URL, prefix included: what XUC_CAS_SERVER_URL would be."""
        if not self.port:
            raise RuntimeError("the CAS server has not been started yet")
        return f"http://{self.host}:{self.port}{self.prefix}"

    async def start(self) -> None:
        app = web.Application()
        for path in ("/p3/serviceValidate", "/serviceValidate"):
            app.router.add_get(self.prefix + path, self._validate)
        # handler_cancellation: a stalled handler ends when its client gives up (times out).
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._stopping = asyncio.Event()
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; stalled requests end unanswered."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._stopping.set()
        await runner.cleanup()

    # --- tickets ----------------------------------------------------------------------------------
    def issue_ticket(self, user: str, service: str, attributes: dict[str, str] | None = None) -> str:
        """A new service ticket for `user`, valid once and for `service` only (what the CAS login
        page would hand the browser on its redirect to `service`)."""
        ticket = f"ST-{len(self._tickets) + 1}-{secrets.token_urlsafe(20)}"
        self._tickets[ticket] = _Ticket(user, service, dict(attributes or {}))
        return ticket

    # --- misbehaviour -----------------------------------------------------------------------------
    def respond(self, body: bytes | str, *, status: int = 200, times: int | None = 1) -> None:
        """Answer `body` with `status` to the next `times` requests (all if None), without validating."""
        self._canned.append(_Canned(body.encode() if isinstance(body, str) else body, status, 0.0, times))

    def fail(self, code: str, message: str, *, times: int | None = 1) -> None:
        """Answer a failure document with this code (any code, known or not) and message."""
        self.respond(failure_document(code, message), times=times)

    def stall(self, seconds: float, *, times: int | None = 1) -> None:
        """Hold the next `times` requests `seconds` before validating as usual."""
        self._canned.append(_Canned(None, 200, seconds, times))

    # --- the handler ------------------------------------------------------------------------------
    async def _validate(self, request: web.Request) -> web.Response:
        service, ticket = request.query.get("service"), request.query.get("ticket")
        path = request.path[len(self.prefix):]
        self.requests.append(ValidationRequest(path, service, ticket))
        canned = self._take_canned()
        if canned is not None and canned.delay > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), canned.delay)
            except TimeoutError:
                pass
            else:  # stopping: nothing is answered
                raise web.HTTPServiceUnavailable()
        if canned is not None and canned.body is not None:
            return web.Response(body=canned.body, status=canned.status, content_type="application/xml")
        return web.Response(body=self._answer(path, service, ticket), content_type="application/xml")

    def _take_canned(self) -> _Canned | None:
        for canned in self._canned:
            if canned.times is None or canned.used < canned.times:
                canned.used += 1
                return canned
        return None

    def _answer(self, path: str, service: str | None, ticket: str | None) -> bytes:
        if not service or not ticket:
            missing = "service" if not service else "ticket"
            return failure_document("INVALID_REQUEST", f"'service' and 'ticket' parameters are both required "
                                                       f"({missing} is missing)")
        if not ticket.startswith("ST-"):
            return failure_document("INVALID_TICKET_SPEC", f"Ticket {ticket} is not a service ticket")
        issued = self._tickets.pop(ticket, None)  # single use: spent by any validation attempt
        if issued is None:
            return failure_document("INVALID_TICKET", f"Ticket {ticket} not recognized")
        if issued.service != service:
            return failure_document("INVALID_SERVICE", f"Ticket {ticket} does not match supplied service. "
                                                       f"The original service was {issued.service} and the "
                                                       f"supplied service was {service}.")
        attributes = issued.attributes if path.startswith("/p3/") else None  # CAS 2.0 has none
        return success_document(issued.user, attributes)
