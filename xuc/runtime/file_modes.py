"""Private files: what we create is readable by our user only, and what we find open is closed.

The data directory holds secrets in the clear (the token signing keys in auth.db, the service
token, the NATS passwords): other local users must read none of it. Every process of ours runs
with umask 077 (`restrict_new_files`), so each file it, SQLite or nats-server creates is 0600 and
each directory 0700. Files made by an older version, or under another umask, are brought to those
modes at start (`tighten`), each change logged with the path and the mode it had.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from xuc.runtime.settings import Settings

PRIVATE_UMASK = 0o077
PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
# The files SQLite keeps next to a database (WAL mode, or a rollback journal).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def restrict_new_files() -> None:
    """From now on, files and directories this process (and its children) create are its user's only."""
    os.umask(PRIVATE_UMASK)


def tighten(paths: Iterable[Path], report: Callable[[str], None]) -> int:
    """Take away the group's and others' access to each existing path (directory 0700, file 0600,
    at most: an owner without write access keeps none), reporting each change and each path it
    could not change (not ours, read-only mount). The count of paths changed."""
    changed = 0
    for path in paths:
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        except OSError as error:
            report(f"cannot check the mode of {path}: {error.strerror or error}")
            continue
        old = stat.S_IMODE(status.st_mode)
        if not old & 0o077:
            continue
        new = old & (PRIVATE_DIRECTORY if stat.S_ISDIR(status.st_mode) else PRIVATE_FILE)
        try:
            path.chmod(new)
        except OSError as error:
            report(f"{path} is readable by other users (mode {old:04o}) and could not be restricted: "
                   f"{error.strerror or error}")
            continue
        changed += 1
        report(f"{path} was open to other users (mode {old:04o}): now {new:04o}")
    return changed


def sqlite_files(database_url: str) -> list[Path]:
    """The files of a SQLite database URL (the database and its companions); none for another."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return []
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return []
    database = Path(url.database)
    return [database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)]


def signing_key_files(settings: Settings) -> list[Path]:
    """Where auth may keep a private key outside its database: XUC_SIGNING_KEY_FILE, and the key
    file of the versions that kept it on disk (with its directory)."""
    legacy = settings.data_dir / "auth"
    files = [legacy, legacy / "signing-key.pem"]
    if settings.signing_key_file is not None:
        files.append(settings.signing_key_file)
    return files


def owned_secret_files(component: str, settings: Settings) -> list[Path]:
    """The secret-bearing files a process of `component` uses: its SQLite database, auth's key
    files, the NATS credentials file it reads."""
    files = sqlite_files(settings.database_url)
    if component == "auth":
        files += signing_key_files(settings)
    if settings.nats_credentials is not None:
        files.append(settings.nats_credentials)
    return files
