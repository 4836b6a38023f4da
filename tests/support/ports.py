"""A free TCP port for a server a test starts later, on 127.0.0.1.

A port the kernel hands out for a bind to port 0 comes from the ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default): between the moment a test
picks it and the moment its server binds it, any process asking for port 0 (a service's metrics
listener, a client's source port) may get it. Seen in CI: a gateway lost its port to telephony's
metrics listener. So a port is drawn below that range, where the kernel never hands one out, and
from a slice of its own per pytest-xdist worker, so that two workers never draw the same one;
then it is checked free with a bind. Within a worker, the draws walk the slice in order from a
random start, so that two ports drawn before either is bound (a cluster names all its ports before
its first node starts) are never the same one: seen in CI as "n3: monitor port already in use".
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

LOWEST = 10_000
WORKERS_PLANNED = 8  # slices of the range below the ephemeral ports; more workers share slices


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw3": the fourth worker
    digits = worker.removeprefix("gw")
    return int(digits) % WORKERS_PLANNED if digits.isdigit() else 0


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _slice_walk() -> Iterator[int]:
    """This worker's ports, one after another from a random start, round and round."""
    size = (_ephemeral_start() - 1 - LOWEST) // WORKERS_PLANNED
    start = LOWEST + _worker_index() * size
    offset = random.randrange(size)
    return itertools.cycle([start + (offset + step) % size for step in range(size)])


_walk: Iterator[int] | None = None


def free_port() -> int:
    """A port no other worker draws, not drawn again soon by this one, that the kernel does not
    hand out, free right now."""
    global _walk
    if _ephemeral_start() - 1 - LOWEST < 1_000:  # an unusual range: fall back on the kernel's choice
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    if _walk is None:
        _walk = _slice_walk()
    for port in itertools.islice(_walk, 200):
        if _is_free(port):
            return port
    raise RuntimeError("no free port among the next 200 of this worker's slice")
