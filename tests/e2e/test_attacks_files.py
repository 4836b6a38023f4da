"""The data directory of `xuc up` is its user's alone (issue 11, item 2).

Before the fix, with the usual umask 022, `.xuc/` was 0755 and auth.db (holding the unencrypted
token signing keys) with its WAL 0644: any local user could read the keys and sign tokens the
system accepts. Now every process runs with umask 077 (whatever the shell's), and what an older
version left open is closed at start, each change said with the path and the mode it had.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.conftest import BASE, Stack
from xuc import nats_config


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask `xuc up` is started with (a child inherits it)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def open_to_others(directory: Path) -> list[str]:
    """Every path under `directory` (itself included) that its group or others may use."""
    found = []
    for path in [directory, *directory.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):  # a file removed meanwhile (a WAL checkpoint)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                found.append(f"{path.relative_to(directory.parent)} {mode:04o}")
    return found


def test_a_stack_started_under_umask_022_keeps_its_data_dir_to_its_user(make_stack: Callable[..., Stack]) -> None:
    with umask(0o022):
        stack = make_stack()
    with httpx.Client(base_url=stack.url, timeout=15.0) as http:  # writes to the databases, their WAL
        stack.xuc("user", "add", "filed", "--password", "filed-secret")
        assert http.post(f"{BASE}/auth/login", json={"login": "filed", "password": "filed-secret"}).status_code == 200
    assert (stack.data_dir / "auth.db-wal").exists()
    assert open_to_others(stack.data_dir) == []
    assert stat.S_IMODE(stack.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((stack.data_dir / "auth.db").stat().st_mode) == 0o600
    stack.stop()
    assert open_to_others(stack.data_dir) == []


def test_loose_modes_left_by_an_older_version_are_closed_and_said(tmp_path: Path,
                                                                  make_stack: Callable[..., Stack]) -> None:
    data_dir = tmp_path / "stack0" / "data"  # make_stack's first stack lives there
    (data_dir / "auth").mkdir(parents=True)
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    loose = {
        "service-token": b"an-older-token-of-this-deployment\n",
        "auth.db": b"",  # SQLite takes an empty file for an empty database
        "auth/signing-key.pem": key,  # where versions that kept the key on disk kept it
    }
    for name, content in loose.items():
        (data_dir / name).write_bytes(content)
        (data_dir / name).chmod(0o644)
    assert nats_config.create_credentials(data_dir / nats_config.CREDENTIALS_FILE)
    (data_dir / nats_config.CREDENTIALS_FILE).chmod(0o640)
    for directory in (data_dir, data_dir / "auth"):
        directory.chmod(0o755)

    stack = make_stack()
    said = stack.log()
    for name, mode in [*((name, "0644") for name in loose), (nats_config.CREDENTIALS_FILE, "0640"),
                       (".", "0755"), ("auth", "0755")]:
        path = (data_dir / name).resolve()
        assert f"xuc: {path} was open to other users (mode {mode}): now " in said, (name, said)
    assert open_to_others(data_dir) == []
    assert stack.service_token() == "an-older-token-of-this-deployment"  # kept, only closed
