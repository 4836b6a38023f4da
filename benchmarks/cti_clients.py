"""The WebSocket clients of benchmarks/cti.py, in a process of their own so that their CPU is not the
gateway's: `python -m benchmarks.cti_clients`, driven by one JSON request a line on stdin, one JSON
answer a line on stdout (asyncio + aiohttp on uvloop).

Every socket pings every 5 s, as cti.js does (the first ping at a random moment of the first 5 s, so
that they do not all ping at once), and counts the pongs. Requests:

  {"op": "open", "group": G, "urls": [...], "logins": [...], "cti": true, "ping": 5.0}
      opens one socket per URL (group G, login for the report), 50 handshakes at a time; with "cti"
      waits for each socket's state at logon (up to its PhoneStatusUpdate); each pings every "ping"
      seconds (0: never, a diagnostic). -> {"opened", "failed", "errors", "seconds"}
  {"op": "record"}            from now on, note every frame but pongs: (arrival, socket, msgType,
                              eventType, uniqueId, status); forgets what was noted before
  {"op": "quiet", "seconds": Q, "within": W}
                              waits until no frame but pongs came for Q s -> {"last": arrival or 0}
  {"op": "frames"}            -> {"frames": {socket index: [[arrival, msgType, eventType, uniqueId, status]]}}
                              (a frame that is not JSON, such as the floor's, is noted as msgType "raw")
  {"op": "dial", "group": G, "rate": R, "seconds": S, "destination": D}
                              sends R dial commands a second over G's sockets in turn, open loop; each is
                              matched to the next EventDialing frame of its socket -> {"latencies_ms",
                              "sent", "lost", "errors", "late_p99_ms"}
  {"op": "stats"}             -> {"pings", "pongs", "open", "closed": sockets closed by the server}
  {"op": "close", "group": G}

Times are `time.monotonic()` (CLOCK_MONOTONIC, as the driver's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import sys
import time
from collections import deque
from typing import Any

import aiohttp
import uvloop

PING = json.dumps({"claz": "ping"})
PONG_PREFIX = '{"msgType":"Pong"'
PING_SECONDS = 5.0
HANDSHAKES_AT_ONCE = 50


class Socket:
    def __init__(self, index: int, group: str, login: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.index, self.group, self.login, self.ws = index, group, login, ws
        self.logged_on = asyncio.Event()
        self.dials: deque[float] = deque()  # when each dial not yet answered by an EventDialing was sent
        self.tasks: list[asyncio.Task[None]] = []
        self.closing = False  # closed by this side


class Clients:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.sockets: list[Socket] = []
        self.recording = False
        self.frames: dict[int, list[list[Any]]] = {}
        self.last_frame = 0.0
        self.pings = self.pongs = self.closed = 0
        self.dial_latencies: list[float] = []
        self.dials_expected, self.all_dialled = 0, asyncio.Event()
        self.errors: list[str] = []

    async def _read(self, socket: Socket) -> None:
        async for message in socket.ws:
            arrived = time.monotonic()
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            text: str = message.data
            if text.startswith(PONG_PREFIX):
                self.pongs += 1
                continue
            self.last_frame = arrived
            try:
                frame = json.loads(text)
                msg_type, body = frame["msgType"], frame["ctiMessage"]
            except (ValueError, KeyError, TypeError):
                msg_type, body = "raw", {}
            if msg_type == "PhoneStatusUpdate" and not socket.logged_on.is_set():
                socket.logged_on.set()  # the last message of the state at logon
                continue
            body = body if isinstance(body, dict) else {}
            event_type = body.get("eventType", "")
            if event_type == "EventDialing" and socket.dials:
                self.dial_latencies.append((arrived - socket.dials.popleft()) * 1000)
                if len(self.dial_latencies) >= self.dials_expected:
                    self.all_dialled.set()
            elif msg_type in ("Error", "AgentError") and len(self.errors) < 20:
                self.errors.append(text[:300])
            if self.recording:
                self.frames.setdefault(socket.index, []).append(
                    [arrived, msg_type, event_type, body.get("uniqueId", ""), body.get("status", "")])
        if not socket.closing:
            self.closed += 1

    async def _ping(self, socket: Socket, every: float) -> None:
        if not every:
            return
        await asyncio.sleep(random.uniform(0, every))
        while not socket.ws.closed:
            self.pings += 1
            await socket.ws.send_str(PING)
            await asyncio.sleep(every)

    async def open(self, group: str, urls: list[str], logins: list[str], cti: bool,
                   ping: float = PING_SECONDS) -> dict[str, Any]:
        assert self.session is not None
        started = time.monotonic()
        gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
        failures: list[str] = []

        async def one(url: str, login: str) -> None:
            async with gate:
                try:
                    ws = await self.session.ws_connect(url, max_msg_size=0, autoping=True)  # type: ignore[union-attr]
                except (aiohttp.ClientError, OSError) as error:
                    failures.append(f"{login}: {error!r}")
                    return
                socket = Socket(len(self.sockets), group, login, ws)
                self.sockets.append(socket)
                socket.tasks = [asyncio.create_task(self._read(socket)), asyncio.create_task(self._ping(socket, ping))]
                if cti:
                    try:
                        await asyncio.wait_for(socket.logged_on.wait(), 30)
                    except TimeoutError:
                        failures.append(f"{login}: no state at logon within 30 s")
                else:
                    socket.logged_on.set()

        await asyncio.gather(*(one(url, login) for url, login in zip(urls, logins, strict=True)))
        return {"opened": len(urls) - len(failures), "failed": len(failures), "errors": failures[:5],
                "seconds": round(time.monotonic() - started, 2)}

    async def quiet(self, seconds: float, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        self.last_frame = max(self.last_frame, time.monotonic())
        while time.monotonic() < deadline:
            wait = self.last_frame + seconds - time.monotonic()
            if wait <= 0:
                return {"last": self.last_frame}
            await asyncio.sleep(min(wait, 0.1))
        raise TimeoutError(f"frames still arriving after {within} s")

    async def dial(self, group: str, rate: float, seconds: float, destination: str) -> dict[str, Any]:
        sockets = [socket for socket in self.sockets if socket.group == group]
        self.dial_latencies, self.errors = [], []
        frame = json.dumps({"claz": "web", "command": "dial", "destination": destination})
        total, start = int(rate * seconds), time.monotonic() + 0.2
        self.dials_expected, self.all_dialled = total, asyncio.Event()
        late = []
        for number in range(total):
            scheduled = start + number / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            socket = sockets[number % len(sockets)]
            sent = time.monotonic()
            late.append((sent - scheduled) * 1000)
            socket.dials.append(sent)
            await socket.ws.send_str(frame)
        if len(self.dial_latencies) < total:  # the last EventDialing frames, 10 s at most
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_dialled.wait(), 10)
        for socket in sockets:
            socket.dials.clear()
        late.sort()
        return {"latencies_ms": self.dial_latencies, "sent": total, "lost": total - len(self.dial_latencies),
                "errors": self.errors, "late_p99_ms": round(late[int(len(late) * 0.99) - 1], 2) if late else 0.0}

    async def close(self, group: str) -> dict[str, Any]:
        leaving = [socket for socket in self.sockets if socket.group == group]
        self.sockets = [socket for socket in self.sockets if socket.group != group]
        for socket in leaving:
            socket.closing = True
            socket.tasks[1].cancel()
        await asyncio.gather(*(socket.ws.close() for socket in leaving), return_exceptions=True)
        await asyncio.gather(*(task for socket in leaving for task in socket.tasks), return_exceptions=True)
        for index, socket in enumerate(self.sockets):
            socket.index = index
        return {"closed": len(leaving)}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "open":
            return await self.open(request["group"], request["urls"], request["logins"], request.get("cti", True),
                                   request.get("ping", PING_SECONDS))
        if op == "record":
            self.recording, self.frames = True, {}
            return {}
        if op == "quiet":
            return await self.quiet(request["seconds"], request["within"])
        if op == "frames":
            self.recording = False
            return {"frames": self.frames, "logins": [socket.login for socket in self.sockets]}
        if op == "dial":
            return await self.dial(request["group"], request["rate"], request["seconds"], request["destination"])
        if op == "stats":
            return {"pings": self.pings, "pongs": self.pongs, "open": len(self.sockets), "closed": self.closed}
        if op == "close":
            return await self.close(request["group"])
        raise ValueError(f"unknown op {op!r}")


async def serve() -> None:
    clients = Clients()
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients.session = session
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            try:
                answer = await clients.handle(json.loads(line))
            except Exception as error:  # the benchmark reports it and stops
                answer = {"error": f"{type(error).__name__}: {error}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        for group in {socket.group for socket in clients.sockets}:
            with contextlib.suppress(Exception):
                await clients.close(group)


def main() -> None:
    # Thousands of sockets: as many descriptors as the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(serve())


if __name__ == "__main__":
    main()
