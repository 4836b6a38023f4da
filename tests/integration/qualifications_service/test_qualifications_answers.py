"""Call qualifications through the contacts service as a real process: gRPC on loopback, a real auth
service for user tokens, a real nats-server, SQLite and PostgreSQL: answers (recorded, announced,
and the rules they are checked against, with telephony and without), the CSV export, who may call
what.

Each test puts the qualifications, queues and agents it needs, under names and queue ids of its
own, and asserts only about those (conftest.py says why).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from nats.aio.client import Client as NatsClient

from tests.integration.conftest import start_contacts
from tests.support.databases import TestDatabase
from tests.support.nats_cluster import free_port
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.qualifications_client import (
    AGENT,
    FAILED_PRECONDITION,
    HEADER,
    INVALID_ARGUMENT,
    PERMISSION_DENIED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    Client,
    Metadata,
    names,
    one_message,
    queue_id,
    spec,
)
from tests.support.rpc import refusal, rpc_error
from xuc import subjects
from xuc.runtime.grpc_errors import reason_of
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.events.v1 import contacts_events_pb2


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
