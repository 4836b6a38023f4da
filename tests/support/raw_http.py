"""HTTP/1.1 over a bare socket, for what no HTTP client library will do: send a request's headers
and then its body as slowly as we like (slow-loris), or never."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after its answer
    elapsed: float  # seconds from the first byte sent to the end of the answer

    def json(self) -> Any:
        return json.loads(self.body)


def _read_answer(sock: socket.socket, started: float, timeout: float) -> RawAnswer:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    elapsed = time.monotonic() - started
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        # Closed too: a server that closes with request bytes it never read (the rest of a body
        # it refused, or a byte sent as it answered) makes its kernel reset the connection.
        closed = True
    except TimeoutError:
        closed = False
    return RawAnswer(int(status_line.split()[1]), headers, body[:length], closed, elapsed)


def slow_request(host: str, port: int, head: str, body_parts: Iterable[bytes], interval: float,
                 timeout: float = 30.0) -> RawAnswer:
    """Send `head` (request line and headers, without the blank line), then each body part
    `interval` seconds apart, stopping as soon as the server answers or closes; the answer."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head.rstrip("\r\n").encode("latin-1") + b"\r\n\r\n")
        for part in body_parts:
            sock.settimeout(interval)
            try:
                if sock.recv(1, socket.MSG_PEEK):  # the server answered (or closed) already
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        return _read_answer(sock, started, timeout)


class RawConnection:
    """One connection on which answers are read one at a time (keep-alive, pipelining), and whose
    closing by the server is awaited."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.opened = self.sent = time.monotonic()
        self._buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sent = time.monotonic()
        self.sock.sendall(data)

    def _more(self) -> bytes:
        self.sock.settimeout(self.timeout)
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""

    def answer(self) -> RawAnswer:
        """The next answer (its `closed` says whether it asked to close: `connection: close`)."""
        while b"\r\n\r\n" not in self._buffer:
            chunk = self._more()
            if not chunk:
                raise AssertionError(f"connection closed before an answer: {self._buffer!r}")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            chunk = self._more()
            if not chunk:
                break
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return RawAnswer(int(status_line.split()[1]), headers, body, headers.get("connection") == "close",
                         time.monotonic() - self.sent)

    def wait_closed(self) -> float:
        """Seconds from the last bytes sent until the server closed the connection, which must
        send nothing more meanwhile (TimeoutError if it stays open `timeout` seconds)."""
        chunk = self._more()
        assert self._buffer == b"", self._buffer
        assert chunk == b"", chunk
        return time.monotonic() - self.sent
