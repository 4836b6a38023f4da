"""The channel's envelope, both ways, and the arguments of a command.

In:  `{"claz":"ping"}` or `{"claz":"web","command":NAME, ...arguments as top-level fields}`.
Out: `{"msgType":TYPE,"ctiMessage":OBJECT_OR_ARRAY}`.

A frame that cannot be understood raises `Refused`, which the socket answers with an `Error`
message and stays open; the reasons are listed in docs/cti.md ("Errors").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 1024  # any text argument (a number, a destination, a term): longer is refused
USER_VARIABLE_PREFIX = "USR_"


class Refused(Exception):
    """A command the socket refuses: answered `{"msgType":"Error","ctiMessage":{"Error":reason,...}}`."""

    def __init__(self, reason: str, message: str, command: str = "", msg_type: str = "Error",
                 extra: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.command = command
        self.msg_type = msg_type  # agent commands answer AgentError
        self.extra = dict(extra or {})

    def cti_message(self) -> dict[str, str]:
        body = {"Error": self.reason, "message": self.message, **self.extra}
        if self.command:
            body["command"] = self.command
        return body


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Command:
    name: str
    arguments: Mapping[str, Any]

    def text(self, name: str, *, required: bool = True, default: str = "") -> str:
        value = self.arguments.get(name)
        if value is None and not required:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.invalid(f"'{name}' is required and must be a string" if required
                               else f"'{name}' must be a string")
        text = str(value).strip()
        if required and not text:
            raise self.invalid(f"'{name}' must not be empty")
        if len(text) > MAX_TEXT:
            raise self.invalid(f"'{name}' is longer than {MAX_TEXT} characters")
        return text

    def flag(self, name: str) -> bool:
        value = self.arguments.get(name)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise self.invalid(f"'{name}' is required and must be true or false")
        return value

    def integer(self, name: str, *, required: bool = True, default: int = 0, minimum: int = 0,
                maximum: int = 2**31 - 1) -> int:
        value = self.arguments.get(name)
        if value is None and not required:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if type(value) is not int or not minimum <= value <= maximum:
            raise self.invalid(f"'{name}' must be a whole number from {minimum} to {maximum}")
        return value

    def variables(self, name: str = "variables") -> dict[str, str]:
        value = self.arguments.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
                isinstance(key, str) and isinstance(item, (str, int, float)) and not isinstance(item, bool)
                for key, item in value.items()):
            raise self.invalid(f"'{name}' must be an object of strings")
        return {key: str(item) for key, item in value.items()}

    def call_variables(self, name: str = "variables") -> dict[str, str]:
        """Variables to attach to a call: as the original, each key gets the `USR_` prefix (once)
        and travels in the call's userData."""
        return {key if key.startswith(USER_VARIABLE_PREFIX) else f"{USER_VARIABLE_PREFIX}{key}": value
                for key, value in self.variables(name).items()}

    def strings(self, name: str) -> list[str]:
        value = self.arguments.get(name)
        if not isinstance(value, list) or not all(isinstance(item, (str, int)) and not isinstance(item, bool)
                                                  for item in value):
            raise self.invalid(f"'{name}' is required and must be a list of strings")
        return [str(item).strip() for item in value]

    def invalid(self, message: str) -> Refused:
        return Refused("InvalidArgument", message, self.name)


def parse(text: str | bytes) -> Ping | Command:
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise Refused("MalformedFrame", "The frame is not JSON") from None
    if not isinstance(frame, dict):
        raise Refused("MalformedFrame", "The frame is not a JSON object")
    claz = frame.get("claz")
    if claz == "ping":
        return Ping()
    if claz != "web":
        raise Refused("UnknownClaz", f"Unknown claz {claz!r}: 'web' or 'ping' is expected")
    name = frame.get("command")
    if not isinstance(name, str) or not name:
        raise Refused("MalformedFrame", "A web frame needs a 'command'")
    return Command(name, {key: value for key, value in frame.items() if key not in ("claz", "command")})


def encode(msg_type: str, cti_message: object) -> str:
    """One outgoing frame. Compact; non-ASCII as is (the socket carries UTF-8 text)."""
    return json.dumps({"msgType": msg_type, "ctiMessage": cti_message}, ensure_ascii=False, separators=(",", ":"))


PONG = encode("Pong", {})
