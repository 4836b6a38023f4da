"""What to do when a test cannot run because something is not installed on this machine.

On a laptop the test is skipped, and the reason says what to install. On CI (`CI=true`, set by
`.ci/run`) it fails instead: a skipped test there would hide that a whole part of the suite never ran.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

KERBEROS_INSTALL = (
    "apt-get install krb5-kdc krb5-admin-server krb5-user libkrb5-dev; pip install -e '.[kerberos]'"
)
POSTGRES_SERVER_INSTALL = "apt-get install postgresql util-linux"


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing_tool(what: str, install: str) -> NoReturn:
    """Skip the current test (fail it on CI) because `what` is missing; `install` says how to get it."""
    reason = f"{what}: {install}"
    if on_ci():
        pytest.fail(f"CI=true, so a missing tool fails instead of skipping. {reason}", pytrace=False)
    pytest.skip(reason)
