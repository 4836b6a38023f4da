"""compose.yaml's healthcheck commands, run for real against a local gRPC health server and a local
HTTP server."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from grpc_health.v1 import health, health_pb2

from tests.support.compose_file import GRPC_SERVICES, healthcheck_command, services_of
from tests.support.ports import free_port


# --- healthchecks, run for real ---------------------------------------------------------------------------
def run_check(command: list[str], env: dict[str, str]) -> int:
    assert command[0] == "CMD"
    assert command[1] == "python", "the image's interpreter"
    argv = [sys.executable, *command[2:]]
    return subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False).returncode




class _Health(BaseHTTPRequestHandler):
    ready = True

    def do_GET(self) -> None:
        status = 200 if self.path == "/health/ready" and self.ready else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("name", GRPC_SERVICES)
def test_the_grpc_healthcheck_reports_the_health_service(
    compose: dict[str, Any], name: str, health_server: tuple[int, health.HealthServicer]
) -> None:
    port, servicer = health_server
    command = healthcheck_command(services_of(compose)[name])
    env = {f"XUC_{name.upper()}_GRPC_LISTEN": f"0.0.0.0:{port}"}
    assert run_check(command, env) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert run_check(command, env) != 0


def test_the_grpc_healthcheck_fails_when_nothing_listens(compose: dict[str, Any]) -> None:
    command = healthcheck_command(services_of(compose)["auth"])
    assert run_check(command, {"XUC_AUTH_GRPC_LISTEN": f"0.0.0.0:{free_port()}"}) != 0


def test_the_gateway_healthcheck_asks_for_readiness(compose: dict[str, Any]) -> None:
    command = healthcheck_command(services_of(compose)["gateway"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"XUC_HTTP_PORT": str(server.server_address[1])}
        assert run_check(command, env) == 0
        _Health.ready = False
        assert run_check(command, env) != 0
    finally:
        _Health.ready = True
        server.shutdown()
        server.server_close()
        thread.join()
