"""Fixtures of the attack tests: one `xuc up` stack for the whole folder (per xdist worker), the
victim's, mallory's and an anonymous client, and a client of the 1.0 API from an address that is not
allowed. The attacks change nothing, or only the attacker's own data, so the files share the stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.attacks.attack_stack import BODY_TIMEOUT_SECONDS, PERSONAL, QUEUE_ID, USERS, AttackStack, token_of


@pytest.fixture(scope="package")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackStack]:
    root = tmp_path_factory.mktemp("attacks")
    key_file = root / "signing-key.pem"
    key_file.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    stack = AttackStack(root, extra_env={
        "XUC_SIGNING_KEY_FILE": str(key_file),
        "XUC_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        "DEPRECATED_API_HOST": "127.0.0.1",
    }).start()
    try:
        path = stack.write_file("attack-users.yaml", {
            "users": [{"login": login, "password": password, "line": line}
                      for login, (password, line) in USERS.items()],
            # The victim's agent 1: the planted answer below names it, so it would be recorded were
            # the forged token taken.
            "agents": [{"number": "1", "user": "victim"}],
            "queues": [{"id": QUEUE_ID, "name": "attacked", "number": "3900", "agents": ["1"]}],
            "qualifications": [{"name": "Attack", "queues": [QUEUE_ID], "subQualifications": [{"name": "One"}]}],
        })
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture
def victim(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, headers={"X-Auth-Token": token_of(target, "victim")},
                      timeout=30.0) as client:
        assert client.delete(PERSONAL).status_code == 204
        yield client


@pytest.fixture
def mallory(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, headers={"X-Auth-Token": token_of(target, "mallory")},
                      timeout=30.0) as client:
        assert client.delete(PERSONAL).status_code == 204
        yield client


@pytest.fixture
def anonymous(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="package")
def elsewhere(target: AttackStack) -> Iterator[httpx.Client]:
    """A client on another host (source address 127.0.0.2), not in DEPRECATED_API_HOST."""
    with httpx.Client(base_url=target.url, timeout=15.0,
                      transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
        yield client
