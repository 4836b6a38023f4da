"""A scripted Asterisk Manager Interface server for tests, over real TCP on 127.0.0.1 (the frames it
pushes are built with tests/support/ami_events.py).

    server = ScriptedAmiServer(username="xuc", secret="s3cret")
    await server.start()                      # a free port, kept across stop/resume_listening
    pbx = AmiPbx(server.url(), ...)
    await server.wait_for_action("Originate") # the parsed Frame the client sent
    await server.push_event(dial_begin(alice, bob), chunk_sizes=[7, 1, 30])  # split TCP writes
    await server.drop()                       # close every client connection
    await server.stop_listening()             # connections are refused ...
    await server.resume_listening()           # ... until it listens again, on the same port
    await server.close()

The server sends the `Asterisk Call Manager/5.0.1` greeting, answers Login (Success for the
configured user and secret, `Response: Error` / `Message: Authentication failed` otherwise),
records every action it receives (`actions`, as frames, login included), and answers Originate
(then an OriginateResponse event after `originate_response_delay`), DBPut, QueueAdd, QueueRemove,
QueuePause, Hangup, PlayDTMF, Redirect, Atxfer, Ping and Logoff like Asterisk does (the channel
events a real Asterisk would send after a call control action are the test's to push);
ExtensionStateList, QueueStatus and Status answer `EventList: start`, the items set in
`lists[action]`, then the `...Complete` event. A test can
make an action fail (`errors[name] = message`), stop answering (`mute = True`), or accept and
close connections at once (`reject = True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from services.telephony.adapters.ami.frames import Frame, FrameParser
from tests.support.ami_events import Headers, encode
from tests.support.deadlines import EVENT_DEADLINE_SECONDS

GREETING = b"Asterisk Call Manager/5.0.1\r\n"
LIST_COMPLETE_EVENTS = {
    "ExtensionStateList": "ExtensionStateListComplete",
    "QueueStatus": "QueueStatusComplete",
    "Status": "StatusComplete",
}
SUCCESS_MESSAGES = {
    "Originate": "Originate successfully queued",
    "DBPut": "Updated database successfully",
    "QueueAdd": "Added interface to queue",
    "QueueRemove": "Removed interface from queue",
    "QueuePause": "Interface paused successfully",
    # call control (the Response frames of Asterisk 13+; the events that follow are the test's to push)
    "Hangup": "Channel Hungup",
    "PlayDTMF": "DTMF successfully queued",
    "Redirect": "Redirect successful",
    "Atxfer": "Atxfer successfully queued",
    "Setvar": "Variable Set",
}


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    authenticated: bool = False

    async def send(self, data: bytes, chunk_sizes: Sequence[int] = (), pause: float = 0.005) -> None:
        """Write `data`, cut into pieces of `chunk_sizes` (then the rest) with a pause between them,
        so that the client reads them separately; nothing else is written in between."""
        async with self.lock:
            for piece in _chunks(data, chunk_sizes):
                self.writer.write(piece)
                await self.writer.drain()
                if chunk_sizes:
                    await asyncio.sleep(pause)


def _chunks(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    pieces, start = [], 0
    for size in itertools.cycle(sizes) if sizes else ():
        if start >= len(data):
            break
        pieces.append(data[start:start + size])
        start += size
    if start < len(data):
        pieces.append(data[start:])
    return pieces


class ScriptedAmiServer:
    def __init__(self, username: str = "xuc", secret: str = "s3cret", *, originate_response_delay: float = 0.05,
                 honour_channel_id: bool = True) -> None:
        self.username, self.secret = username, secret
        self.originate_response_delay = originate_response_delay
        self.honour_channel_id = honour_channel_id
        self.actions: list[Frame] = []
        self.lists: dict[str, list[Headers]] = {name: [] for name in LIST_COMPLETE_EVENTS}
        self.errors: dict[str, str] = {}
        self.mute = False
        self.reject = False
        self.logins = 0  # successful ones
        self.login_times: list[float] = []  # time.monotonic() of each successful login, as it came
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        self._port = 0
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._uniqueids = itertools.count(1)

    # -- lifecycle

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def port(self) -> int:
        return self._port

    def url(self, username: str | None = None, secret: str | None = None) -> str:
        return f"ami://{username or self.username}:{secret or self.secret}@127.0.0.1:{self._port}"

    async def stop_listening(self) -> None:
        """New connections are refused (existing ones are left alone: see drop())."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def resume_listening(self) -> None:
        await self.start()

    async def drop(self) -> None:
        """Close every client connection, as a PBX that restarts does."""
        for connection in list(self._connections):
            connection.writer.close()
        await self._settle()

    async def close(self) -> None:
        await self.stop_listening()
        for connection in list(self._connections):
            connection.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await self._settle()

    async def _settle(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    # -- what the test drives

    @property
    def clients(self) -> int:
        """Connections logged in right now."""
        return sum(1 for connection in self._connections if connection.authenticated)

    async def push_event(self, headers: Headers | Mapping[str, str], *, chunk_sizes: Sequence[int] = ()) -> None:
        await self.push_bytes(encode(headers), chunk_sizes=chunk_sizes)

    async def push_events(self, events: Iterable[Headers], *, chunk_sizes: Sequence[int] = ()) -> None:
        """Several frames as one byte string, cut by `chunk_sizes` regardless of frame boundaries."""
        await self.push_bytes(b"".join(encode(event) for event in events), chunk_sizes=chunk_sizes)

    async def push_bytes(self, data: bytes, *, chunk_sizes: Sequence[int] = ()) -> None:
        """To every logged-in connection."""
        for connection in list(self._connections):
            if connection.authenticated:
                await connection.send(data, chunk_sizes)

    def actions_named(self, name: str) -> list[Frame]:
        return [frame for frame in self.actions if frame.first("Action").casefold() == name.casefold()]

    async def wait_for_action(self, name: str, count: int = 1, within: float = EVENT_DEADLINE_SECONDS) -> Frame:
        """The `count`-th action of that name received (waiting for it)."""
        await self.wait_until(lambda: len(self.actions_named(name)) >= count, within,
                              f"{count} {name} action(s)")
        return self.actions_named(name)[count - 1]

    async def wait_for_logins(self, count: int, within: float = EVENT_DEADLINE_SECONDS) -> None:
        await self.wait_until(lambda: self.logins >= count, within, f"{count} login(s)")

    @staticmethod
    async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"the AMI server did not see {what} within {within} s")
            await asyncio.sleep(0.01)

    # -- one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_accepted += 1
        connection = _Connection(writer)
        self._connections.add(connection)
        try:
            if not self.reject:
                await connection.send(GREETING)
                await self._converse(reader, connection)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(connection)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def _converse(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        parser = FrameParser(greeting=False)
        while data := await reader.read(65536):
            for action in parser.feed(data):
                self.actions.append(action)
                if await self._answer(connection, action) == "Goodbye":
                    return

    async def _answer(self, connection: _Connection, action: Frame) -> str:
        name, action_id = action.first("Action"), action.first("ActionID")
        if name.casefold() == "login":
            return await self._login(connection, action)
        if not connection.authenticated:
            await self._respond(connection, action_id, "Error", Message="Permission denied")
            return "Error"
        if self.mute:
            return ""
        if name in self.errors:
            await self._respond(connection, action_id, "Error", Message=self.errors[name])
            return "Error"
        return await self._success(connection, name, action)

    async def _success(self, connection: _Connection, name: str, action: Frame) -> str:
        action_id = action.first("ActionID")
        if name in LIST_COMPLETE_EVENTS:
            await self._list(connection, name, action_id)
        elif name in SUCCESS_MESSAGES:
            await self._respond(connection, action_id, "Success", Message=SUCCESS_MESSAGES[name])
            if name == "Originate":
                self._later(self.originate_response_delay, connection, self._originate_response(action))
        elif name == "Ping":
            await self._respond(connection, action_id, "Success", Ping="Pong", Timestamp=f"{time.time():.6f}")
        elif name == "Logoff":
            await self._respond(connection, action_id, "Goodbye", Message="Thanks for all the fish.")
            return "Goodbye"
        else:
            await self._respond(connection, action_id, "Error", Message="Invalid/unknown command")
            return "Error"
        return "Success"

    async def _login(self, connection: _Connection, action: Frame) -> str:
        if action.first("Username") == self.username and action.first("Secret") == self.secret:
            self.login_times.append(time.monotonic())
            await self._respond(connection, action.first("ActionID"), "Success", Message="Authentication accepted")
            connection.authenticated = True
            self.logins += 1
            await connection.send(encode([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                          ("Uptime", "42"), ("LastReload", "42"), ("Status", "Fully Booted")]))
            return "Success"
        await self._respond(connection, action.first("ActionID"), "Error", Message="Authentication failed")
        return "Error"

    async def _list(self, connection: _Connection, name: str, action_id: str) -> None:
        items = self.lists[name]
        data = encode([("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
                       ("Message", f"{name} will follow")])
        for item in items:
            event = list(item)
            data += encode([*event[:1], ("ActionID", action_id), *event[1:]])
        data += encode([("Event", LIST_COMPLETE_EVENTS[name]), ("ActionID", action_id), ("EventList", "Complete"),
                        ("ListItems", str(len(items)))])
        await connection.send(data)

    def _originate_response(self, action: Frame) -> bytes:
        unique_id = action.first("ChannelId") if self.honour_channel_id else ""
        unique_id = unique_id or f"1700000000.{next(self._uniqueids)}"
        return encode([
            ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", action.first("ActionID")),
            ("Response", "Success"), ("Channel", f"{action.first('Channel')}-00000001"),
            ("Context", action.first("Context")), ("Exten", action.first("Exten")), ("Application", ""),
            ("Data", ""), ("Reason", "4"), ("Uniqueid", unique_id),
            ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
        ])

    def _later(self, delay: float, connection: _Connection, data: bytes) -> None:
        async def send_later() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await asyncio.sleep(delay)
                if connection in self._connections:
                    await connection.send(data)
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                self._tasks.discard(task)

        asyncio.get_running_loop().create_task(send_later())

    @staticmethod
    async def _respond(connection: _Connection, action_id: str, response: str, **fields: str) -> None:
        await connection.send(encode([("Response", response), ("ActionID", action_id), *fields.items()]))
