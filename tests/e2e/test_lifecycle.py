"""The stack over time: tokens expiring, a second gateway, a restart, a component that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    BASE,
    Stack,
    assert_error,
    assert_token_answer,
    clean_env,
    forge,
    free_port,
    jwt_parts,
    login_body,
)
from tests.support.http_errors import TOKEN_EXPIRED_MESSAGE

LOGIN = f"{BASE}/auth/login"
CHECK = f"{BASE}/auth/check"
StartStack = Callable[..., Stack]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- expiry ---------------------------------------------------------------------------------------
def test_a_token_expires_after_its_ttl(make_stack: StartStack) -> None:
    stack = make_stack(XUC_TOKEN_TTL="2")
    stack.provision({"short.lived": "short-secret"})
    with httpx.Client(base_url=stack.url, timeout=15.0) as api:
        token = assert_token_answer(api.post(LOGIN, json={"login": "short.lived", "password": "short-secret"}),
                                    "short.lived", ttl=2)
        assert_token_answer(api.get(CHECK, headers=_bearer(token)), "short.lived", ttl=2)
        expires = jwt_parts(token)[1]["exp"]

        deadline = expires + 30  # a generous wait for the refusal, not a bound on how soon it comes
        while (response := api.get(CHECK, headers=_bearer(token))).status_code == 200:
            assert time.time() < deadline, "the token was still accepted 30 s after its expiry"
            time.sleep(0.2)

        assert time.time() >= expires  # not refused early
        assert_error(response, 401, "TokenExpired", TOKEN_EXPIRED_MESSAGE)
        assert_error(api.get(CHECK, headers={"X-Auth-Token": token}), 401, "TokenExpired", TOKEN_EXPIRED_MESSAGE)


# --- a second gateway on the same auth service ----------------------------------------------------
def _wait_for_ready_file(process: subprocess.Popen[bytes], path: Path, log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        try:
            ready: dict[str, object] = json.loads(path.read_text())
            if ready.get("pid") == process.pid:
                return ready
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        if process.poll() is not None:
            pytest.fail(f"the second gateway exited with {process.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the second gateway wrote no ready file within 30 s:\n{log.read_text()}")
        time.sleep(0.05)


def test_a_second_gateway_accepts_the_tokens_of_the_first(stack: Stack, api: httpx.Client, tmp_path: Path) -> None:
    port = free_port()
    ready_file, log_path = tmp_path / "gw2.json", tmp_path / "gw2.log"
    env = clean_env(
        XUC_AUTH_ADDRESS=stack.run_file("auth")["grpc"],
        XUC_CONTACTS_ADDRESS=stack.run_file("contacts")["grpc"],
        XUC_NATS_URL=stack.nats_url(user=None),  # every gateway follows the token revocations,
        XUC_NATS_CREDENTIALS=str(stack.data_dir / "nats-credentials.json"),  # as the gateway user
        XUC_SERVICE_TOKEN=stack.service_token(),
        XUC_HTTP_HOST="127.0.0.1",
        XUC_HTTP_PORT=str(port),
        XUC_READY_FILE=str(ready_file),
        XUC_DATA_DIR=str(tmp_path / "data"),
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway"], stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        assert _wait_for_ready_file(process, ready_file, log_path)["http"] == f"127.0.0.1:{port}"
        token = assert_token_answer(api.post(LOGIN, json=login_body("alicej")), "alicej")

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15.0) as second:
            assert second.get("/health/ready").status_code == 200
            refreshed = assert_token_answer(second.get(CHECK, headers=_bearer(token)), "alicej")
            assert_token_answer(api.get(CHECK, headers=_bearer(refreshed)), "alicej")  # and back
            for kind in ("alg-none", "es256-with-another-key", "tampered-login"):
                assert_error(second.get(CHECK, headers=_bearer(forge(kind, token, stack))), 401, "InvalidToken")
            assert_token_answer(second.post(LOGIN, json=login_body("bobm")), "bobm")
            # This gateway has the default 1 MiB body limit: a 100 000-deep nesting bomb reaches the parser.
            assert_error(second.post(LOGIN, content=b"[" * 100_000, headers={"Content-Type": "application/json"}),
                         400, "InvalidJson")

        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        assert code == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- restart --------------------------------------------------------------------------------------
def test_users_and_tokens_survive_a_restart(make_stack: StartStack) -> None:
    stack = make_stack()
    user = {"login": "restart.user", "password": "restart-secret"}
    assert stack.provision({user["login"]: user["password"]}) == ["user restart.user: created"]
    with httpx.Client(base_url=stack.url, timeout=15.0) as api:
        token = assert_token_answer(api.post(LOGIN, json=user), "restart.user")

    stack.stop()
    stack.start()

    with httpx.Client(base_url=stack.url, timeout=15.0) as api:
        assert_token_answer(api.post(LOGIN, json=user), "restart.user")
        assert_token_answer(api.get(CHECK, headers=_bearer(token)), "restart.user")  # the signing key survived
    assert stack.user_logins() == ["restart.user"]
    assert stack.provision({user["login"]: user["password"]}) == ["user restart.user: unchanged"]


def test_a_second_xuc_up_on_the_same_data_dir_is_refused(stack: Stack) -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "xuc"), "up"], env=stack.env, cwd=stack.root,
                            capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "already running" in result.stderr


# --- a component that dies ------------------------------------------------------------------------
def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_component_that_dies_stops_the_whole_stack(make_stack: StartStack) -> None:
    stack = make_stack()
    pids = stack.component_pids()
    assert set(pids) == {"nats", "auth", "contacts", "telephony", "gateway"}, pids

    os.kill(pids["contacts"], signal.SIGKILL)

    assert stack.wait(30) == 1, stack.log()
    assert any(line.startswith("xuc: contacts exited") for line in stack.log().splitlines()), stack.log()
    assert stack.log().rstrip("\n").splitlines()[-1] == "xuc: stopped"
    left = {name: pid for name, pid in pids.items() if not _gone(pid)}
    assert not left, f"still running after `xuc up` exited: {left}"
    assert not list(stack.run_dir.glob("*.json")), "stale run files left behind"
    with httpx.Client(timeout=2.0) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{stack.url}/health/live")
