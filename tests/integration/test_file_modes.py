"""A service started on its own (not by `xuc up`) closes the secret-bearing files it uses, and
creates its own for its user only, whatever the umask it was started with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.processes import ServiceLauncher


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_auth_closes_its_database_and_key_file_and_says_so(nats_server: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "auth-data"
    data_dir.mkdir()
    database, key_file = data_dir / "auth.db", tmp_path / "signing-key.pem"
    database.write_bytes(b"")  # an empty SQLite database, as an older version might have left it
    key_file.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    for path in (database, key_file):
        path.chmod(0o644)
    previous = os.umask(0o022)  # the service's own umask must win over the one it inherits
    try:
        with ServiceLauncher(nats_server, tmp_path) as launcher:
            auth = launcher.start("services.auth", "auth", database_url=f"sqlite:///{database}", data_dir=data_dir,
                                  extra_env={"XUC_SIGNING_KEY_FILE": str(key_file)})
            log = auth.log()
            # Its ready file, and SQLite's companions if any now: made by the process, under its umask.
            created = {path.name: mode(path) for path in data_dir.iterdir() if path not in (database, auth.log_file)}
    finally:
        os.umask(previous)
    for path in (database, key_file):
        assert f"{path} was open to other users (mode 0644): now 0600" in log, log
        assert mode(path) == 0o600
    assert "auth.json" in created
    assert created == dict.fromkeys(created, 0o600)
