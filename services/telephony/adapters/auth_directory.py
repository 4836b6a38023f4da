"""The directory's source: auth's users as lines (xuc/runtime/auth_users.py reads and follows them)."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client

from services.telephony.domain.model import UserLine
from xuc.runtime.auth_users import AuthUsers
from xuc.runtime.grpc_client import Metadata


def _user_line(user: Any) -> UserLine:
    return UserLine(user.login, user.line, user.firstname, user.lastname, user.id, user.mobile)


class AuthDirectory(AuthUsers[UserLine]):
    def __init__(self, auth: Any, metadata: Metadata, connection: Client) -> None:
        super().__init__(auth, metadata, connection, _user_line)
