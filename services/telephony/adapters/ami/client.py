"""One Asterisk Manager Interface connection, kept up: connect, read the greeting, log in,
correlate responses with actions, hand events over in order, and reconnect when it fails.

Why it is shaped this way:
- One coroutine reads the socket and handles every frame in order, synchronously: events reach
  `on_event` in the PBX's order, and a response is matched to its action before the next frame
  is looked at. `on_event` and `on_state` must not block (the adapter queues what they produce),
  so an event handler that sends an action cannot deadlock the reader.
- Actions are correlated by ActionID (a random per-client prefix and a counter). Each waits for
  its response with a timeout; when the connection is not up, or drops, every waiting action
  fails at once with PbxUnreachable: nothing is queued for later, as the Pbx port promises.
- List actions (ExtensionStateList, QueueStatus, Status) answer `EventList: start`, then events
  carrying the same ActionID, then a `...Complete` event: `send_list_action` returns those items
  (which also went to `on_event`, like any event).
- Reconnection: back-off from `backoff_initial` (0.5 s) doubling to `backoff_max` (30 s), reset
  by a successful login. A refused login (bad credentials) is retried the same way, and said in
  `detail`, so an operator can fix the secret without restarting anything.
- An optional Ping every `ping_interval` seconds detects a PBX that vanished without closing the
  connection (the ping times out, the connection is dropped and reconnected).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from services.telephony.adapters.ami.frames import AmiProtocolError, Frame, FrameParser, encode_action
from services.telephony.domain.errors import PbxUnreachable
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)

GREETING_PREFIX = "Asterisk Call Manager/"
READ_SIZE = 65536

T = TypeVar("T")
EventCallback = Callable[[Frame], None]
StateCallback = Callable[[bool, str], None]


class AmiActionError(Exception):
    """The PBX answered `Response: Error` to an action."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class _SessionEnded(Exception):
    """Why a connection attempt or a connection ended, in words for the connection detail."""


@dataclass
class _Pending:
    name: str
    response: asyncio.Future[Frame]
    items: list[Frame] = field(default_factory=list)
    complete: asyncio.Future[None] | None = None  # set for list actions


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0

    def next(self, delay: float) -> float:
        return min(delay * 2, self.maximum)


def _fail(future: asyncio.Future[Any], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
        future.exception()  # retrieved: nobody may be waiting any more


def _is_error(response: Frame) -> bool:
    return response.first("Response").casefold() not in ("success", "follows", "goodbye")


class AmiClient:
    def __init__(self, host: str, port: int, username: str, secret: str, *, on_event: EventCallback,
                 on_state: StateCallback, action_timeout: float = 5.0, connect_timeout: float = 5.0,
                 backoff: Backoff = Backoff(), ping_interval: float | None = 20.0) -> None:
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        self._on_event, self._on_state = on_event, on_state
        self._action_timeout = action_timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._ping_interval = ping_interval
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._connected = False
        self._detail = f"connecting to {self.address}"
        self._task: asyncio.Task[None] | None = None
        self._dropped = ""  # why we dropped the connection ourselves, if we did
        self._closing = False

    @property
    def address(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def detail(self) -> str:
        return self._detail

    def new_action_id(self) -> str:
        return f"xuc-{self._prefix}-{next(self._ids)}"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ami-{self.address}")

    async def close(self) -> None:
        """Stop for good: no reconnection, and no "connection lost" for a close we asked for."""
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            await cancel_and_wait(task)
            self._closing = False
            self._detail = f"closed (was {self.address})"

    async def send_action(self, name: str, headers: Mapping[str, str | Sequence[str]] | None = None,
                          *, action_id: str | None = None) -> Frame:
        """The response to the action; AmiActionError if it is `Response: Error`, PbxUnreachable
        if the PBX is not connected or does not answer within the action timeout."""
        pending = await self._submit(name, headers or {}, action_id or self.new_action_id(), listing=False)
        return await self._response(pending)

    async def send_list_action(self, name: str, headers: Mapping[str, str | Sequence[str]] | None = None
                               ) -> tuple[Frame, list[Frame]]:
        """The response and the events of the list it announces (empty when it announces none)."""
        pending = await self._submit(name, headers or {}, self.new_action_id(), listing=True)
        response = await self._response(pending)
        if pending.complete is not None and response.first("EventList").casefold() == "start":
            await self._wait(pending, pending.complete)
        return response, pending.items

    # -- the connection loop

    async def _run(self) -> None:
        delay = self._backoff.initial
        while True:
            self._detail = f"connecting to {self.address}"
            logged_in, reason = await self._session()
            if logged_in:
                delay = self._backoff.initial
            self._detail = f"reconnecting in {delay:g} s: {reason}"
            log.warning("AMI connection to %s: %s", self.address, self._detail)
            await asyncio.sleep(delay)
            delay = self._backoff.next(delay)

    async def _session(self) -> tuple[bool, str]:
        """One connection, from connecting to its end: (whether it logged in, why it ended)."""
        self._dropped = ""
        reason = "closed"
        try:
            await self._connect_and_serve()
        except _SessionEnded as ended:
            reason = self._dropped or str(ended)
        except TimeoutError:
            reason = "timed out" if self._connected else "timed out connecting or logging in"
        except OSError as error:
            refused = isinstance(error, ConnectionRefusedError) or "Connect call failed" in str(error)
            reason = "connection refused" if refused else (str(error) or type(error).__name__)
        except AmiProtocolError as error:
            reason = f"protocol error: {error}"
        finally:
            was_up = self._connected
            self._down(was_up, reason)
        return was_up, reason

    async def _connect_and_serve(self) -> NoReturn:
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            parser = FrameParser()
            leftover = await self._login(reader, writer, parser)
            self._up()
            await self._serve(reader, parser, leftover)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     parser: FrameParser) -> list[Frame]:
        """Greeting, Login, its response; returns frames that came after the response."""
        async with asyncio.timeout(self._connect_timeout):
            frames: list[Frame] = []
            while parser.greeting is None:
                frames += parser.feed(await self._read(reader))
            if not parser.greeting.startswith(GREETING_PREFIX):
                raise _SessionEnded(f"not an Asterisk manager: greeting {parser.greeting[:60]!r}")
            action_id = self.new_action_id()
            writer.write(encode_action("Login", action_id, {"Username": self._username, "Secret": self._secret,
                                                            "Events": "on"}))
            await writer.drain()
            while True:
                for index, frame in enumerate(frames):
                    if frame.first("ActionID") == action_id and "Event" not in frame:
                        self._check_login(frame)
                        self._writer = writer
                        return frames[index + 1:]
                frames = parser.feed(await self._read(reader))

    @staticmethod
    def _check_login(response: Frame) -> None:
        if _is_error(response):
            raise _SessionEnded(f"login refused: {response.first('Message') or 'error'}")

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> bytes:
        data = await reader.read(READ_SIZE)
        if not data:
            raise _SessionEnded("connection closed by the PBX")
        return data

    def _up(self) -> None:
        self._connected = True
        self._detail = f"connected to {self.address}"
        log.info("AMI %s", self._detail)
        self._on_state(True, self._detail)

    def _down(self, was_up: bool, reason: str) -> None:
        self._connected = False
        self._writer = None
        pending, self._pending = self._pending, {}
        for item in pending.values():
            _fail(item.response, PbxUnreachable(f"the PBX connection was lost during {item.name}"))
            if item.complete is not None:
                _fail(item.complete, PbxUnreachable(f"the PBX connection was lost during {item.name}"))
        if was_up and not self._closing:
            self._on_state(False, f"connection to {self.address} lost: {reason}")

    async def _serve(self, reader: asyncio.StreamReader, parser: FrameParser, frames: list[Frame]) -> NoReturn:
        pinger = asyncio.create_task(self._keepalive()) if self._ping_interval else None
        try:
            while True:
                for frame in frames:
                    self._handle(frame)
                frames = parser.feed(await self._read(reader))
        finally:
            await cancel_and_wait(pinger)

    async def _keepalive(self) -> None:
        assert self._ping_interval is not None
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                await self.send_action("Ping")
            except AmiActionError:
                pass  # an answer, even a refusal, shows the PBX is alive
            except PbxUnreachable as error:
                log.warning("AMI ping failed, dropping the connection: %s", error)
                self._dropped = f"no answer to Ping: {error}"
                if self._writer is not None:
                    self._writer.transport.abort()
                return

    # -- frames and actions

    def _handle(self, frame: Frame) -> None:
        if "Event" in frame:
            self._list_item(frame)
            try:
                self._on_event(frame)
            except Exception:
                log.exception("AMI event not handled", extra={"ami_event": frame.event})
        elif "Response" in frame:
            self._respond(frame)

    def _list_item(self, frame: Frame) -> None:
        pending = self._pending.get(frame.first("ActionID"))
        if pending is None or pending.complete is None:
            return
        if frame.first("EventList").casefold() == "complete" or frame.event.endswith("Complete"):
            self._pending.pop(frame.first("ActionID"), None)
            if not pending.complete.done():
                pending.complete.set_result(None)
        else:
            pending.items.append(frame)

    def _respond(self, frame: Frame) -> None:
        action_id = frame.first("ActionID")
        pending = self._pending.get(action_id)
        if pending is None:
            return  # the action timed out meanwhile
        listing = pending.complete is not None and frame.first("EventList").casefold() == "start"
        if not listing:
            self._pending.pop(action_id, None)
        if not pending.response.done():
            pending.response.set_result(frame)

    async def _submit(self, name: str, headers: Mapping[str, str | Sequence[str]], action_id: str,
                      *, listing: bool) -> _Pending:
        data = encode_action(name, action_id, headers)  # UnsafeHeader before anything is sent
        writer = self._writer
        if not self._connected or writer is None:
            raise PbxUnreachable(f"the PBX is not connected ({self._detail})")
        loop = asyncio.get_running_loop()
        pending = _Pending(name, loop.create_future(), complete=loop.create_future() if listing else None)
        self._pending[action_id] = pending
        try:
            async with self._write_lock:
                writer.write(data)
                await writer.drain()
        except (OSError, RuntimeError) as error:
            self._pending.pop(action_id, None)
            raise PbxUnreachable(f"the PBX connection failed sending {name}: {error}") from error
        return pending

    async def _response(self, pending: _Pending) -> Frame:
        response = await self._wait(pending, pending.response)
        if _is_error(response):
            raise AmiActionError(pending.name, response.first("Message") or "error")
        return response

    async def _wait(self, pending: _Pending, future: asyncio.Future[T]) -> T:
        try:
            async with asyncio.timeout(self._action_timeout):
                return await future
        except TimeoutError:
            raise PbxUnreachable(f"the PBX did not answer {pending.name} within {self._action_timeout:g} s") from None
        finally:
            if not future.done() or future.cancelled():
                self._forget(pending)

    def _forget(self, pending: _Pending) -> None:
        for action_id, item in list(self._pending.items()):
            if item is pending:
                del self._pending[action_id]
