"""A client of the contacts service's Qualifications API for the tests of
tests/integration/qualifications_service/: the service token, an agent's token, the telephony
service that knows the queues and agents answers are checked against; names and queue ids no
other test uses.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.support.rpc import unique_login
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

QUALIFICATIONS_SERVICE = "xuc.contacts.v1.Qualifications"
Metadata = tuple[tuple[str, str], ...]
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
AGENT = "2001"  # the module user's agent number (provisioned by Client.queues)
HEADER = ["sub_qualification_id", "time", "callid", "agent", "queue", "first_name", "last_name", "comment",
          "custom_data"]


async def user_token(auth_address: str, service: Metadata) -> tuple[str, str]:
    login = unique_login("agent")
    async with grpc.aio.insecure_channel(auth_address) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        request = auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(login=login, password="agent-pw")])
        await stub.PutUsers(request, metadata=service)
        reply = await stub.Login(auth_pb2.LoginRequest(login=login, password="agent-pw"), metadata=service)
    return login, str(reply.token)


@dataclass
class Client:
    stub: contacts_pb2_grpc.QualificationsStub
    service: Metadata  # the service token
    user: Metadata  # the agent's token
    login: str
    telephony: telephony_pb2_grpc.TelephonyStub

    async def queues(self, count: int = 1, agents: Sequence[tuple[str, str]] = ()) -> list[int]:
        """`count` new queue ids, made the telephony service's only queues, with the user's agent
        AGENT in each; `agents` (number, login) are provisioned too."""
        ids = [queue_id() for _ in range(count)]
        everyone = [(AGENT, self.login), *agents]
        await self.telephony.PutAgentsAndQueues(telephony_pb2.PutAgentsAndQueuesRequest(
            agents=[telephony_pb2.AgentSpec(number=number, username=login) for number, login in everyone],
            queues=[telephony_pb2.QueueSpec(id=queue, name=f"queue {queue}", number="3000", agents=[AGENT])
                    for queue in ids]), metadata=self.service)
        return ids

    async def put(self, *specs: contacts_pb2.QualificationSpec) -> contacts_pb2.PutQualificationsReply:
        reply: contacts_pb2.PutQualificationsReply = await self.stub.PutQualifications(
            contacts_pb2.PutQualificationsRequest(qualifications=specs), metadata=self.service)
        return reply

    async def all(self) -> dict[str, contacts_pb2.Qualification]:
        reply = await self.stub.ListQualifications(contacts_pb2.ListQualificationsRequest(), metadata=self.service)
        return {qualification.name: qualification for qualification in reply.qualifications}

    async def for_queue(self, queue_id: int) -> list[contacts_pb2.Qualification]:
        reply = await self.stub.ListQueueQualifications(contacts_pb2.QueueRef(queue_id=queue_id), metadata=self.user)
        return list(reply.qualifications)

    async def answer(self, sub_id: int, queue: int, time: str = "2018-03-21 17:00:00", **fields: Any) -> int:
        request = contacts_pb2.QualificationAnswer(sub_qualification_id=sub_id, time=time, queue=queue,
                                                   **{"callid": "callid1", "agent": int(AGENT), **fields})
        reply = await self.stub.CreateAnswer(request, metadata=self.user)
        return int(reply.id)

    def export_call(self, queue: int, start: str, end: str) -> Any:
        return self.stub.ExportAnswers(contacts_pb2.ExportAnswersRequest(queue_id=queue, to=end, **{"from": start}),
                                       metadata=self.user)

    async def export_chunks(self, queue: int, start: str, end: str) -> list[bytes]:
        return [chunk.data async for chunk in self.export_call(queue, start, end)]

    async def export(self, queue: int, start: str, end: str) -> list[list[str]]:
        data = b"".join(await self.export_chunks(queue, start, end))
        return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def spec(name: str, queues: Sequence[int] = (), subs: Sequence[str] = ()) -> contacts_pb2.QualificationSpec:
    return contacts_pb2.QualificationSpec(name=name, queue_ids=queues, sub_qualifications=subs)


def names(prefix: str = "q") -> str:
    """A name no other test uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def queue_id() -> int:
    """A queue id no other test uses (answers are per queue, so exports stay apart)."""
    return 1_000 + secrets.randbelow(1_000_000_000)


def subs_of(qualification: contacts_pb2.Qualification) -> list[tuple[str, bool]]:
    return [(sub.name, sub.active) for sub in qualification.sub_qualifications]


async def one_message(nats_client: NatsClient, subject: str, within: float = 5.0) -> Msg:
    """The one message the stream holds on `subject`; fails if there is none, or more."""
    subscription = await nats_client.jetstream().subscribe(subject, ordered_consumer=True)
    try:
        try:
            message = await subscription.next_msg(timeout=within)
        except nats.errors.TimeoutError:
            pytest.fail(f"no message on {subject} within {within} s")
        assert (await subscription.consumer_info()).num_pending == 0, f"more than one message on {subject}"
    finally:
        await subscription.unsubscribe()
    return message
