"""A CTI WebSocket client for tests, as cti.js uses the channel: open
`/xuc/api/2.0/cti?token=`, read `{"msgType","ctiMessage"}` frames, send `{"claz":"web",...}`.

    with CtiClient.open(stack.url, token) as cti:
        cti.expect("LoggedOn")
        cti.send("dial", destination="1002")
        event = cti.expect("PhoneEvent", lambda message: message["eventType"] == "EventDialing")

`expect` reads frames until one of the type (and matching the predicate) comes, keeping every
frame read in `received`; it fails after EVENT_DEADLINE_SECONDS, showing what came instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.deadlines import EVENT_DEADLINE_SECONDS

CTI_PATH = "/xuc/api/2.0/cti"
Frame = dict[str, Any]


class CtiClient:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.received: list[Frame] = []
        self._unread: list[Frame] = []

    @classmethod
    def open(cls, base_url: str, token: str, **options: Any) -> CtiClient:
        url = base_url.replace("http://", "ws://", 1) + f"{CTI_PATH}?token={token}"
        connection = connect(url, open_timeout=EVENT_DEADLINE_SECONDS, **options)
        return cls(connection.__enter__())  # the context-manager form; __exit__ closes it

    def __enter__(self) -> CtiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.connection.close()

    def send(self, command: str, **arguments: Any) -> None:
        self.connection.send(json.dumps({"claz": "web", "command": command, **arguments}))

    def send_raw(self, text: str | bytes) -> None:
        self.connection.send(text)

    def read(self, within: float = EVENT_DEADLINE_SECONDS) -> Frame:
        """The next frame (one kept back by `expect` first)."""
        if self._unread:
            return self._unread.pop(0)
        frame: Frame = json.loads(self.connection.recv(timeout=within))
        self.received.append(frame)
        return frame

    def expect(self, msg_type: str, matches: Callable[[Any], bool] = lambda message: True,
               within: float = EVENT_DEADLINE_SECONDS) -> Any:
        """The ctiMessage of the next frame of `msg_type` that `matches`; the frames read before it
        that are not it stay readable by the next `expect` (in order)."""
        deadline = time.monotonic() + within
        skipped: list[Frame] = []
        try:
            for index, frame in enumerate(list(self._unread)):
                if frame["msgType"] == msg_type and matches(frame["ctiMessage"]):
                    del self._unread[index]
                    return frame["ctiMessage"]
            skipped, self._unread = self._unread, []
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {msg_type} within {within} s; read meanwhile: {skipped}")
                frame = json.loads(self.connection.recv(timeout=left))
                self.received.append(frame)
                if frame["msgType"] == msg_type and matches(frame["ctiMessage"]):
                    return frame["ctiMessage"]
                skipped.append(frame)
        except TimeoutError:
            raise AssertionError(f"no {msg_type} within {within} s; read meanwhile: {skipped}") from None
        finally:
            self._unread = skipped + self._unread

    def closed_with(self, within: float = EVENT_DEADLINE_SECONDS) -> int | None:
        """Reads until the server closes the socket; its close code."""
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                self.received.append(json.loads(self.connection.recv(timeout=deadline - time.monotonic())))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        raise AssertionError(f"the socket was not closed within {within} s")
