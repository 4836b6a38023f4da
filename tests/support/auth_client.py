"""A client of the auth service's gRPC API for tests: login, check, users, with the service token or
a user's bearer token, and two replicas on one database as `xuc up --replicas 2` runs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from xuc.security.tokens import TokenVerifier, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

AUTH_SERVICE = "xuc.auth.v1.Auth"


Metadata = tuple[tuple[str, str], ...]


UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED


CLIENT_ADDRESS = "203.0.113.7"


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def user_spec(login: str, password: str = "s3cret-pw", **profile: str) -> auth_pb2.CreateUserRequest:
    return auth_pb2.CreateUserRequest(login=login, password=password, **profile)


@dataclass
class AuthClient:
    """The generated stub, plus the service token's metadata and the few calls most tests need."""

    stub: auth_pb2_grpc.AuthStub
    service: Metadata  # x-xuc-service-token: <the service token>

    async def create_user(self, login: str, password: str = "s3cret-pw", **profile: str) -> auth_pb2.User:
        user: auth_pb2.User = await self.stub.CreateUser(user_spec(login, password, **profile), metadata=self.service)
        return user

    async def login(self, login: str, password: str) -> auth_pb2.TokenReply:
        request = auth_pb2.LoginRequest(login=login, password=password, client_address=CLIENT_ADDRESS,
                                        software_type="tests", application_type="integration")
        reply: auth_pb2.TokenReply = await self.stub.Login(request, metadata=self.service)
        return reply

    async def check(self, token: str) -> auth_pb2.TokenReply:
        reply: auth_pb2.TokenReply = await self.stub.Check(auth_pb2.CheckRequest(), metadata=bearer(token))
        return reply

    async def get_user(self, login: str) -> auth_pb2.User:
        user: auth_pb2.User = await self.stub.GetUser(auth_pb2.GetUserRequest(login=login), metadata=self.service)
        return user

    async def logins(self) -> list[str]:
        reply = await self.stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=self.service)
        return [user.login for user in reply.users]

    async def public_keys(self) -> auth_pb2.PublicKeySet:
        keys: auth_pb2.PublicKeySet = await self.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(),
                                                                    metadata=self.service)
        return keys

    async def verifier(self) -> TokenVerifier:
        """A verifier holding what GetPublicKeys publishes, as any other component would build it."""
        keys = await self.public_keys()
        return TokenVerifier(keys.issuer, [load_public_key(key.pem) for key in keys.keys])


def client_for(channel: grpc.aio.Channel, service: ServiceProcess) -> AuthClient:
    return AuthClient(auth_pb2_grpc.AuthStub(channel), (("x-xuc-service-token", service.service_token),))


@asynccontextmanager
async def two_replicas(service_launcher: ServiceLauncher,
                       database_factory: DatabaseFactory) -> AsyncIterator[tuple[AuthClient, AuthClient]]:
    """Two auth processes on one new database (as `xuc up --replicas 2` runs them), a client of each."""
    database = database_factory.create()
    one = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url)
    other = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url,
                                    data_dir=one.data_dir, service_token=one.service_token)
    async with grpc.aio.insecure_channel(one.grpc_address) as first_channel, \
            grpc.aio.insecure_channel(other.grpc_address) as second_channel:
        yield client_for(first_channel, one), client_for(second_channel, other)


# --- who may call what -----------------------------------------------------------------------------
SERVICE_ONLY_CALLS: Sequence[tuple[str, Any]] = [
    ("Login", auth_pb2.LoginRequest(login="x", password="y")),
    ("GetPublicKeys", auth_pb2.GetPublicKeysRequest()),
    ("ListRevocations", auth_pb2.ListRevocationsRequest()),
    ("CreateUser", user_spec("intruder")),
    ("UpdateUser", auth_pb2.UpdateUserRequest(login="x", firstname="y")),
    ("PutUsers", auth_pb2.PutUsersRequest(users=[user_spec("intruder")])),
    ("DeleteUser", auth_pb2.DeleteUserRequest(login="x")),
    ("GetUser", auth_pb2.GetUserRequest(login="x")),
    ("ListUsers", auth_pb2.ListUsersRequest()),
]
