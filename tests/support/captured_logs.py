"""The process's own log configuration (xuc/runtime/logs.py), writing into a buffer the test reads."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from xuc.runtime import logs


def into(output: io.StringIO, level: str = "INFO", fmt: str = "text") -> None:
    """logs.configure(level, fmt), its one handler writing to `output`."""
    logs.configure(level, fmt)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)


@contextlib.contextmanager
def captured_logs(level: str = "INFO", fmt: str = "text") -> Iterator[io.StringIO]:
    """Logs configured as a process configures them, into a buffer; the previous configuration
    back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    output = io.StringIO()
    into(output, level, fmt)
    try:
        yield output
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
