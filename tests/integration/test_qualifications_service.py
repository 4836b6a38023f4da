"""Call qualifications through the contacts service as a real process: gRPC on loopback, a real auth
service for user tokens, a real nats-server, SQLite and PostgreSQL.

One contacts process per database backend serves the whole module, with a telephony process (the
PBX simulator) that knows the queues and agents answers are checked against. PutQualifications
describes *all* qualifications (the unlisted are deactivated), and PutAgentsAndQueues all queues
and agents, so each test starts by putting the ones it needs, under names and queue ids of its
own, and asserts only about those: tests run one after the other, so within a test the state it
put is the state it reads.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import nats.errors
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.integration.conftest import start_contacts
from tests.integration.test_contacts_service import free_port
from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, rpc_error, unique_login
from xuc import subjects
from xuc.provisioning import provision
from xuc.runtime.grpc_errors import reason_of
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.events.v1 import contacts_events_pb2
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


# --- the processes and the people calling them ------------------------------------------------------
async def _user_token(auth_address: str, service: Metadata) -> tuple[str, str]:
    login = unique_login("agent")
    async with grpc.aio.insecure_channel(auth_address) as channel:
        stub = auth_pb2_grpc.AuthStub(channel)
        request = auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(login=login, password="agent-pw")])
        await stub.PutUsers(request, metadata=service)
        reply = await stub.Login(auth_pb2.LoginRequest(login=login, password="agent-pw"), metadata=service)
    return login, str(reply.token)


@pytest.fixture(scope="module")
def agent(auth_service: ServiceProcess) -> tuple[str, str]:
    """(login, token) of a user made once for the module (password hashing is slow on purpose)."""
    return asyncio.run(_user_token(auth_service.grpc_address, (("x-xuc-service-token", auth_service.service_token),)))


@pytest.fixture(scope="module")
def telephony_service(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """Where the contacts process checks an answer's queue and agent."""
    with ServiceLauncher(nats_server, tmp_path_factory.mktemp("telephony")) as launcher:
        yield launcher.start("services.telephony", "telephony", database_url=database_factory.create().url,
                             service_token=auth_service.service_token,
                             extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})


@pytest.fixture(scope="module")
def contacts_env(telephony_service: ServiceProcess) -> dict[str, str]:
    return {"XUC_TELEPHONY_ADDRESS": telephony_service.grpc_address}


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


@pytest.fixture
async def channel(contacts_service: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(contacts_service.grpc_address) as opened:
        yield opened


@pytest.fixture
async def client(channel: grpc.aio.Channel, contacts_service: ServiceProcess, telephony_service: ServiceProcess,
                 agent: tuple[str, str]) -> AsyncIterator[Client]:
    login, token = agent
    async with grpc.aio.insecure_channel(telephony_service.grpc_address) as telephony:
        yield Client(contacts_pb2_grpc.QualificationsStub(channel),
                     (("x-xuc-service-token", contacts_service.service_token),),
                     (("authorization", f"Bearer {token}"),), login, telephony_pb2_grpc.TelephonyStub(telephony))


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


# --- the process --------------------------------------------------------------------------------------
async def test_the_service_is_served_and_its_tables_exist(
    channel: grpc.aio.Channel, contacts_database: TestDatabase
) -> None:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(
        service=QUALIFICATIONS_SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert {"contacts_qualifications", "contacts_sub_qualifications", "contacts_qualification_queues",
            "contacts_qualification_answers", "contacts_alembic_version"} <= contacts_database.table_names()


# --- provisioning ------------------------------------------------------------------------------------
async def test_put_creates_then_is_idempotent(client: Client) -> None:
    support, sales = names("support"), names("sales")
    queue_a, queue_b = queue_id(), queue_id()
    request = (spec(support, [queue_b, queue_a], ["Technical", "General"]), spec(sales, [queue_a]))

    created = await client.put(*request)
    again = await client.put(*request)

    assert list(created.outcomes) == ["created", "created"]
    assert [q.name for q in created.qualifications] == [support, sales]
    assert subs_of(created.qualifications[0]) == [("Technical", True), ("General", True)]
    assert list(created.qualifications[0].queue_ids) == sorted([queue_a, queue_b])
    assert (list(again.outcomes), list(again.deactivated)) == (["unchanged", "unchanged"], [])
    assert list(again.qualifications) == list(created.qualifications)
    stored = await client.all()
    assert stored[support] == created.qualifications[0]
    assert stored[sales].active


async def test_put_updates_deactivates_and_reactivates_without_deleting(client: Client) -> None:
    support, sales = names("support"), names("sales")
    queue_a, queue_b = queue_id(), queue_id()
    first = await client.put(spec(support, [queue_a], ["Technical", "General"]), spec(sales, [queue_a]))
    technical_id = first.qualifications[0].sub_qualifications[0].id

    changed = await client.put(spec(support, [queue_b], ["General", "Billing"]))

    assert list(changed.outcomes) == ["updated"]
    assert sales in changed.deactivated
    [updated] = changed.qualifications
    assert subs_of(updated) == [("Technical", False), ("General", True), ("Billing", True)]
    assert list(updated.queue_ids) == [queue_b]
    stored = await client.all()
    assert not stored[sales].active  # kept, inactive

    back = await client.put(spec(support, [queue_b], ["Technical", "General", "Billing"]), spec(sales, [queue_a]))

    assert list(back.outcomes) == ["updated", "updated"]
    assert subs_of(back.qualifications[0]) == [("Technical", True), ("General", True), ("Billing", True)]
    assert back.qualifications[0].sub_qualifications[0].id == technical_id  # the same one, reactivated
    assert back.qualifications[1].active
    assert back.qualifications[1].id == first.qualifications[1].id


async def test_put_with_nothing_listed_deactivates_everything(client: Client) -> None:
    name = names()
    await client.put(spec(name))

    reply = await client.put()

    assert name in reply.deactivated
    assert not any(qualification.active for qualification in (await client.all()).values())
    assert list((await client.put()).deactivated) == []


@pytest.mark.parametrize(
    "bad",
    [spec(""), spec("x" * 129), spec("dup", subs=["a", "a"]), spec("neg", [-1]), spec("zero", [0])],
    ids=["empty-name", "long-name", "duplicate-sub", "negative-queue", "zero-queue"],
)
async def test_an_invalid_put_changes_nothing(client: Client, bad: contacts_pb2.QualificationSpec) -> None:
    kept = names("kept")
    await client.put(spec(kept))
    before = await client.all()

    assert await refusal(client.stub.PutQualifications(
        contacts_pb2.PutQualificationsRequest(qualifications=[spec(names("new")), bad]), metadata=client.service)) \
        == (INVALID_ARGUMENT, "InvalidQualification")
    duplicate_names = contacts_pb2.PutQualificationsRequest(qualifications=[spec(kept), spec(kept)])
    assert await refusal(client.stub.PutQualifications(duplicate_names, metadata=client.service)) \
        == (INVALID_ARGUMENT, "InvalidQualification")

    assert await client.all() == before


# --- what a queue offers -----------------------------------------------------------------------------
async def test_a_queue_offers_its_active_qualifications_with_their_active_subs(client: Client) -> None:
    first, second, elsewhere = names("first"), names("second"), names("elsewhere")
    queue, other_queue = queue_id(), queue_id()
    await client.put(spec(first, [queue], ["A", "B"]), spec(second, [queue, other_queue], ["C"]),
                     spec(elsewhere, [other_queue], ["D"]))
    await client.put(spec(first, [queue], ["B", "E"]), spec(second, [queue, other_queue], ["C"]))

    offered = await client.for_queue(queue)

    assert [(q.name, subs_of(q)) for q in offered] == [(first, [("B", True), ("E", True)]),
                                                       (second, [("C", True)])]
    assert [q.id for q in offered] == sorted(q.id for q in offered)
    assert [q.name for q in await client.for_queue(other_queue)] == [second]  # `elsewhere` is inactive
    assert await client.for_queue(queue_id()) == []  # an unknown queue: nothing, not an error
    assert await client.for_queue(2**62) == []  # however large its id


# --- answers -----------------------------------------------------------------------------------------
async def test_an_answer_is_recorded_and_announced(client: Client, nats_client: NatsClient) -> None:
    [queue] = await client.queues()
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id

    answer_id = await client.answer(sub_id, queue, callid="call-42", first_name="john", last_name="doe",
                                    comment="some comment", custom_data="some custom data")

    assert answer_id > 0
    message = await one_message(nats_client, subjects.QUALIFICATION_ANSWERED.for_key(str(queue)))
    assert message.subject == f"xuc.contacts.qualification.{queue}"
    assert (message.headers or {}).get("Xuc-Event-Type") == "xuc.events.v1.QualificationAnswered"
    event = contacts_events_pb2.QualificationAnswered.FromString(message.data)
    assert (event.answer_id, event.sub_qualification_id, event.queue, event.agent, event.callid, event.time,
            event.answered_by) == (answer_id, sub_id, queue, 2001, "call-42", "2018-03-21 17:00:00", client.login)
    assert (await client.export(queue, "2018-03-21", "2018-03-22"))[1:] == [
        [str(sub_id), "2018-03-21 17:00:00", "call-42", AGENT, str(queue), "john", "doe", "some comment",
         "some custom data"]]


@pytest.mark.parametrize("time", ["2018-03-21", "2018-03-21T17:00:00", "2018-02-30 10:00:00", "", "now"])
async def test_an_answer_with_a_bad_time_is_refused(client: Client, time: str) -> None:
    [queue] = await client.queues()
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications

    refused = client.answer(qualification.sub_qualifications[0].id, queue, time=time)

    assert await refusal(refused) == (INVALID_ARGUMENT, "InvalidQualificationAnswer")


async def test_answers_to_unknown_or_inactive_sub_qualifications_are_refused(client: Client) -> None:
    [queue] = await client.queues()
    kept, dropped = names("kept"), names("dropped")
    put = await client.put(spec(kept, [queue], ["Technical", "General"]), spec(dropped, [queue], ["Other"]))
    technical, general = (sub.id for sub in put.qualifications[0].sub_qualifications)
    other = put.qualifications[1].sub_qualifications[0].id
    await client.put(spec(kept, [queue], ["General"]))  # Technical and the whole of `dropped` deactivated

    for sub_id in (technical, other, 2**40):
        assert await refusal(client.answer(sub_id, queue)) == (INVALID_ARGUMENT, "UnknownSubQualification"), sub_id
    long_comment = client.answer(general, queue, comment="x" * 4097)
    assert await refusal(long_comment) == (INVALID_ARGUMENT, "InvalidQualificationAnswer")
    assert await client.answer(general, queue) > 0
    assert len(await client.export(queue, "2000-01-01", "2100-01-01")) == 2  # the header and the one answer


async def answer_refusal(call: Any) -> tuple[grpc.StatusCode, str, str]:
    error = await rpc_error(call)
    return error.code(), reason_of(error), error.details() or ""


async def test_an_answer_for_a_queue_telephony_does_not_know_is_refused(client: Client) -> None:
    [queue] = await client.queues()
    unknown = queue_id()  # qualifications may name it: telephony has no such queue
    [qualification] = (await client.put(spec(names(), [queue, unknown], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id

    assert await answer_refusal(client.answer(sub_id, unknown)) == (
        INVALID_ARGUMENT, "UnknownQueue", f"queue {unknown} does not exist")
    assert await client.answer(sub_id, queue) > 0
    assert await client.export(unknown, "2000-01-01", "2100-01-01") == [HEADER]


async def test_a_sub_qualification_of_another_queue_is_refused(client: Client) -> None:
    queue, other_queue = await client.queues(2)
    put = await client.put(spec(names(), [queue], ["Technical"]), spec(names(), [other_queue], ["Sales"]))
    of_queue, of_other = (qualification.sub_qualifications[0].id for qualification in put.qualifications)

    assert await answer_refusal(client.answer(of_other, queue)) == (
        INVALID_ARGUMENT, "UnknownSubQualification",
        f"sub-qualification {of_other} is not an active sub-qualification of a qualification of queue {queue}")
    assert await client.answer(of_queue, queue) > 0
    assert await client.answer(of_other, other_queue) > 0
    assert [row[0] for row in await client.export(queue, "2000-01-01", "2100-01-01")][1:] == [str(of_queue)]


async def test_an_answer_in_the_name_of_another_users_agent_is_refused(client: Client) -> None:
    [queue] = await client.queues(agents=[("2002", "someone.else")])
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id

    for agent in (2002, 0):
        assert await answer_refusal(client.answer(sub_id, queue, agent=agent)) == (
            INVALID_ARGUMENT, "NotYourAgent",
            f"agent {agent} is not one of the agents of user {client.login!r} (theirs: {AGENT})")
    assert await client.answer(sub_id, queue, agent=2001) > 0
    assert [row[3] for row in await client.export(queue, "2000-01-01", "2100-01-01")][1:] == [AGENT]


async def test_without_telephony_no_answer_is_recorded(
    client: Client, service_launcher: ServiceLauncher, auth_service: ServiceProcess, contacts_database: TestDatabase,
) -> None:
    [queue] = await client.queues()
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications
    answer = contacts_pb2.QualificationAnswer(sub_qualification_id=qualification.sub_qualifications[0].id,
                                              time="2018-03-21 17:00:00", queue=queue, agent=int(AGENT))
    unconfigured = await asyncio.to_thread(start_contacts, service_launcher, auth_service, contacts_database)
    unreachable = await asyncio.to_thread(start_contacts, service_launcher, auth_service, contacts_database,
                                          XUC_TELEPHONY_ADDRESS=f"127.0.0.1:{free_port()}")  # nobody listens

    for contacts, (code, reason) in ((unconfigured, (FAILED_PRECONDITION, "TelephonyNotConfigured")),
                                     (unreachable, (UNAVAILABLE, "Unreachable"))):
        async with grpc.aio.insecure_channel(contacts.grpc_address) as channel:
            stub = contacts_pb2_grpc.QualificationsStub(channel)
            assert (await answer_refusal(stub.CreateAnswer(answer, metadata=client.user)))[:2] == (code, reason)
    assert await client.export(queue, "2000-01-01", "2100-01-01") == [HEADER]


# --- export ------------------------------------------------------------------------------------------
async def test_export_takes_the_queue_range_from_inclusive_to_exclusive(client: Client) -> None:
    queue, other_queue = await client.queues(2)
    [qualification] = (await client.put(spec(names(), [queue, other_queue], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id
    for time, comment in [("2018-03-22 00:00:00", "at to"), ("2018-03-21 09:30:00", "second"),
                          ("2018-03-21 00:00:00", "at from"), ("2018-03-20 23:59:59", "before"),
                          ("2018-03-21 09:30:00", "same time, later")]:
        await client.answer(sub_id, queue, time=time, comment=comment)
    await client.answer(sub_id, other_queue, time="2018-03-21 12:00:00", comment="another queue")

    by_dates = await client.export(queue, "2018-03-21", "2018-03-22")
    by_times = await client.export(queue, "2018-03-21 09:30:00", "2018-03-22 00:00:01")

    assert by_dates[0] == HEADER
    assert [(row[1], row[7]) for row in by_dates[1:]] == [("2018-03-21 00:00:00", "at from"),
                                                          ("2018-03-21 09:30:00", "second"),
                                                          ("2018-03-21 09:30:00", "same time, later")]
    assert [row[7] for row in by_times[1:]] == ["second", "same time, later", "at to"]
    assert await client.export(queue, "2018-03-22", "2018-03-21") == [HEADER]
    assert await client.export(queue_id(), "2000-01-01", "2100-01-01") == [HEADER]


async def test_exported_cells_are_neutralised_and_quoted(client: Client) -> None:
    [queue] = await client.queues()
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id
    await client.answer(sub_id, queue, callid="=HYPERLINK(\"http://x\")", first_name="+33", last_name="@sum",
                        comment="line 1\nline 2, \"quoted\" é", custom_data="-1")

    data = b"".join(await client.export_chunks(queue, "2018-03-21", "2018-03-22"))

    assert data.startswith(b"sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,custom_data\r\n")
    [_, row] = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert row[2:] == ["'=HYPERLINK(\"http://x\")", AGENT, str(queue), "'+33", "'@sum", "line 1\nline 2, \"quoted\" é",
                       "'-1"]


@pytest.mark.parametrize(("start", "end"), [("2018-13-01", "2018-03-22"), ("2018-03-21", "21/03/2018"),
                                            ("2018-03-21T00:00:00", "2018-03-22"), ("", "")])
async def test_bad_export_dates_are_refused(client: Client, start: str, end: str) -> None:
    assert await refusal(client.export_chunks(1, start, end)) == (INVALID_ARGUMENT, "InvalidDate")


async def test_a_large_export_is_streamed_in_chunks_in_order(client: Client) -> None:
    [queue] = await client.queues()
    [qualification] = (await client.put(spec(names(), [queue], ["Technical"]))).qualifications
    sub_id = qualification.sub_qualifications[0].id
    count = 1_200  # more than a page of 1000 rows, about 190 KB: several chunks of about 64 KiB
    for batch in range(0, count, 50):  # concurrent writers, as agents answering at once are
        await asyncio.gather(*(client.answer(sub_id, queue, time=f"2018-03-21 {i // 3600:02d}:{i // 60 % 60:02d}:"
                                             f"{i % 60:02d}", comment=f"answer {i:04d} " + "x" * 120)
                               for i in range(batch, min(batch + 50, count))))

    chunks = await client.export_chunks(queue, "2018-03-21", "2018-03-22")

    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))
    assert [row[7][:11] for row in rows[1:]] == [f"answer {i:04d}" for i in range(count)]
    assert len(chunks) >= 3
    assert all(len(chunk) < 64 * 1024 + 1024 for chunk in chunks)


# --- who may call what -------------------------------------------------------------------------------
USER_CALLS: Sequence[tuple[str, Any]] = [
    ("ListQueueQualifications", contacts_pb2.QueueRef(queue_id=1)),
    ("CreateAnswer", contacts_pb2.QualificationAnswer(sub_qualification_id=1, time="2018-03-21 17:00:00", queue=1)),
]
SERVICE_CALLS: Sequence[tuple[str, Any]] = [
    ("PutQualifications", contacts_pb2.PutQualificationsRequest()),
    ("ListQualifications", contacts_pb2.ListQualificationsRequest()),
]
EXPORT = contacts_pb2.ExportAnswersRequest(queue_id=1, to="2018-03-22", **{"from": "2018-03-21"})


async def _export_refusal(client: Client, metadata: Metadata | None) -> tuple[grpc.StatusCode, str]:
    async def drain() -> None:
        async for _ in client.stub.ExportAnswers(EXPORT, metadata=metadata):
            pass

    return await refusal(drain())


async def test_a_user_cannot_provision_nor_list_everything(client: Client) -> None:
    name = names()
    await client.put(spec(name))

    for method, request in SERVICE_CALLS:
        call = getattr(client.stub, method)(request, metadata=client.user)
        assert await refusal(call) == (PERMISSION_DENIED, "Forbidden"), method
    assert (await client.all())[name].active  # the refused empty put deactivated nothing


async def test_the_service_token_cannot_act_as_a_user(client: Client) -> None:
    for method, request in USER_CALLS:
        call = getattr(client.stub, method)(request, metadata=client.service)
        assert await refusal(call) == (PERMISSION_DENIED, "Forbidden"), method
    assert await _export_refusal(client, client.service) == (PERMISSION_DENIED, "Forbidden")


async def test_calls_without_credentials_are_refused(client: Client) -> None:
    for method, request in [*USER_CALLS, *SERVICE_CALLS]:
        call = getattr(client.stub, method)(request)
        assert await refusal(call) == (UNAUTHENTICATED, "AuthorizationHeaderNotFound"), method
    assert await _export_refusal(client, None) == (UNAUTHENTICATED, "AuthorizationHeaderNotFound")
    forged = (("authorization", "Bearer not.a.token"),)
    assert await refusal(client.stub.ListQueueQualifications(contacts_pb2.QueueRef(queue_id=1), metadata=forged)) \
        == (UNAUTHENTICATED, "InvalidToken")


# --- `xuc provision` against the real services ------------------------------------------------------
async def test_provisioning_applies_the_qualifications_section(
    client: Client, auth_service: ServiceProcess, contacts_service: ServiceProcess, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], service_launcher: ServiceLauncher,
    database_factory: DatabaseFactory,
) -> None:
    telephony = service_launcher.start("services.telephony", "telephony", database_url=database_factory.create().url,
                                       service_token=auth_service.service_token,
                                       extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})
    support, queue = names("support"), queue_id()
    path = tmp_path / "provision.yaml"
    path.write_text(f"queues:\n  - {{id: {queue}, name: q, number: '3000'}}\n"
                    f"qualifications:\n  - {{name: {support}, queues: [{queue}], subQualifications: [{{name: T}}]}}\n")
    monkeypatch.setenv("XUC_SERVICE_TOKEN", contacts_service.service_token)
    settings = Settings.from_env(env={"XUC_DATA_DIR": str(tmp_path), "XUC_AUTH_ADDRESS": auth_service.grpc_address,
                                      "XUC_CONTACTS_ADDRESS": contacts_service.grpc_address,
                                      "XUC_TELEPHONY_ADDRESS": telephony.grpc_address})
    await client.put(spec(names("previous")))

    await provision(path, settings)
    first = capsys.readouterr().out.splitlines()
    await provision(path, settings)
    second = capsys.readouterr().out.splitlines()

    assert first[:2] == ["agents: 0 applied, queues: 1 applied", f"qualification {support}: created"]
    assert all(line.endswith(": deactivated") for line in first[2:])
    assert any(line.startswith("qualification previous-") for line in first[2:])
    assert second[1:] == [f"qualification {support}: unchanged"]
    assert [(q.name, subs_of(q)) for q in await client.for_queue(queue)] == [(support, [("T", True)])]
