"""The event URL over HTTP (aiohttp): one POST per attempt, its answer read as an Outcome."""

from __future__ import annotations

import errno

import aiohttp

from services.webhooks.domain.retries import Outcome, outcome_of_status

EVENT_ID_HEADER = "X-Xuc-Event-Id"  # lets a receiver drop the rare duplicate of at-least-once delivery
USER_AGENT = "xuc-webhooks"


class HttpPoster:
    """Posts JSON bodies to one URL through a bounded connection pool; `open()` before the first
    post (inside the event loop), `close()` at stop."""

    def __init__(self, url: str, timeout_seconds: float, max_connections: int) -> None:
        if not url:
            raise ValueError("the event URL is required")
        self.url = url
        self._timeout = timeout_seconds
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, body: str, event_id: str) -> Outcome:
        assert self._session is not None, "open() the poster first"
        headers = {EVENT_ID_HEADER: event_id} if event_id else {}
        try:
            async with self._session.post(self.url, data=body.encode(), headers=headers,
                                          allow_redirects=False) as response:
                await response.read()  # so that the connection goes back to the pool
                status = response.status
        except TimeoutError:
            return Outcome("retry", "timeout")
        except aiohttp.ClientConnectorError as exc:
            refused = exc.os_error.errno == errno.ECONNREFUSED
            return Outcome("retry", "connection refused" if refused else f"connection error: {exc.os_error}")
        except aiohttp.ClientError as exc:
            return Outcome("retry", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return outcome_of_status(status)
