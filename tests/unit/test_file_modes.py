"""Closing secret-bearing files and directories to other users (xuc/runtime/file_modes.py), on real files."""

from __future__ import annotations

import stat
from pathlib import Path

from xuc.runtime import file_modes
from xuc.runtime.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_open_files_and_directories_are_closed_and_each_change_said(tmp_path: Path) -> None:
    directory, secret, shared = tmp_path / "data", tmp_path / "data" / "token", tmp_path / "data" / "key.pem"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    secret.write_text("x")
    secret.chmod(0o644)
    shared.write_text("x")
    shared.chmod(0o660)
    said: list[str] = []
    assert file_modes.tighten([directory, secret, shared], said.append) == 3
    assert (mode(directory), mode(secret), mode(shared)) == (0o700, 0o600, 0o600)
    assert said == [f"{directory} was open to other users (mode 0755): now 0700",
                    f"{secret} was open to other users (mode 0644): now 0600",
                    f"{shared} was open to other users (mode 0660): now 0600"]


def test_private_and_missing_paths_are_left_alone_silently(tmp_path: Path) -> None:
    private, read_only = tmp_path / "private", tmp_path / "read-only"
    private.write_text("x")
    private.chmod(0o600)
    read_only.write_text("x")
    read_only.chmod(0o400)
    said: list[str] = []
    assert file_modes.tighten([private, read_only, tmp_path / "missing"], said.append) == 0
    assert said == []
    assert (mode(private), mode(read_only)) == (0o600, 0o400)


def test_a_read_only_file_open_to_others_stays_read_only(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("x")
    path.chmod(0o444)
    file_modes.tighten([path], lambda _: None)
    assert mode(path) == 0o400  # no write access is added


def test_the_files_of_a_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "auth.db"
    assert file_modes.sqlite_files(f"sqlite:///{database}") == [
        database, tmp_path / "auth.db-wal", tmp_path / "auth.db-shm", tmp_path / "auth.db-journal"]
    assert file_modes.sqlite_files("postgresql://xuc@db/xuc") == []
    assert file_modes.sqlite_files("sqlite:///:memory:") == []


def test_the_secret_files_of_each_component(tmp_path: Path) -> None:
    env = {"XUC_DATA_DIR": str(tmp_path), "XUC_SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
           "XUC_NATS_CREDENTIALS": str(tmp_path / "nats.json")}
    auth = file_modes.owned_secret_files("auth", Settings.from_env("auth", env))
    assert {tmp_path / "auth.db", tmp_path / "auth", tmp_path / "auth" / "signing-key.pem", tmp_path / "key.pem",
            tmp_path / "nats.json"} <= set(auth)
    gateway = file_modes.owned_secret_files("gateway", Settings.from_env("gateway", {**env,
                                                                                   "XUC_DATABASE_URL": "postgresql://db/x"}))
    assert gateway == [tmp_path / "nats.json"]
