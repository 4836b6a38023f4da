"""A real HTTP receiver for the event URL, for tests: it records what it is POSTed and can misbehave.

    async with WebhookReceiver() as receiver:        # listens on 127.0.0.1, a free port
        forwarder = EventForwarder(nc, receiver.url, ...)
        receiver.respond(503, times=2)               # the next 2 requests get a 503
        receiver.respond(400, when=username_is("bob"))   # every request for bob gets a 400
        receiver.stall(3.0, times=1)                 # the next request waits 3 s, then gets a 200
        ...
        bodies = await receiver.wait_for_deliveries(10, within=5.0)  # the first 10 accepted bodies
        await receiver.stop()                        # down: connections are refused
        await receiver.start()                       # up again, on the same port (same url)

Rules apply in the order they were added; the first one that matches a request (and has uses left)
decides the answer; without a matching rule the answer is 200. `requests` lists every request
(with the status answered, or None when the client went away first); `deliveries` only those
answered 2xx while the client still waited for the answer: what the sender may consider delivered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.background import BackgroundLoop

Predicate = Callable[[Any], bool]


def username_is(*usernames: str) -> Predicate:
    """A `when=` predicate matching the JSON bodies of these users (`{"username": ...}`)."""
    return lambda body: isinstance(body, dict) and body.get("username") in usernames


@dataclass
class ReceivedRequest:
    """One request as the receiver saw it."""

    body: Any  # the parsed JSON body (the raw text if it was not JSON)
    headers: dict[str, str]
    path: str
    arrived_at: float  # time.time(): comparable with a publisher's clock in another process
    arrived_monotonic: float  # time.monotonic(): for durations within the test process
    status: int | None = None  # answered; None while stalled, or if the client left before the answer

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Rule:
    """Answer `status` after `delay` seconds, for requests matching `when` (all if None), `times`
    times (forever if None)."""

    status: int = 200
    delay: float = 0.0
    times: int | None = None
    when: Predicate | None = None
    used: int = field(default=0, init=False)

    def take(self, body: Any) -> bool:
        """True (and one use less) if this rule answers the request with this body."""
        if self.times is not None and self.used >= self.times:
            return False
        if self.when is not None and not self.when(body):
            return False
        self.used += 1
        return True


class WebhookReceiver:
    """An aiohttp server on 127.0.0.1 that records the JSON bodies POSTed to it (any path)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/events") -> None:
        self.host = host
        self.port = port  # 0 until the first start picks a free port; kept across restarts
        self.path = path
        self.requests: list[ReceivedRequest] = []
        self._rules: list[Rule] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Where to POST: the same before and after a restart."""
        if not self.port:
            raise RuntimeError("the receiver has not been started yet")
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # --- up and down ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen (on the port of the previous start, if any): the receiver is up."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        # handler_cancellation: a stalled handler learns that its client gave up (timed out).
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
        """Close the listening socket and every connection; stalled requests end unanswered (or with
        the connection closed). Connections are refused until `start()`."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        self._stopping.set()
        await runner.cleanup()

    # --- behaviour --------------------------------------------------------------------------------
    def respond(self, status: int, *, times: int | None = None, when: Predicate | None = None) -> Rule:
        """Answer `status` (503, 400, ...) to matching requests; the rule is returned (`.used`)."""
        return self.add_rule(Rule(status=status, times=times, when=when))

    def stall(self, seconds: float, *, times: int | None = None, when: Predicate | None = None,
              then_status: int = 200) -> Rule:
        """Hold matching requests `seconds` before answering `then_status` (a slow receiver; a
        client with a shorter timeout gives up first and the request is not a delivery)."""
        return self.add_rule(Rule(status=then_status, delay=seconds, times=times, when=when))

    def add_rule(self, rule: Rule) -> Rule:
        self._rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Back to answering 200 to everything."""
        self._rules.clear()

    # --- what was received ------------------------------------------------------------------------
    @property
    def deliveries(self) -> list[ReceivedRequest]:
        """The requests answered 2xx, in arrival order."""
        return [request for request in self.requests if request.delivered]

    def bodies(self, username: str | None = None) -> list[Any]:
        """The delivered JSON bodies, in arrival order; only this user's if `username` is given."""
        return [request.body for request in self.deliveries
                if username is None or (isinstance(request.body, dict) and request.body.get("username") == username)]

    async def wait_for_deliveries(self, count: int, within: float = 5.0, username: str | None = None) -> list[Any]:
        """The first `count` delivered bodies (of `username`, if given), waiting up to `within` s
        for them; AssertionError (with what did arrive) otherwise."""
        deadline = time.monotonic() + within
        while True:
            bodies = self.bodies(username)
            if len(bodies) >= count:
                return bodies[:count]
            if time.monotonic() >= deadline:
                raise AssertionError(f"{len(bodies)} of {count} deliveries within {within} s "
                                     f"({len(self.requests)} requests in all)")
            await asyncio.sleep(0.01)

    # --- the handler ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        received = ReceivedRequest(body, dict(request.headers), request.path, time.time(), time.monotonic())
        self.requests.append(received)
        rule = next((rule for rule in self._rules if rule.take(body)), None)
        status = 200 if rule is None else rule.status
        if rule is not None and rule.delay > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), rule.delay)
            except TimeoutError:
                pass
            else:  # stopping: the connection is being closed, nothing is answered
                raise web.HTTPServiceUnavailable()
        received.status = status
        return web.json_response({"ok": 200 <= status < 300}, status=status)


class ThreadedWebhookReceiver:
    """The receiver on an event loop of its own, in a thread, for synchronous tests (the e2e suite):

        with ThreadedWebhookReceiver() as receiver:
            ... XUC_EVENT_URL=receiver.url ...
            bodies = receiver.wait_for_deliveries(2, username="alicej")
            receiver.stop(); ...; receiver.start()
    """

    def __init__(self) -> None:
        self.receiver = WebhookReceiver()
        self._background = BackgroundLoop()

    def __enter__(self) -> ThreadedWebhookReceiver:
        self._background.__enter__()
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            self._background.__exit__(*exc_info)

    @property
    def url(self) -> str:
        return self.receiver.url

    def start(self) -> None:
        self._background.run(self.receiver.start())

    def stop(self) -> None:
        self._background.run(self.receiver.stop())

    def respond(self, status: int, *, times: int | None = None, when: Predicate | None = None) -> Rule:
        async def add() -> Rule:
            return self.receiver.respond(status, times=times, when=when)

        return self._background.run(add())

    def clear_rules(self) -> None:
        async def clear() -> None:
            self.receiver.clear_rules()

        self._background.run(clear())

    def bodies(self, username: str | None = None) -> list[Any]:
        async def read() -> list[Any]:
            return self.receiver.bodies(username)

        return self._background.run(read())

    def wait_for_deliveries(self, count: int, within: float = 10.0, username: str | None = None) -> list[Any]:
        return self._background.run(self.receiver.wait_for_deliveries(count, within, username))
