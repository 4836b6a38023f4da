"""The rounds of benchmarks/cti.py (what each measures is in its docstring) and the processes around
them: the clients (benchmarks/cti_clients.py), the floor (benchmarks/cti_floor.py), the event
driver (benchmarks/event_driver.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks import harness
from benchmarks.cti_analysis import match, summary
from benchmarks.cti_clients import PING_SECONDS
from benchmarks.telephony import DIALLED
from benchmarks.telephony_stack import telephony_address
from xucproto.telephony.v1 import telephony_pb2

PASSWORD = "bench-secret"  # benchmarks.telephony.provision_document's
CTI_PATH = "/xuc/api/2.0/cti"


class ClientProcess:
    """benchmarks/cti_clients.py: one JSON request, one JSON answer, over its stdin/stdout."""

    def __enter__(self) -> ClientProcess:
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.cti_clients"], cwd=harness.ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.process.pid
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def request(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the client process ended ({self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the clients could not {request['op']}: {answer['error']}")
        return answer

    def open(self, group: str, urls: list[str], logins: list[str], cti: bool = True,
             ping: float = PING_SECONDS) -> dict[str, Any]:
        opened = self.request(op="open", group=group, urls=urls, logins=logins, cti=cti, ping=ping)
        if opened["failed"]:
            raise RuntimeError(f"{opened['failed']} sockets of {len(urls)} did not open: {opened['errors']}")
        return opened


def cti_url(stack: harness.Stack, token: str) -> str:
    return "ws" + stack.url.removeprefix("http") + f"{CTI_PATH}?token={token}"


def log_in(stack: harness.Stack, logins: list[str]) -> tuple[dict[str, str], float]:
    """Each user's token (a password login over REST: Argon2 each, a few at a time); and the time taken."""
    started = time.monotonic()

    def one(login: str) -> str:
        body = json.dumps({"login": login, "password": PASSWORD}).encode()
        request = urllib.request.Request(f"{stack.url}/xuc/api/2.0/auth/login", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.load(response)["token"])

    with ThreadPoolExecutor(4) as pool:
        tokens = dict(zip(logins, pool.map(one, logins), strict=True))
    return tokens, round(time.monotonic() - started, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def fd_limit(pid: int) -> int:
    """The soft limit on open files of a process (what it got from `xuc up`, from this process)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise RuntimeError(f"no open files limit for process {pid}")


# --- idle sockets -------------------------------------------------------------------------------------
def idle_sockets(stack: harness.Stack, clients: ClientProcess, tokens: dict[str, str],
                 options: argparse.Namespace) -> dict[str, Any]:
    gateway = stack.pids()["gateway"]
    if fd_limit(gateway) < options.sockets + 200:
        raise RuntimeError(f"the gateway may open {fd_limit(gateway)} files: too few for {options.sockets} sockets "
                           "(raise the hard limit: ulimit -Hn)")
    logins = list(tokens)
    check_url = f"{stack.url}/xuc/api/2.0/auth/check"
    header = {"Authorization": f"Bearer {tokens[logins[0]]}"}

    watched = {**stack.pids(), "clients": clients.pid}
    rounds: list[tuple[dict[str, float], harness.LoadResult]] = []  # each round's cores busy, and its result

    def check() -> harness.LoadResult:
        """A round of load, and the cores each process kept busy meanwhile (the load generator's too)."""
        before, generator, started = harness.process_cpu(watched), harness.children_cpu(), time.monotonic()
        result = harness.load(check_url, options.connections, int(options.seconds), headers=header)
        elapsed = time.monotonic() - started
        used = harness.cores(before, harness.process_cpu(watched), elapsed)
        used["load_generator"] = round((harness.children_cpu() - generator) / elapsed, 2)
        rounds.append((used, result))
        return result

    harness.load(check_url, options.connections, 2, headers=header)  # warm-up, not counted
    warm = logins[:50]  # the logon path warmed up, its first allocations made, before RSS is read
    clients.open("warm-up", [cti_url(stack, tokens[login]) for login in warm], warm)
    clients.request(op="close", group="warm-up")
    without: list[harness.LoadResult] = []
    with_sockets: list[harness.LoadResult] = []
    chosen = [logins[index % len(logins)] for index in range(options.sockets)]
    urls = [cti_url(stack, tokens[login]) for login in chosen]
    for cycle in range(options.check_cycles):  # rounds without, with, with, without; the sockets reopened each cycle
        without.append(check())
        if cycle == 0:
            rss_before = rss_mb(gateway)
        opened = clients.open("idle", urls, chosen, ping=options.ping_seconds)
        if cycle == 0:
            cpu_before = harness.process_cpu(watched)
            time.sleep(options.idle)
            idle_cores = harness.cores(cpu_before, harness.process_cpu(watched), options.idle)
            rss_after, first_open = rss_mb(gateway), opened
        with_sockets += [check(), check()]
        stats = clients.request(op="stats")
        clients.request(op="close", group="idle")
        without.append(check())
    best_with, best_without = harness.best_of(with_sockets), harness.best_of(without)
    growth = rss_after - rss_before
    return {"sockets": options.sockets, "opened": first_open["opened"], "failed": first_open["failed"],
            "open_s": first_open["seconds"], "gateway_fd_limit": fd_limit(gateway), "idle_s": options.idle,
            "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
            "rss_growth_mb": round(growth, 1), "kib_per_socket": round(growth * 1024 / options.sockets, 1),
            "pings": stats["pings"], "pongs": stats["pongs"], "closed": stats["closed"],
            "ping_seconds": options.ping_seconds, "idle_cores": idle_cores,
            "check_cores_without": next(used for used, result in rounds if result is best_without),
            "check_cores_with": next(used for used, result in rounds if result is best_with),
            "check_without": best_without.as_dict(), "check_with": best_with.as_dict(),
            "check_with_sockets_ratio": round(best_with.rps / best_without.rps, 2),
            "rounds_without_rps": [round(result.rps) for result in without],
            "rounds_with_rps": [round(result.rps) for result in with_sockets]}


# --- events -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def floor_process(nats_url: str) -> Iterator[tuple[int, int]]:
    """benchmarks/cti_floor.py; yields its port and process id."""
    port = harness.free_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.cti_floor", str(port), nats_url],
                               cwd=harness.ROOT)
    try:
        harness.wait_for_port(port)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def drive(stack: harness.Stack, clients: ClientProcess, group: str, urls: list[str], logins: list[str],
          server: int, lines: dict[str, str], options: argparse.Namespace, cti: bool) -> dict[str, Any]:
    """One round: sockets open (one per user), the driver's calls, frames read until quiet 1 s;
    the CPU of the server (`server`, a process id) over that time."""
    clients.open(group, urls, logins, cti)
    time.sleep(1.0)  # the logons' traffic is over
    clients.request(op="record")
    watched = {**stack.pids(), "server": server, "clients": clients.pid}
    cpu_before, started = harness.process_cpu(watched), time.monotonic()
    args = [sys.executable, "-m", "benchmarks.event_driver", telephony_address(stack), str(stack.data_dir),
            ",".join(lines[login] for login in logins), str(options.event_rate / 4), str(options.seconds)]
    output = subprocess.run(args, cwd=harness.ROOT, capture_output=True, text=True, check=True).stdout
    clients.request(op="quiet", seconds=1.0, within=120)
    cpu_after, elapsed = harness.process_cpu(watched), time.monotonic() - started
    read = clients.request(op="frames")
    clients.request(op="close", group=group)
    frames = {read["logins"][int(index)]: records for index, records in read["frames"].items()}
    return {"driven": json.loads(output), "frames": frames, "count": sum(map(len, frames.values())),
            "server_cpu_s": cpu_after["server"] - cpu_before["server"],
            "cores": harness.cores(cpu_before, cpu_after, elapsed)}


def event_rounds(stack: harness.Stack, clients: ClientProcess, tokens: dict[str, str], lines: dict[str, str],
                 options: argparse.Namespace) -> dict[str, Any]:
    logins = list(lines)
    nats_url, _ = stack.nats_server()
    with floor_process(nats_url) as (port, pid):
        floor = drive(stack, clients, "floor", [f"ws://127.0.0.1:{port}/ws?login={login}" for login in logins],
                      logins, pid, lines, options, cti=False)
    gateway = drive(stack, clients, "events", [cti_url(stack, tokens[login]) for login in logins], logins,
                    stack.pids()["gateway"], lines, options, cti=True)
    figures = match(gateway["driven"]["calls"], gateway["frames"], lines)
    gateway_us = gateway["server_cpu_s"] / max(1, gateway["count"]) * 1e6
    floor_us = floor["server_cpu_s"] / max(1, floor["count"]) * 1e6
    return {"offered_events_per_s": options.event_rate, "seconds": options.seconds, "users": len(logins),
            **figures, "driver_late_p99_ms": gateway["driven"]["late_p99_ms"],
            "gateway_frames": gateway["count"], "gateway_cpu_s": round(gateway["server_cpu_s"], 2),
            "gateway_us_per_frame": round(gateway_us, 1),
            "floor_frames": floor["count"], "floor_cpu_s": round(floor["server_cpu_s"], 2),
            "floor_us_per_frame": round(floor_us, 1),
            "cpu_per_frame_vs_floor": round(gateway_us / floor_us, 2) if floor_us else 0.0,
            "gateway_cores": gateway["cores"], "floor_cores": floor["cores"]}


# --- dial ---------------------------------------------------------------------------------------------
def wait_for_no_call(simulator: Any, metadata: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while simulator.ListCalls(telephony_pb2.ListCallsRequest(), metadata=metadata, timeout=30).calls:
        if time.monotonic() > deadline:
            raise TimeoutError(f"calls still up after {within} s")
        time.sleep(0.2)


def dial_round(stack: harness.Stack, clients: ClientProcess, tokens: dict[str, str], simulator: Any,
               metadata: Any, options: argparse.Namespace) -> dict[str, Any]:
    logins = list(tokens)
    wait_for_no_call(simulator, metadata)
    clients.open("dial", [cti_url(stack, tokens[login]) for login in logins], logins)
    time.sleep(1.0)
    watched = {**stack.pids(), "clients": clients.pid}
    cpu_before, started = harness.process_cpu(watched), time.monotonic()
    answer = clients.request(op="dial", group="dial", rate=options.dial_rate, seconds=options.seconds,
                             destination=DIALLED)
    cores = harness.cores(cpu_before, harness.process_cpu(watched), time.monotonic() - started)
    clients.request(op="close", group="dial")
    return {"rate": options.dial_rate, "seconds": options.seconds, "sent": answer["sent"], "lost": answer["lost"],
            "errors": answer["errors"], "late_p99_ms": answer["late_p99_ms"], **summary(answer["latencies_ms"]),
            "cores": cores}
