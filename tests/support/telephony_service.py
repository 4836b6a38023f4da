"""A client of a telephony process with the PBX simulator, for the tests of the service
(tests/integration/telephony_service/): users created through auth with lines of their own (and
their own tokens), the RPCs the tests call, and the events published on NATS from now on.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.processes import ServiceProcess
from tests.support.rpc import unique_login
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

PASSWORD = "telephony-pw"
# The shared process's calls ring until their test answers or hangs up: on a loaded machine a short
# ring timeout would end a call first. The test of the timeout starts a process with a short one.
RING_TIMEOUT_SECONDS = 60


@dataclass
class User:
    login: str
    line: str
    user_id: str
    metadata: tuple[tuple[str, str], ...]  # the user's own token


@dataclass
class Telephony:
    stub: telephony_pb2_grpc.TelephonyStub
    simulator: telephony_pb2_grpc.SimulatorStub
    service: tuple[tuple[str, str], ...]  # the service token
    auth: auth_pb2_grpc.AuthStub
    channel: grpc.aio.Channel

    async def new_user(self, line: bool = True) -> User:
        login, number = unique_login("tel"), f"7{secrets.randbelow(10**7):07d}" if line else ""
        created = await self.auth.CreateUser(auth_pb2.CreateUserRequest(
            login=login, password=PASSWORD, firstname="Test", lastname=login, line=number), metadata=self.service)
        token = await self.auth.Login(auth_pb2.LoginRequest(login=login, password=PASSWORD), metadata=self.service)
        user = User(login, number, created.id, (("authorization", f"Bearer {token.token}"),))
        if line:  # the telephony service learns users from auth's events: wait until it knows this one
            for _ in range(100):
                if (await self.statuses(number))[number] != -2:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"telephony never learnt the line of {login}")
        return user

    async def statuses(self, *numbers: str) -> dict[str, int]:
        reply = await self.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=numbers), metadata=self.service)
        return dict(reply.statuses)

    async def dial(self, user: User, number: str) -> pb.DialReply:
        reply: pb.DialReply = await self.stub.Dial(pb.DialRequest(username=user.login, number=number),
                                                   metadata=self.service)
        return reply

    async def act(self, action: str, number: str) -> pb.SimulatedCall:
        call: pb.SimulatedCall = await getattr(self.simulator, action)(pb.CallAction(number=number),
                                                                      metadata=self.service)
        return call

    async def history(self, user: User, size: int = 0, days: int = 0, count: int = 0) -> list[tuple[str, str, str]]:
        """The user's history; with `count`, once it holds that many calls (calls are recorded
        when the PBX's release events have been handled, just after the hang-up answers)."""
        deadline = time.monotonic() + 30.0  # a generous wait for the calls, not a bound
        while True:
            reply = await self.stub.GetHistory(pb.GetHistoryRequest(username=user.login, size=size, days=days),
                                               metadata=self.service)
            if len(reply.calls) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return [(call.src_username, call.dst_username, call.status) for call in reply.calls]


@asynccontextmanager
async def telephony_client(telephony: ServiceProcess, auth: ServiceProcess) -> AsyncIterator[Telephony]:
    async with grpc.aio.insecure_channel(telephony.grpc_address) as channel, \
            grpc.aio.insecure_channel(auth.grpc_address) as auth_channel:
        yield Telephony(telephony_pb2_grpc.TelephonyStub(channel), telephony_pb2_grpc.SimulatorStub(channel),
                        (("x-xuc-service-token", telephony.service_token),),
                        auth_pb2_grpc.AuthStub(auth_channel), channel)


class Events:
    """Everything published on some subjects from now on, decoded."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []

    async def received(self, message: Msg) -> None:
        self.messages.append(message)

    async def wait(self, count: int, kind: type[Message], within: float = EVENT_DEADLINE_SECONDS) -> list[Any]:
        for _ in range(int(within / 0.02)):
            if len(self.messages) >= count:
                break
            await asyncio.sleep(0.02)
        return [kind.FromString(message.data) for message in self.messages]


async def listen(nats_client: NatsClient, *subject_list: str) -> Events:
    seen = Events()
    for subject in subject_list:
        await nats_client.subscribe(subject, cb=seen.received)
    await nats_client.flush()
    return seen


def phone_events(decoded: list[events.PhoneEvent]) -> list[tuple[str, str, str]]:
    return [(event.event_type, event.dn, event.other_dn) for event in decoded]
