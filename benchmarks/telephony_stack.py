"""The processes and waits around benchmarks/telephony.py: the event URL receiver
(benchmarks/webhook_sink.py) and its counters, the scripted Asterisk of `--pbx ami`
(benchmarks/ami_pbx.py), and waiting until the telephony service is ready or the events it caused
have drained.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from benchmarks import harness
from xucproto.telephony.v1 import telephony_pb2


@contextlib.contextmanager
def webhook_sink() -> Iterator[tuple[str, int]]:
    """The receiver process; yields its base URL and process id."""
    port = harness.free_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.webhook_sink", str(port)], cwd=harness.ROOT)
    try:
        harness.wait_for_port(port)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def sink_call(base: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(f"{base}{path}", b"" if method == "POST" else None, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


class AmiPbx:
    """benchmarks/ami_pbx.py, the scripted Asterisk of `--pbx ami`: its AMI URL, process id, and
    `play` (one request, one JSON answer, over its stdin/stdout)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process, self.pid = process, process.pid
        self._stdin, self._stdout = process.stdin, process.stdout
        self.url = str(json.loads(self._read())["url"])

    def _read(self) -> str:
        line = self._stdout.readline()
        if not line:
            raise RuntimeError(f"the scripted AMI server ended ({self.process.poll()})")
        return line

    def play(self, request: dict[str, Any]) -> dict[str, Any]:
        self._stdin.write(json.dumps(request) + "\n")
        self._stdin.flush()
        answer: dict[str, Any] = json.loads(self._read())
        return answer


@contextlib.contextmanager
def ami_pbx() -> Iterator[AmiPbx]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.ami_pbx"], cwd=harness.ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield AmiPbx(process)
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_pbx(telephony: Any, metadata: Any, lines: dict[str, str], within: float = 30.0) -> float:
    """Waits until the telephony service is logged in to the PBX and knows every line (status 0,
    not -2: unknown); returns how long that took."""
    started = time.monotonic()
    request = telephony_pb2.GetPhoneStatusesRequest(numbers=list(lines.values()))
    state: Any = None
    while time.monotonic() < started + within:
        state = telephony.GetPbxState(telephony_pb2.GetPbxStateRequest(), metadata=metadata, timeout=5)
        statuses = telephony.GetPhoneStatuses(request, metadata=metadata, timeout=5).statuses
        if state.connected and all(statuses[line] == 0 for line in lines.values()):
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    raise TimeoutError(f"the PBX is not ready after {within} s: {state}")


def telephony_address(stack: harness.Stack) -> str:
    return str(json.loads((stack.data_dir / "run" / "telephony.json").read_text())["grpc"])


def wait_for_drain(sink: str, simulator: Any, metadata: Any, quiet: float = 2.0, within: float = 300.0) -> float:
    """Waits until the simulator (if any) has no call left and the receiver got nothing for `quiet` s;
    returns the seconds from the call to the last event received (0 if none came after it).
    TimeoutError after `within`. The sink's clock is this process's (CLOCK_MONOTONIC)."""
    started = time.monotonic()
    deadline = started + within
    while time.monotonic() < deadline:
        calls = simulator.ListCalls(telephony_pb2.ListCallsRequest(), metadata=metadata, timeout=30).calls \
            if simulator is not None else []
        stats = sink_call(sink, "/_stats")
        last, now = float(stats["last"]), float(stats["now"])
        idle = now - last if stats["count"] else float("inf")
        if not calls and idle >= quiet:
            return round(max(0.0, last - started), 1)
        time.sleep(0.5)
    raise TimeoutError(f"events still arriving after {within} s")
