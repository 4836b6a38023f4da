"""The token services trust for admin calls: XUC_SERVICE_TOKEN, else the one `xuc up` created in
the data directory on its first run."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from xuc.launcher.console import CliError
from xuc.runtime.settings import configured_service_token

TOKEN_FILE = "service-token"


def load_service_token(data_dir: Path, configured: str | None = None) -> str:
    """`configured` (default: XUC_SERVICE_TOKEN, through the settings), else the data directory's."""
    token = configured_service_token() if configured is None else configured
    if token:
        return token
    path = data_dir / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise CliError("no service token: run `xuc up` first or set XUC_SERVICE_TOKEN") from None
    if not token:
        raise CliError(f"{path} is empty: delete it and run `xuc up` again, or set XUC_SERVICE_TOKEN")
    return token


def ensure_service_token(data_dir: Path, configured: str) -> str:
    """The service token, created on the first run (unless one is `configured`), readable by its
    owner only (it grants admin rights)."""
    if not configured:
        # O_EXCL: never overwrite a token that services and operators already hold.
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(data_dir / TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32) + "\n")
    return load_service_token(data_dir, configured)
