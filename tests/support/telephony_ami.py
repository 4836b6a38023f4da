"""A client of a telephony process started with XUC_PBX=ami://... against the scripted AMI server
(tests/support/ami_server.py), for the tests of the AMI PBX through the service
(tests/integration/test_telephony_ami_*.py) and of its failover: users with lines of their own,
Asterisk-like channels of their phones, polling helpers. Processes are started in a worker
thread (`asyncio.to_thread(launch, ...)`) so that the AMI server, in the tests' event loop, keeps
answering meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.ami_events import Chan
from tests.support.ami_server import ScriptedAmiServer
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import unique_login
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

T = TypeVar("T")

PBX_HEALTH = "xuc.telephony.v1.Pbx"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
AMI_USER = "xuc"
PASSWORD = "telephony-ami-pw"
RESYNC_ACTIONS = ("ExtensionStateList", "QueueStatus", "Status")
_ids = itertools.count(1)


def new_ami_server() -> ScriptedAmiServer:
    """A server with a secret of its own (distinctive: the tests check it never reaches a log)."""
    return ScriptedAmiServer(username=AMI_USER, secret=f"ami-{secrets.token_hex(8)}")


@asynccontextmanager
async def running_ami_server() -> AsyncIterator[ScriptedAmiServer]:
    """A new_ami_server(), listening until the block is left."""
    server = new_ami_server()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def launch(launcher: ServiceLauncher, auth: ServiceProcess, database_url: str, ami_url: str) -> ServiceProcess:
    return launcher.start("services.telephony", "telephony", database_url=database_url,
                          service_token=auth.service_token,
                          extra_env={"XUC_AUTH_ADDRESS": auth.grpc_address, "XUC_PBX": ami_url})


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float,
                     what: str) -> T:
    """The first result of `probe` that `accept`s, polled for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {within} s (last: {result!r})")
        await asyncio.sleep(0.02)


@dataclass
class User:
    login: str
    line: str
    user_id: str


@dataclass
class Telephony:
    """A client of one telephony process (service token), and of the auth service it trusts."""

    process: ServiceProcess
    stub: telephony_pb2_grpc.TelephonyStub
    simulator: telephony_pb2_grpc.SimulatorStub
    health_stub: health_pb2_grpc.HealthStub
    auth: auth_pb2_grpc.AuthStub
    service: tuple[tuple[str, str], ...]

    async def new_user(self, mobile: str = "") -> User:
        login, number = unique_login("ami"), f"6{secrets.randbelow(10**7):07d}"
        created = await self.auth.CreateUser(auth_pb2.CreateUserRequest(
            login=login, password=PASSWORD, firstname="Test", lastname=login, line=number, mobile=mobile),
            metadata=self.service)
        # telephony learns users from auth's events (and tells the AMI translator the new line at once)
        await eventually(lambda: self.statuses(number), lambda statuses: statuses[number] != -2, 5.0,
                         f"telephony learning the line of {login}")
        return User(login, number, created.id)

    async def statuses(self, *numbers: str) -> dict[str, int]:
        reply = await self.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=numbers), metadata=self.service)
        return dict(reply.statuses)

    async def pbx_state(self) -> pb.PbxState:
        state: pb.PbxState = await self.stub.GetPbxState(pb.GetPbxStateRequest(), metadata=self.service)
        return state

    async def health(self, service: str = PBX_HEALTH) -> int:
        reply = await self.health_stub.Check(health_pb2.HealthCheckRequest(service=service))
        return int(reply.status)

    async def wait_for_health(self, status: int, within: float = 30.0) -> None:
        await eventually(self.health, lambda current: current == status, within,
                         f"PBX health {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")

    async def dial(self, user: User, number: str, **variables: str) -> pb.DialReply:
        reply: pb.DialReply = await self.stub.Dial(
            pb.DialRequest(username=user.login, number=number, variables=variables), metadata=self.service)
        return reply

    async def set_dnd(self, user: User, enabled: bool) -> None:
        await self.stub.SetDnd(pb.SetDndRequest(username=user.login, state=enabled), metadata=self.service)

    async def history(self, user: User, count: int) -> list[tuple[str, str, str]]:
        """The user's last calls, once there are `count` (a call is recorded when its last channel
        is released, just after that release's phone events are published)."""

        async def calls() -> pb.CallHistory:
            reply: pb.CallHistory = await self.stub.GetHistory(
                pb.GetHistoryRequest(username=user.login, size=10), metadata=self.service)
            return reply

        reply = await eventually(calls, lambda history: len(history.calls) >= count, 3.0,
                                 f"{count} call(s) in the history of {user.login}")
        return [(call.src_username, call.dst_username, call.status) for call in reply.calls]


@asynccontextmanager
async def client_of(process: ServiceProcess, auth: ServiceProcess) -> AsyncIterator[Telephony]:
    async with grpc.aio.insecure_channel(process.grpc_address) as channel, \
            grpc.aio.insecure_channel(auth.grpc_address) as auth_channel:
        yield Telephony(process, telephony_pb2_grpc.TelephonyStub(channel),
                        telephony_pb2_grpc.SimulatorStub(channel), health_pb2_grpc.HealthStub(channel),
                        auth_pb2_grpc.AuthStub(auth_channel), (("x-xuc-service-token", process.service_token),))


def call_ids() -> str:
    """An Asterisk-like Uniqueid no other test uses (history is keyed by the linked id)."""
    return f"{int(time.time())}.{secrets.randbelow(10**6)}{next(_ids)}"


def channel_of(user: User, unique_id: str, linked_id: str, *, exten: str = "s", state: int = 0,
               connected_num: str = "<unknown>", connected_name: str = "<unknown>") -> Chan:
    """A channel of the user's phone (named after its line, showing its own caller id)."""
    return Chan(f"PJSIP/{user.line}-{secrets.token_hex(4)}", unique_id, linked_id, user.line, f"Test {user.login}",
                connected_num, connected_name, exten=exten, state=state)
