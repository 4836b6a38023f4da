"""End-to-end fixtures: the whole system started the way a user starts it, `xuc up`.

    stack        session   the main Stack (CORS for http://app.example, 64 KiB body limit, the 1.0
                           API answering 127.0.0.1), with the USERS below provisioned through
                           `xuc provision`. Stopped at the end of the session: SIGTERM, exit code 0
                           and a last log line "xuc: stopped". Shared by every test that needs no
                           other setting (one per xdist worker): each uses logins, lines and data
                           of its own, and never stops or reconfigures it.
    api          session   an httpx.Client on the main stack's gateway.
    make_stack   function  start(**env) more stacks with other settings (expiry, restart, crash);
                           any still running at teardown is stopped and checked like the main one.

Helpers for the tests (import them from this module): Stack, assert_error, assert_token_answer,
login_body, jwt_parts, b64url, forge, free_port, clean_env, XUC, BASE.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.http_errors import assert_error_body
from tests.support.ports import free_port

XUC = Path(sys.executable).parent / "xuc"
BASE = "/xuc/api/2.0"
APP_ORIGIN = "http://app.example"
MAX_BODY_BYTES = 65536
# A deadline, not a speed check: stacks start side by side on the xdist workers, on shared cores.
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 60.0
LOG_TAIL = 20_000
RING_TIMEOUT_SECONDS = 60  # never reached by a test: see Stack.env

# The main stack's settings beyond Stack's defaults: the 1.0 API answers the tests' own address.
SHARED_STACK_ENV = {"DEPRECATED_API_HOST": "127.0.0.1"}

# Provisioned on the main stack: login -> password.
USERS = {
    "alicej": "alice-secret",
    "bobm": "bob-secret",
    "carole.events": "carole-secret",
}


# --- small helpers --------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any XUC_* setting of the developer's shell (no XUC_TEST_DATABASE_URL, say)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("XUC_") and name != "DEPRECATED_API_HOST"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(header, payload, signature part) of a compact JWT, unverified."""
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def login_body(login: str, password: str | None = None) -> dict[str, str]:
    return {"login": login, "password": USERS[login] if password is None else password}


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    """A documented error answer: the status, and exactly {"error": code, "message": <text>} (`message`
    exactly, when given). Returns the body."""
    return assert_error_body(response, status, code, message)


def assert_token_answer(response: httpx.Response, login: str, ttl: int = 3600) -> str:
    """A 200 {login, token, TTL} answer; its token is an ES256 JWT for `login`. Returns the token."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"login", "token", "TTL"}, body
    assert body["login"] == login
    assert type(body["TTL"]) is int
    assert body["TTL"] == ttl
    token = body["token"]
    assert isinstance(token, str)
    header, payload, _ = jwt_parts(token)
    assert header["alg"] == "ES256"
    assert isinstance(header["kid"], str)
    assert payload["login"] == login
    assert payload["exp"] - payload["iat"] == ttl
    return token


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL:]
    except FileNotFoundError:
        return "<no log>"


# --- one `xuc up` ---------------------------------------------------------------------------------
@dataclass
class Stack:
    """One `xuc up` on its own data directory and HTTP port."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_path(self) -> Path:
        return self.root / f"xuc-up-{self.runs}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return clean_env(
            XUC_DATA_DIR=str(self.data_dir),
            XUC_HTTP_PORT=str(self.port),
            XUC_HTTP_HOST="127.0.0.1",
            XUC_CORS_ORIGINS=APP_ORIGIN,
            XUC_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
            **{
                # Every test calls from 127.0.0.1, many with wrong passwords on purpose: the login
                # throttle is tested on a stack of its own (test_login.py) with small limits.
                "XUC_LOGIN_MAX_FAILURES": "100000",
                "XUC_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
                # A call rings until its test answers it or hangs up: on a loaded machine a short
                # ring timeout would end it first. The timeout itself is tested with the service
                # (tests/integration/telephony_service/), where the test awaits its event.
                "XUC_SIM_RING_TIMEOUT": str(RING_TIMEOUT_SECONDS),
                **self.extra_env,
            },
        )

    def log(self) -> str:
        return _tail(self.log_path)

    # -- life cycle --
    def start(self) -> Stack:
        assert self.process is None, "already running"
        self.runs += 1
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([str(XUC), "up"], stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env, cwd=self.root)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not any(line.startswith("xuc: ready") for line in self.log().splitlines()):
            code = self.process.poll()
            if code is not None:
                self.process = None
                pytest.fail(f"`xuc up` exited with {code} before it was ready:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"`xuc up` not ready within {READY_TIMEOUT_SECONDS:.0f} s:\n{self.log()}")
            time.sleep(0.05)
        return self

    def wait(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """The exit code of `xuc up`, awaited (fails the test if it does not exit in time)."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"`xuc up` did not exit within {timeout:.0f} s:\n{self.log()}")
        self.process = None
        return code

    def stop(self) -> None:
        """SIGTERM; asserts a clean stop: exit code 0 within 30 s, last line `xuc: stopped`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.wait()
        assert code == 0, f"`xuc up` exited with {code}:\n{self.log()}"
        lines = self.log().rstrip("\n").splitlines()
        assert lines, "empty log"
        assert lines[-1] == "xuc: stopped", self.log()

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()
            self.process = None

    # -- what it publishes in its data directory --
    def run_file(self, name: str) -> dict[str, Any]:
        content: dict[str, Any] = json.loads((self.run_dir / f"{name}.json").read_text())
        return content

    def component_pids(self) -> dict[str, int]:
        """Every component's pid, from the run files (nats from its ports file's name)."""
        pids = {path.stem: int(self.run_file(path.stem)["pid"]) for path in self.run_dir.glob("*.json")}
        for path in self.run_dir.glob("*.ports"):
            pids["nats"] = int(path.stem.rpartition("_")[2])
        return pids

    def nats_url(self, user: str | None = "subscriber") -> str:
        """The URL of the stack's nats-server, with the credentials of `user` from the data
        directory (the read-only subscriber by default; None: without credentials)."""
        (path,) = self.run_dir.glob("nats-server_*.ports")
        url: str = json.loads(path.read_text())["nats"][0]
        if user is None:
            return url
        login = self.nats_login(user)
        return url.replace("nats://", f"nats://{login['user']}:{login['password']}@")

    def nats_login(self, user: str) -> dict[str, str]:
        """{"user": ..., "password": ...} of a NATS user, as `xuc up` wrote it in the data directory."""
        login: dict[str, str] = json.loads((self.data_dir / "nats-credentials.json").read_text())[user]
        return login

    def service_token(self) -> str:
        return (self.data_dir / "service-token").read_text().strip()

    # -- the command line, as a user runs it --
    def xuc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(XUC), *args], env=self.env, cwd=self.root, capture_output=True, text=True,
                                timeout=CLI_TIMEOUT_SECONDS, check=False)
        if check:
            assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return result

    def write_file(self, name: str, content: Any) -> Path:
        path = self.root / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    def provision(self, users: dict[str, str], name: str = "users.yaml") -> list[str]:
        """`xuc provision` of these users (login -> password); its output lines."""
        path = self.write_file(name, {"users": [{"login": login, "password": password}
                                                for login, password in users.items()]})
        return self.xuc("provision", str(path)).stdout.splitlines()

    def user_logins(self) -> list[str]:
        """The logins `xuc user list` shows (its first line is the header)."""
        lines = self.xuc("user", "list").stdout.splitlines()
        assert lines[0].split()[0] == "login", lines
        return [line.split()[0] for line in lines[1:] if line.strip()]


# --- forged tokens -------------------------------------------------------------------------------
def _segment(value: dict[str, object]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _public_pem(stack: Stack, kid: str) -> bytes:
    """The public half of the stack's signing key `kid`: what an attacker may know of it."""
    with contextlib.closing(sqlite3.connect(stack.data_dir / "auth.db")) as database:  # keys live there
        (stored,) = database.execute("SELECT private_key FROM auth_signing_keys WHERE kid = ?", (kid,)).fetchone()
    private = serialization.load_pem_private_key(stored.encode(), None)
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def forge(kind: str, token: str, stack: Stack) -> str:
    """A token an attacker could build from a real one (kinds: test_check.FORGERIES)."""
    header, payload, signature = jwt_parts(token)
    kid = header["kid"]
    head, body, _ = token.split(".")
    if kind == "alg-none":
        return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{body}."
    if kind == "alg-none-with-signature":
        return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{body}.{signature}"
    if kind == "hs256-with-the-public-key":
        signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{body}"
        mac = hmac.new(_public_pem(stack, kid), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"
    if kind == "hs256-with-a-secret":
        return jwt.encode(payload, "a-long-enough-secret-for-hmac-sha256-" * 2, algorithm="HS256",
                          headers={"kid": kid})
    if kind == "es256-with-another-key":
        return jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    if kind == "es256-with-another-key-and-a-longer-life":
        longer = {**payload, "exp": payload["exp"] + 365 * 24 * 3600}
        return jwt.encode(longer, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    if kind == "tampered-login":
        return f"{head}.{_segment({**payload, 'login': 'bobm'})}.{signature}"
    if kind == "tampered-expiry":
        return f"{head}.{_segment({**payload, 'exp': payload['exp'] + 3600})}.{signature}"
    if kind == "unknown-kid":
        return jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                          headers={"kid": "no-such-key"})
    if kind == "no-kid":
        return jwt.encode(payload, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    if kind == "truncated-signature":
        return f"{head}.{body}.{signature[:-4]}"
    raise AssertionError(kind)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    main = Stack(tmp_path_factory.mktemp("stack"), extra_env=SHARED_STACK_ENV).start()
    try:
        assert main.provision(USERS) == [f"user {login}: created" for login in USERS]
        yield main
    except BaseException:
        main.kill()
        raise
    main.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=15.0) as client:
        yield client


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    started: list[Stack] = []

    def start(**env: str) -> Stack:
        new = Stack(tmp_path / f"stack{len(started)}", extra_env=env)
        started.append(new)
        return new.start()

    try:
        yield start
    finally:
        failures: list[BaseException] = []
        for one in started:
            if one.process is not None:
                try:
                    one.stop()
                except BaseException as failure:
                    one.kill()
                    failures.append(failure)
        if failures:
            raise failures[0]
