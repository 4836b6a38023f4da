"""The AMI wire format, bytes in and frames out, with no I/O (so every split of a TCP stream can be
tested on plain bytes).

Asterisk speaks in frames of `Key: Value` lines, each ended by CRLF, a frame ended by an empty
line. The first line of a connection is a greeting (`Asterisk Call Manager/5.0.1`) with no empty
line after it. What this parser tolerates, and why:

- reads split anywhere (inside a line, between `\\r` and `\\n`): TCP gives no frame boundaries;
- bare `\\n` line ends and stray empty lines between frames: some proxies and old versions do it;
- repeated keys (`ChanVariable`, `Variable`, `Output`): all kept, in order;
- values containing `: ` (only the first colon separates key and value);
- a line without a colon (raw command output of old versions): kept as an `Output` header;
- bytes that are not UTF-8 (caller names of old phones): that line is decoded as Latin-1.

Keys are looked up case-insensitively, as Asterisk itself does (`UniqueID` and `Uniqueid` both
appear in the wild). A peer that never ends a line or a frame cannot make the buffer grow without
bound: past `max_frame_bytes` (1 MiB by default) the parser raises FrameTooLarge, and the
connection should be dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

MAX_FRAME_BYTES = 1024 * 1024
RAW_LINE_KEY = "Output"


class AmiProtocolError(ValueError):
    """The peer broke the AMI framing; the connection cannot be trusted any more."""


class FrameTooLarge(AmiProtocolError):
    pass


class UnsafeHeader(ValueError):
    """A header to send would break the framing (CR/LF in it: header injection) or is malformed."""


class Frame(Mapping[str, str]):
    """One AMI frame: an ordered, case-insensitive mapping of key -> first value, keeping every
    (key, value) pair in `headers` (repeated keys included)."""

    __slots__ = ("_headers", "_index")

    def __init__(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._headers: tuple[tuple[str, str], ...] = tuple(headers)
        self._index: dict[str, list[str]] = {}
        for key, value in self._headers:
            self._index.setdefault(key.casefold(), []).append(value)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self._headers

    def __getitem__(self, key: str) -> str:
        return self._index[key.casefold()][0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._index

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._headers:
            if key.casefold() not in seen:
                seen.add(key.casefold())
                yield key

    def __len__(self) -> int:
        return len(self._index)

    def first(self, key: str, default: str = "") -> str:
        """The first value of `key`, or `default` when absent."""
        values = self._index.get(key.casefold())
        return values[0] if values else default

    def all(self, key: str) -> list[str]:
        """Every value of `key`, in order (several `Variable` headers, for instance)."""
        return list(self._index.get(key.casefold(), ()))

    @property
    def event(self) -> str:
        """The event name, or "" when the frame is not an event."""
        return self.first("Event")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self._headers == other._headers
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self._headers)

    def __repr__(self) -> str:
        return f"Frame({list(self._headers)!r})"


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _header(line: str) -> tuple[str, str]:
    key, colon, value = line.partition(":")
    if not colon:
        return RAW_LINE_KEY, line
    return key.strip(), value[1:] if value.startswith(" ") else value


class FrameParser:
    """Feed it bytes as they arrive; it returns the frames completed by them.

    `greeting=True` (a client's side) takes the connection's first line as the greeting, exposed
    as `greeting`; a server parsing what clients send uses `greeting=False`."""

    def __init__(self, *, greeting: bool = True, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no "\n"
        self._pending: list[tuple[str, str]] = []
        self._pending_bytes = 0
        self._expect_greeting = greeting
        self._max = max_frame_bytes
        self.greeting: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        start = 0
        while (end := self._buffer.find(b"\n", max(start, self._scanned))) != -1:
            line = bytes(self._buffer[start:end]).removesuffix(b"\r")
            start = end + 1
            self._scanned = start
            frame = self._line(line)
            if frame is not None:
                frames.append(frame)
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if self._pending_bytes + len(self._buffer) > self._max:
            raise FrameTooLarge(f"an AMI frame exceeds {self._max} bytes without ending")
        return frames

    def _line(self, line: bytes) -> Frame | None:
        if self._expect_greeting:
            self._expect_greeting = False
            self.greeting = _decode(line)
            return None
        if not line:
            return self._end_frame()
        self._pending.append(_header(_decode(line)))
        self._pending_bytes += len(line) + 2
        if self._pending_bytes > self._max:
            raise FrameTooLarge(f"an AMI frame exceeds {self._max} bytes without ending")
        return None

    def _end_frame(self) -> Frame | None:
        if not self._pending:
            return None  # a stray empty line between frames
        frame = Frame(self._pending)
        self._pending = []
        self._pending_bytes = 0
        return frame


def _checked(text: str, what: str) -> str:
    if "\r" in text or "\n" in text:
        raise UnsafeHeader(f"{what} contains a line break: {text[:40]!r}")
    return text


def encode_frame(headers: Iterable[tuple[str, str]]) -> bytes:
    """`Key: Value` lines and the empty line that ends the frame; refuses keys or values that
    would break the framing."""
    lines = []
    for key, value in headers:
        if not key or ":" in key or key != key.strip():
            raise UnsafeHeader(f"invalid AMI header name {key!r}")
        lines.append(f"{_checked(key, 'header name')}: {_checked(value, f'header {key}')}\r\n")
    if not lines:
        raise UnsafeHeader("an AMI frame needs at least one header")
    return ("".join(lines) + "\r\n").encode("utf-8")


def encode_action(name: str, action_id: str, headers: Mapping[str, str | Sequence[str]]) -> bytes:
    """An action frame: `Action`, `ActionID`, then each header (a sequence gives one line per value,
    e.g. several `Variable: k=v`)."""
    pairs: list[tuple[str, str]] = [("Action", name), ("ActionID", action_id)]
    for key, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((key, item) for item in values)
    return encode_frame(pairs)
