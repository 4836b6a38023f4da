"""The floor of benchmarks/cti.py's event delivery: a bare Starlette WebSocket app that relays NATS
messages to sockets, with nothing of the CTI channel (no token, no state, no translation, no queue).

    python -m benchmarks.cti_floor PORT NATS_URL

`ws://127.0.0.1:PORT/ws?login=L` is a socket of user L. One core NATS subscription per subject the
gateway's hub routes phone events and statuses from (xuc.telephony.phone.*, xuc.telephony.status.*);
each message is sent as one text frame (its bytes as Latin-1 text: no decoding) to the sockets of
the user its subject names. Every frame a client sends is answered with a pong (cti.js pings every
5 s), so that both sides of the comparison pay for the pings. Served by uvicorn as the gateway is
(httptools, websockets-sansio, its default event loop).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

import nats
import uvicorn
from nats.aio.msg import Msg
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from xuc import subjects

PONG = '{"msgType":"Pong","ctiMessage":{}}'


def floor_app(nats_url: str) -> Starlette:
    sockets: dict[str, set[WebSocket]] = {}

    async def relay(message: Msg) -> None:
        try:
            login = subjects.decode_token(message.subject.rpartition(".")[2])
        except ValueError:
            return
        text = message.data.decode("latin-1")
        for websocket in list(sockets.get(login, ())):
            with contextlib.suppress(Exception):  # a socket that went away: its reader removes it
                await websocket.send_text(text)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        login = websocket.query_params.get("login", "")
        sockets.setdefault(login, set()).add(websocket)
        try:
            while True:
                await websocket.receive_text()
                await websocket.send_text(PONG)
        except WebSocketDisconnect:
            pass
        finally:
            sockets[login].discard(websocket)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connection = await nats.connect(nats_url)
        for subject in (subjects.PHONE_EVENT.all, subjects.PHONE_STATUS.all):
            await connection.subscribe(subject, cb=relay, pending_msgs_limit=1_000_000,
                                       pending_bytes_limit=512 * 1024 * 1024)
        try:
            yield
        finally:
            await connection.close()

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)], lifespan=lifespan)


def main() -> None:
    port, nats_url = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(floor_app(nats_url), host="127.0.0.1", port=port, log_config=None, access_log=False,
                http="httptools", ws="websockets-sansio", server_header=False)


if __name__ == "__main__":
    main()
