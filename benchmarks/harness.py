"""What every benchmark shares: the stack started as `xuc up` does, the one-hop baseline
servers, and load generation (wrk when installed, else benchmarks/loadgen.py), each in its own
process so the load generator does not share an interpreter with what it measures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class Stack:
    url: str
    data_dir: Path
    env: dict[str, str]

    def xuc(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(BIN / "xuc"), *args], env=self.env, input=stdin, text=True,
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"xuc {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def provision(self, document: str) -> None:
        path = self.data_dir / "provision.yaml"
        path.write_text(document)
        self.xuc("provision", str(path))

    def pids(self) -> dict[str, int]:
        """Process id of each component (replicas as `auth-2`...), from the ready files the
        launcher collects, and of the NATS server it started ("nats")."""
        run = self.data_dir / "run"
        pids = {path.stem: int(json.loads(path.read_text())["pid"]) for path in run.glob("*.json")}
        return {**pids, "nats": self.nats_server()[1]}

    def nats_server(self) -> tuple[str, int]:
        """URL (with the read-only subscriber's credentials: NATS takes no one without) and process
        id of the NATS server `xuc up` started, from the ports file it writes (`<executable>_<pid>.ports`
        in the run directory)."""
        path = next((self.data_dir / "run").glob("*_*.ports"))
        return self.xuc("nats-url").strip(), int(path.stem.rpartition("_")[2])


@contextlib.contextmanager
def stack(extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """`xuc up` in a fresh data dir on a free port; stopped (SIGTERM) on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix="xuc-bench-"))
    port = free_port()
    env = {**os.environ, "XUC_DATA_DIR": str(data_dir), "XUC_HTTP_PORT": str(port),
           "XUC_HTTP_HOST": "127.0.0.1", "XUC_LOG_LEVEL": "WARNING", **(extra_env or {})}
    log = (data_dir / "xuc-up.log").open("w")
    process = subprocess.Popen([str(BIN / "xuc"), "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "xuc: ready" not in (data_dir / "xuc-up.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("xuc up did not become ready:\n" + (data_dir / "xuc-up.log").read_text())
            time.sleep(0.1)
        yield Stack(f"http://127.0.0.1:{port}", data_dir, env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def _process(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def baseline() -> Iterator[dict[str, str]]:
    """URLs of the bare route with one gRPC hop ("hop") and without ("bare"), and the process ids
    of the hop route and of the gRPC service it calls ("hop_pid", "echo_pid")."""
    echo_port, hop_port, bare_port = free_port(), free_port(), free_port()
    with _process("benchmarks.baseline", "echo", str(echo_port)) as echo, \
         _process("benchmarks.baseline", "http", str(hop_port), f"127.0.0.1:{echo_port}") as hop, \
         _process("benchmarks.baseline", "http", str(bare_port)):
        for port in (echo_port, hop_port, bare_port):
            wait_for_port(port)
        yield {"hop": f"http://127.0.0.1:{hop_port}/", "bare": f"http://127.0.0.1:{bare_port}/",
               "hop_pid": str(hop.pid), "echo_pid": str(echo.pid)}


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    generator: str

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, connections: int, seconds: int, headers: dict[str, str], method: str,
         body: bytes | None, paths: Sequence[str] = ()) -> LoadResult:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = {json.dumps(method)}\n")
        if body is not None:
            script.write(f"wrk.body = {json.dumps(body.decode())}\n")
        if paths:
            # Lua string literals accept JSON's escapes for what paths hold (ASCII, no control characters).
            script.write("paths = {" + ", ".join(json.dumps(path) for path in paths) + "}\n"
                         "counter = 0\n"
                         "request = function()\n"
                         "  counter = counter + 1\n"
                         "  return wrk.format(nil, paths[(counter % #paths) + 1])\n"
                         "end\n")
        script.write(
            "errors = 0\n"
            "response = function(status, headers, body) if status >= 400 then errors = errors + 1 end end\n"
        )
    args += ["-s", script.name, url]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    latency = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", output, re.M)}
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, failed.groups())) if failed else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return LoadResult(rps, latency["50"], latency["99"], requests, errors, "wrk")


def load(url: str, connections: int = 50, seconds: int = 10, headers: dict[str, str] | None = None,
         method: str = "GET", body: bytes | None = None, paths: Sequence[str] = ()) -> LoadResult:
    """Closed-loop load on `url`. With `paths` (e.g. one route per user), the requests go to these
    paths of url's host in turn instead of url's own path."""
    headers = headers or {}
    if shutil.which("wrk"):
        return _wrk(url, connections, seconds, headers, method, body, paths)
    args = [sys.executable, "-m", "benchmarks.loadgen", url, str(connections), str(seconds), method,
            *(f"{name}:{value}" for name, value in headers.items())]
    with tempfile.NamedTemporaryFile(delete=False) as payload, \
         tempfile.NamedTemporaryFile("w", delete=False) as path_list:
        if body is not None:
            payload.write(body)
            args += ["--body", payload.name]
        if paths:
            path_list.write("\n".join(paths))
            args += ["--paths", path_list.name]
    figures = json.loads(subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    os.unlink(payload.name)
    os.unlink(path_list.name)
    return LoadResult(figures["rps"], figures["p50_ms"], figures["p99_ms"], figures["requests"],
                      figures["errors"], "benchmarks.loadgen (aiohttp)")


def process_cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) used so far by each process, from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def cpu_seconds(stack: Stack, others: dict[str, int] | None = None) -> dict[str, float]:
    """CPU time used so far by each component of the stack (NATS included) and by `others`."""
    return process_cpu({**stack.pids(), **(others or {})})


def children_cpu() -> float:
    """CPU seconds of this process's ended (waited for) children: the load generators."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores each process kept busy between two CPU readings (1.0 = one full core)."""
    return {name: round((after[name] - before.get(name, 0.0)) / seconds, 2) for name in sorted(after)}


def best_of(rounds: Iterable[LoadResult]) -> LoadResult:
    """The round with the most requests/s: noise on a shared machine only ever slows a round."""
    return max(rounds, key=lambda result: result.rps)
