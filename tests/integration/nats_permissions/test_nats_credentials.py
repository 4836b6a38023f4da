"""NATS credentials: without them or with a wrong password nothing is possible, a component whose
credentials are refused stops trying and says why, and every user has a permission block."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.nats_users import AuthorizingNats, refused_connection
from xuc import nats_config
from xuc.runtime import nats
from xuc.runtime.nats_credentials import NatsLogin, read_credentials


# --- without credentials --------------------------------------------------------------------------
async def test_a_connection_without_credentials_is_refused(server: AuthorizingNats) -> None:
    assert "authorization" in await refused_connection(server.url)


async def test_a_wrong_password_is_refused(server: AuthorizingNats) -> None:
    assert "authorization" in await refused_connection(server.url, user="subscriber", password="guessed")


async def test_a_component_with_refused_credentials_stops_trying_and_says_why(server: AuthorizingNats) -> None:
    with pytest.raises(nats.CredentialsRefused, match="NATS refused user 'auth'"):
        await nats.connect(server.url, "xuc-auth", NatsLogin("auth", "not-its-password"))
    with pytest.raises(nats.CredentialsRefused, match="without credentials"):
        await nats.connect(server.url, "xuc-auth")


def test_every_user_has_a_permission_block(tmp_path: Path) -> None:
    credentials = tmp_path / nats_config.CREDENTIALS_FILE
    assert nats_config.create_credentials(credentials)
    assert not nats_config.create_credentials(credentials)  # never overwritten
    users = nats_config.authorization(read_credentials(credentials))["users"]
    assert [user["user"] for user in users] == list(nats_config.USERS)
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
