"""The directory's users: auth's users (xuc/runtime/auth_users.py reads and follows them). A read
at request time (a login whose event has not come yet) that auth does not answer is Unreachable."""

from __future__ import annotations

from typing import Any

import grpc
from nats.aio.client import Client

from services.contacts.domain.directory import DirectoryUser
from xuc.errors import Unreachable
from xuc.runtime import auth_users
from xuc.runtime.grpc_client import Metadata


def _user(user: Any) -> DirectoryUser:
    return DirectoryUser(user.id, user.login, user.firstname, user.lastname, user.line, user.mobile)


class AuthUsers(auth_users.AuthUsers[DirectoryUser]):
    def __init__(self, auth: Any, metadata: Metadata, connection: Client) -> None:
        super().__init__(auth, metadata, connection, _user)

    async def read(self, login: str) -> DirectoryUser | None:
        try:
            return await super().read(login)
        except grpc.aio.AioRpcError as error:
            raise Unreachable(f"The auth service did not answer: {error.code().name}") from None
