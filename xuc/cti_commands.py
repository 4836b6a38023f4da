"""`xuc cti LOGIN`: open the CTI WebSocket as a user and print every message as one JSON line.

For people integrating with the channel (what does the server send when...?) and for support
(what does this user's client see?). It logs in over REST like any client, then reads the socket
until it closes or Ctrl-C; it pings every 5 s as cti.js does (the Pong answers are not printed).
Frames given with --send are sent after the logon, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from pathlib import Path

import aiohttp

from xuc.launcher import CliError
from xuc.runtime.settings import Settings

PING = '{"claz":"ping"}'
PING_SECONDS = 5.0
DEFAULT_PORT = 8090


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    cti = commands.add_parser(
        "cti", parents=[common], help="open the CTI WebSocket as a user, print each message",
        description="Log in as LOGIN, open the CTI WebSocket (/xuc/api/2.0/cti) and print each message "
                    "as one JSON line until the socket closes (Ctrl-C to stop).")
    cti.add_argument("login")
    cti.add_argument("--password", help="the user's password (asked for if not given)")
    cti.add_argument("--url", help="the gateway's URL (default: the running system's, else "
                                   f"http://127.0.0.1:{DEFAULT_PORT})")
    cti.add_argument("--send", action="append", default=[], metavar="JSON",
                     help='a frame to send after the logon, e.g. \'{"claz":"web","command":"getList",'
                          '"objectType":"queue"}\' (repeatable)')


def gateway_url(data_dir: Path) -> str:
    """The running gateway's address from the run directory, else the default port."""
    for path in sorted((data_dir / "run").glob("gateway*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            address = json.loads(path.read_text())["http"]
            if isinstance(address, str) and address:
                host, _, port = address.rpartition(":")
                host = "127.0.0.1" if host in ("0.0.0.0", "[::]", "") else host
                return f"http://{host}:{port}"
    return f"http://127.0.0.1:{os.environ.get('XUC_HTTP_PORT', DEFAULT_PORT)}"


def run(args: argparse.Namespace) -> int:
    for frame in args.send:
        try:
            json.loads(frame)
        except ValueError:
            raise CliError(f"--send {frame!r} is not JSON") from None
    password = args.password if args.password is not None else getpass.getpass(f"password for {args.login}: ")
    url = (args.url or gateway_url(Settings.from_env().data_dir)).rstrip("/")
    return asyncio.run(_session(url, args.login, password, args.send))


async def _session(url: str, login: str, password: str, frames: list[str]) -> int:
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(f"{url}/xuc/api/2.0/auth/login", json={"login": login, "password": password}) \
                    as answer:
                body = await answer.json(content_type=None)
                if answer.status != 200:
                    raise CliError(f"login refused: {body.get('error', answer.status)}: {body.get('message', '')}")
            token = body["token"]
            async with http.ws_connect(f"{url}/xuc/api/2.0/cti", params={"token": token}, heartbeat=None) as socket:
                return await _print_messages(socket, frames)
        except aiohttp.ClientError as error:
            raise CliError(f"cannot reach the gateway at {url}: {error}") from None


async def _print_messages(socket: aiohttp.ClientWebSocketResponse, frames: list[str]) -> int:
    pinging = asyncio.create_task(_ping(socket))
    try:
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            decoded = json.loads(message.data)
            if decoded.get("msgType") == "Pong":
                continue
            print(json.dumps(decoded, ensure_ascii=False), flush=True)
            if decoded.get("msgType") == "LoggedOnError":
                return 1
            if decoded.get("msgType") == "LoggedOn":
                for frame in frames:
                    await socket.send_str(frame)
    finally:
        pinging.cancel()
    print(f"xuc: the socket closed ({socket.close_code})", file=sys.stderr)
    return 0


async def _ping(socket: aiohttp.ClientWebSocketResponse) -> None:
    while not socket.closed:
        await asyncio.sleep(PING_SECONDS)
        await socket.send_str(PING)
