"""The gateway's 1.0 telephony routes: request bodies and queries -> request messages, the
history's JSON, and the services' errors -> the documented answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.telephony.domain.errors import (
    AgentNotFound,
    InvalidNumber,
    InvalidRequest,
    PbxUnreachable,
    QueueNotFound,
    UserNotFound,
)
from tests.support.gateway_telephony import ROUTES, USER, V1, FakeTelephony, S, Status, assert_error, post_json, send
from xuc.errors import DomainError
from xucproto.telephony.v1 import telephony_pb2 as pb

# --- history --------------------------------------------------------------------------------------
HISTORY = pb.CallHistory(calls=[
    pb.CallRecord(start="2018-09-20 17:38:41", duration="00:00:02", src_username="bruce", dst_username="alicej",
                  status="emitted"),
    pb.CallRecord(start="2018-09-20 17:15:00", duration="00:00:18", src_username="0612345678",
                  dst_username="bruce", status="missed"),
])


def test_dial_answers_the_call_placed(api: httpx.Client, fake: FakeTelephony) -> None:
    fake.reply("Dial", pb.DialReply(unique_id="1447670380.34", linked_id="1447670380.33", number="0033612"))

    response = api.post(f"{V1}/dial/{USER}/", json={"number": "+33 6 12", "variables": {"CRM_ID": "42"}})

    assert response.status_code == 200
    assert response.json() == {"uniqueId": "1447670380.34", "linkedId": "1447670380.33", "number": "0033612"}
    assert fake.only("Dial").request == pb.DialRequest(username="tel.alice", number="+33 6 12",
                                                       variables={"CRM_ID": "42"})


# --- bodies: what is accepted --------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("false", False),
                                                 ("TRUE", True), (" False ", False)])
def test_state_is_a_boolean_or_its_string(api: httpx.Client, fake: FakeTelephony, value: Any,
                                          expected: bool) -> None:
    assert api.post(f"{V1}/dnd/{USER}/", json={"state": value}).status_code == 200
    assert api.post(f"{V1}/naForward/{USER}/", json={"state": value, "destination": "1"}).status_code == 200

    assert [call.request.state for call in fake.received] == [expected, expected]


@pytest.mark.parametrize("queue_id", [5, "5", 0, "0005", 2**63 - 1, "9223372036854775807"])
def test_queue_id_is_a_number_or_a_string_of_digits(api: httpx.Client, fake: FakeTelephony, queue_id: Any) -> None:
    response = api.post(f"{V1}/dialFromQueue/{USER}/", json={"destination": "1002", "queueId": queue_id})

    assert response.status_code == 200, response.text
    assert fake.only("DialFromQueue").request == pb.DialFromQueueRequest(destination="1002",
                                                                         queue_id=int(queue_id))


def test_optional_keys_may_be_absent_or_null_and_unknown_keys_are_ignored(api: httpx.Client,
                                                                          fake: FakeTelephony) -> None:
    bodies = [
        (f"{V1}/dialFromQueue/{USER}/", {"destination": "1002", "queueId": 5, "callerIdName": None,
                                         "callerIdNumber": None, "variables": None, "priority": 3}),
        (f"{V1}/dial/{USER}/", {"number": "1101", "variables": None, "domain": "avencall.com"}),
        (f"{V1}/uncForward/{USER}/", {"state": False}),
        (f"{V1}/busyForward/{USER}/", {"state": False, "destination": None}),
    ]
    for path, body in bodies:
        assert api.post(path, json=body).status_code == 200, path

    assert [call.request for call in fake.received] == [
        pb.DialFromQueueRequest(destination="1002", queue_id=5),
        pb.DialRequest(username="tel.alice", number="1101"),
        pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_UNCONDITIONAL, state=False),
        pb.SetForwardRequest(username="tel.alice", kind=pb.FORWARD_BUSY, state=False),
    ]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/plain",
                                          "application/x-www-form-urlencoded"])
def test_any_content_type_is_read_as_json(api: httpx.Client, fake: FakeTelephony, content_type: str) -> None:
    assert post_json(api, f"{V1}/dial/{USER}/", b'{"number": "1101"}', content_type).status_code == 200
    assert fake.only("Dial").request.number == "1101"


# --- bodies: what is refused ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (f"{V1}/dial/{USER}/", b"", "JsonBodyNotFound"),
        (f"{V1}/agentLogin/", b"", "JsonBodyNotFound"),
        (f"{V1}/dial/{USER}/", b'{"number": "1101"', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1101",}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b"\xff\xfe{}", "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'["1101"]', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'"1101"', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b"{}", "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": 1101}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": null}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": {"a": 1}}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": ["a"]}', "JsonErrorDecoding"),
        (f"{V1}/dial/{USER}/", b'{"number": "\\ud800"}', "JsonErrorDecoding"),  # no UTF-8 can hold it
        (f"{V1}/dial/{USER}/", b'{"number": "1", "variables": {"\\udc00": "a"}}', "JsonErrorDecoding"),
        (f"{V1}/dialByUsername/{USER}/", b'{"user": "tel.bob"}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b'{"state": "yes"}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b'{"state": 1}', "JsonErrorDecoding"),
        (f"{V1}/dnd/{USER}/", b"{}", "JsonErrorDecoding"),
        (f"{V1}/uncForward/{USER}/", b'{"state": true, "destination": 1102}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": "five"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": "-5"}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 5.0}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": true}', "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 9223372036854775808}',
         "JsonErrorDecoding"),
        (f"{V1}/dialFromQueue/{USER}/", b'{"destination": "1002", "queueId": 5, "callerIdName": 7}',
         "JsonErrorDecoding"),
        (f"{V1}/agentLogin/", b'{"agentphonenumber": "1001"}', "JsonErrorDecoding"),
        (f"{V1}/agentLogin/", b'{"agentphonenumber": "1001", "agentnumber": 2001}', "JsonErrorDecoding"),
        (f"{V1}/agentLogout/", b'{"phone": "1001"}', "JsonErrorDecoding"),
        (f"{V1}/togglePause/", b'{"phoneNumber": ["1001"]}', "JsonErrorDecoding"),
    ],
)
def test_a_body_that_is_not_the_routes_is_refused_at_the_gateway(api: httpx.Client, fake: FakeTelephony,
                                                                 path: str, body: bytes, code: str) -> None:
    assert_error(post_json(api, path, body), 400, code)
    assert fake.received == []


@pytest.mark.parametrize("query", [{}, {"size": "abc"}, {"size": "-1"}, {"days": "1.5"}, {"days": ""},
                                   {"size": "2147483648"}])
def test_history_counts_must_be_whole_numbers(api: httpx.Client, fake: FakeTelephony, query: dict[str, str]) -> None:
    if not query:  # neither: the service's rule (exactly one of them) to apply
        fake.fail("GetHistory", InvalidRequest("Give size or days"))
    response = api.get(f"{V1}/historyByUsername/{USER}", params=query)

    assert_error(response, 400, "InvalidRequest")
    assert len(fake.received) == (1 if not query else 0)


@pytest.mark.parametrize(("query", "expected"), [({"size": "1"}, pb.GetHistoryRequest(username="bruce", size=1)),
                                                 ({"days": "7"}, pb.GetHistoryRequest(username="bruce", days=7))])
@pytest.mark.parametrize("path", [f"{V1}/historyByUsername/avencall.com/bruce/",
                                  f"{V1}/historyByUsername/avencall.com/bruce"])
def test_history_by_size_or_days_is_a_list_of_strings(api: httpx.Client, fake: FakeTelephony, path: str,
                                                      query: dict[str, str], expected: pb.GetHistoryRequest) -> None:
    fake.reply("GetHistory", HISTORY)

    response = api.get(path, params=query)

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"start": "2018-09-20 17:38:41", "duration": "00:00:02", "srcUsername": "bruce", "dstUsername": "alicej",
         "status": "emitted"},
        {"start": "2018-09-20 17:15:00", "duration": "00:00:18", "srcUsername": "0612345678",
         "dstUsername": "bruce", "status": "missed"},
    ]
    assert fake.only("GetHistory").request == expected


# --- the service's errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "failure", "expected"),
    [
        ("dial", UserNotFound(), (404, "UserNotFound")),
        ("dial", InvalidNumber(), (400, "InvalidNumber")),
        ("dialByUsername", UserNotFound("No user tel.nobody"), (404, "UserNotFound")),
        ("dialFromQueue", QueueNotFound(), (404, "QueueNotFound")),
        ("agentLogin", AgentNotFound(), (404, "AgentNotFound")),
        ("togglePause", AgentNotFound(), (404, "AgentNotFound")),
        ("dnd", PbxUnreachable(), (503, "Unreachable")),
        ("handshake", PbxUnreachable(), (503, "Unreachable")),
        ("historyByUsername", UserNotFound(), (404, "UserNotFound")),
        ("uncForward", Status(S.UNAVAILABLE), (503, "Unreachable")),
        ("agentLogout", Status(S.INTERNAL), (500, "NotHandledError")),
        ("naForward", Status(S.UNKNOWN, "Boom"), (500, "NotHandledError")),
    ],
)
def test_the_services_errors_are_the_documented_answers(api: httpx.Client, fake: FakeTelephony, name: str,
                                                        failure: DomainError | Status,
                                                        expected: tuple[int, str]) -> None:
    fake.fail(ROUTES[name].rpc, failure)

    message = assert_error(send(api, ROUTES[name]), *expected)

    if isinstance(failure, DomainError) and expected[0] < 500:
        assert message == failure.message
    if expected[0] >= 500:
        # internals stay in the logs
        assert "scripted" not in message
        assert "PBX" not in message
