"""The gateway's qualification routes: the qualifications of a queue, answers (sent whole, refused at
the gateway or by the service), service failures, and the answers' export on both paths.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import pytest

from tests.support.fake_contacts_service import (
    QUALIFICATION,
    TYPO_QUALIFICATION,
    FakeContacts,
    Gateway,
    S,
    assert_error,
)
from xucproto.contacts.v1 import contacts_pb2

# --- qualifications -------------------------------------------------------------------------------
ANSWER: dict[str, Any] = {
    "sub_qualification_id": 1, "time": "2018-03-21 17:00:00", "callid": "callid1", "agent": 1, "queue": 1,
    "first_name": "john", "last_name": "doe", "comment": "some comment", "custom_data": "some custom data",
}


def test_the_qualifications_of_a_queue(api: httpx.Client, fake: FakeContacts, gateway: Gateway) -> None:
    fake.reply("ListQueueQualifications", contacts_pb2.QualificationList(qualifications=[
        contacts_pb2.Qualification(id=6, name="General Questions", queue_ids=[5], active=True, sub_qualifications=[
            contacts_pb2.SubQualification(id=14, name="Common", active=True),
            contacts_pb2.SubQualification(id=15, name="Technical", active=True)]),
        contacts_pb2.Qualification(id=5, name="Support", active=True),
    ]))

    response = api.get(f"{QUALIFICATION}/queue/5")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": 6, "name": "General Questions",
         "subQualifications": [{"id": 14, "name": "Common"}, {"id": 15, "name": "Technical"}]},
        {"id": 5, "name": "Support", "subQualifications": []},
    ]
    call = fake.only("ListQueueQualifications")
    assert call.request == contacts_pb2.QueueRef(queue_id=5)
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"


@pytest.mark.parametrize("queue", ["abc", "-1", "1.5", "99999999999999999999"])
def test_a_queue_id_that_is_not_an_id_is_not_found(api: httpx.Client, fake: FakeContacts, queue: str) -> None:
    assert_error(api.get(f"{QUALIFICATION}/queue/{queue}"), 404, "NotFound")
    assert_error(api.get(f"{QUALIFICATION}/csv/{queue}/2018-01-01/2018-02-01"), 404, "NotFound")
    assert fake.received == []


def test_an_answer_is_sent_whole_and_its_id_returned_bare(api: httpx.Client, fake: FakeContacts,
                                                          gateway: Gateway) -> None:
    fake.reply("CreateAnswer", contacts_pb2.AnswerRef(id=42))

    response = api.post(QUALIFICATION, json=ANSWER)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"42"
    call = fake.only("CreateAnswer")
    assert call.request == contacts_pb2.QualificationAnswer(**ANSWER)
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"


def test_an_answer_needs_only_its_sub_qualification_time_queue_and_agent(api: httpx.Client,
                                                                         fake: FakeContacts) -> None:
    fake.reply("CreateAnswer", contacts_pb2.AnswerRef(id=7))

    response = api.post(QUALIFICATION, json={"sub_qualification_id": 3, "time": "2018-03-21 17:00:00", "queue": 2,
                                             "agent": 2001})

    assert response.status_code == 201
    assert response.json() == 7
    assert fake.only("CreateAnswer").request == contacts_pb2.QualificationAnswer(
        sub_qualification_id=3, time="2018-03-21 17:00:00", queue=2, agent=2001)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "JsonBodyNotFound"),
        (b"{", "JsonErrorDecoding"),
        (b"[1]", "JsonErrorDecoding"),
        (b"42", "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "sub_qualification_id"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "time"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "queue"}).encode(), "JsonErrorDecoding"),
        (json.dumps({k: v for k, v in ANSWER.items() if k != "agent"}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "queue": "1"}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "agent": True}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "agent": 1.0}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "sub_qualification_id": 2**63}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "comment": None}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "time": 1521651600}).encode(), "JsonErrorDecoding"),
        (json.dumps({**ANSWER, "extra": "x"}).encode(), "JsonErrorDecoding"),
    ],
)
def test_an_answer_that_is_not_one_is_refused_at_the_gateway(api: httpx.Client, fake: FakeContacts, body: bytes,
                                                             code: str) -> None:
    assert_error(api.post(QUALIFICATION, content=body, headers={"Content-Type": "application/json"}), 400, code)
    assert fake.received == []


@pytest.mark.parametrize(("reason", "expected"), [
    ("UnknownSubQualification", (400, "JsonErrorDecoding")),
    ("InvalidQualificationAnswer", (400, "JsonErrorDecoding")),
])
def test_the_services_refusals_of_an_answer_are_json_error_decoding(api: httpx.Client, fake: FakeContacts,
                                                                    reason: str, expected: tuple[int, str]) -> None:
    fake.fail("CreateAnswer", S.INVALID_ARGUMENT, reason, f"{reason}: details")

    assert assert_error(api.post(QUALIFICATION, json=ANSWER), *expected) == f"{reason}: details"


@pytest.mark.parametrize("rpc", ["ListQueueQualifications", "CreateAnswer"])
@pytest.mark.parametrize(("status", "expected"), [(S.UNAVAILABLE, (503, "Unreachable")),
                                                  (S.INTERNAL, (500, "NotHandledError"))])
def test_qualification_routes_answer_service_failures(api: httpx.Client, fake: FakeContacts, rpc: str,
                                                      status: grpc.StatusCode, expected: tuple[int, str]) -> None:
    fake.fail(rpc, status, "")
    response = (api.get(f"{QUALIFICATION}/queue/1") if rpc == "ListQueueQualifications"
                else api.post(QUALIFICATION, json=ANSWER))

    assert_error(response, *expected)


@pytest.mark.parametrize("base", [QUALIFICATION, TYPO_QUALIFICATION])
def test_the_answers_export_by_dates_on_both_paths(api: httpx.Client, fake: FakeContacts, base: str) -> None:
    fake.stream("ExportAnswers", b"sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,"
                b"custom_data\n", b"1,2018-03-21 17:00:00,callid1,1,1,john,doe,some comment,some custom data\n")

    response = api.get(f"{base}/csv/7/2018-03-21%2017:00:00/2018-03-22")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.text == ("sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,custom_data\n"
                             "1,2018-03-21 17:00:00,callid1,1,1,john,doe,some comment,some custom data\n")
    assert fake.only("ExportAnswers").request == contacts_pb2.ExportAnswersRequest(
        queue_id=7, **{"from": "2018-03-21 17:00:00", "to": "2018-03-22"})


@pytest.mark.parametrize("base", [QUALIFICATION, TYPO_QUALIFICATION])
@pytest.mark.parametrize(("status", "reason", "expected"), [
    (S.INVALID_ARGUMENT, "InvalidDate", (400, "InvalidDate")),
    (S.UNAVAILABLE, "", (503, "Unreachable")),
    (S.INTERNAL, "", (500, "NotHandledError")),
])
def test_an_export_refused_before_its_first_chunk_is_a_json_error(
    api: httpx.Client, fake: FakeContacts, base: str, status: grpc.StatusCode, reason: str,
    expected: tuple[int, str],
) -> None:
    fake.fail("ExportAnswers", status, reason, "from must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")

    assert_error(api.get(f"{base}/csv/1/yesterday/2018-03-22"), *expected)
