"""Call qualifications through `xuc up`: provisioned with `xuc provision`, listed per queue,
answered, exported by date range (also at the documentation's "api/api" path).

The module provisions its own file once (queues 5, 6, 7 and 8; qualifications on them) and its own
user, agent of two agents (1 and 2: answers name one of them); the answers of each test use a
queue or a time range no other test uses, and the test that re-provisions removes only a
qualification of its own (queue 8), so the tests pass in any order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BASE, Stack, assert_error
from tests.support.http_errors import NO_CREDENTIALS_MESSAGE

QUALIFICATION = f"{BASE}/call_qualification"
TYPO_QUALIFICATION = "/xuc/api/api/2.0/call_qualification"
LOGIN = f"{BASE}/auth/login"
CSV_HEADER = "sub_qualification_id,time,callid,agent,queue,first_name,last_name,comment,custom_data"
DOCUMENTED_ANSWER: dict[str, Any] = {
    "sub_qualification_id": 1, "time": "2018-03-21 17:00:00", "callid": "callid1", "agent": 1, "queue": 1,
    "first_name": "john", "last_name": "doe", "comment": "some comment", "custom_data": "some custom data",
}

PROVISIONING = """\
users:
  - {login: quals.agent, password: agent-secret}
agents:
  - {number: "1", user: quals.agent}
  - {number: "2", user: quals.agent}
queues:
  - {id: 5, name: support, number: "3000", agents: ["1", "2"]}
  - {id: 6, name: sales, number: "3001", agents: ["1"]}
  - {id: 7, name: quiet, number: "3002"}
  - {id: 8, name: seasons, number: "3003", agents: ["1"]}
qualifications:
  - name: Support
    queues: [5]
    subQualifications: [{name: Technical}, {name: General}]
  - name: General Questions
    queues: [5, 6]
    subQualifications: [{name: Common}, {name: Technical}]
  - name: Retired
    queues: [6]
    subQualifications: [{name: Old}]
  - name: Seasonal
    queues: [8]
    subQualifications: [{name: Winter}]
"""


@pytest.fixture(scope="module")
def provisioned(stack: Stack) -> list[str]:
    """`xuc provision` of the module's file: its output lines."""
    path = stack.write_file("qualifications.yaml", PROVISIONING)
    return stack.xuc("provision", str(path)).stdout.splitlines()


@pytest.fixture(scope="module")
def agent(stack: Stack, provisioned: list[str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=15.0) as client:
        response = client.post(LOGIN, json={"login": "quals.agent", "password": "agent-secret"})
        assert response.status_code == 200, response.text
        client.headers["X-Auth-Token"] = response.json()["token"]
        yield client


def listing(agent: httpx.Client, queue: int) -> list[dict[str, Any]]:
    response = agent.get(f"{QUALIFICATION}/queue/{queue}")
    assert response.status_code == 200, response.text
    qualifications: list[dict[str, Any]] = response.json()
    return qualifications


def sub_id(agent: httpx.Client, queue: int, qualification: str, sub: str) -> int:
    (found,) = [item["id"] for entry in listing(agent, queue) if entry["name"] == qualification
                for item in entry["subQualifications"] if item["name"] == sub]
    assert isinstance(found, int)
    return found


def post_answer(client: httpx.Client, **answer: Any) -> int:
    response = client.post(QUALIFICATION, json={**DOCUMENTED_ANSWER, **answer})
    assert response.status_code == 201, response.text
    answer_id = response.json()
    assert type(answer_id) is int
    assert response.content == str(answer_id).encode()  # the bare id, as documented
    return answer_id


def export_rows(agent: httpx.Client, base: str, queue: int, start: str, end: str) -> list[list[str]]:
    response = agent.get(f"{base}/csv/{queue}/{start}/{end}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == CSV_HEADER.split(",")
    return rows[1:]


# --- provisioning and listing ---------------------------------------------------------------------
def test_provisioning_reports_each_qualification(provisioned: list[str]) -> None:
    assert "user quals.agent: created" in provisioned
    assert [line for line in provisioned if line.startswith("qualification ")] == [
        "qualification Support: created",
        "qualification General Questions: created",
        "qualification Retired: created",
        "qualification Seasonal: created",
    ]


def test_the_qualifications_of_a_queue_have_the_documented_shape(agent: httpx.Client) -> None:
    support_queue = listing(agent, 5)

    assert [entry["name"] for entry in support_queue] == ["Support", "General Questions"]  # by id
    assert [entry["id"] for entry in support_queue] == sorted(entry["id"] for entry in support_queue)
    for entry in support_queue:
        assert set(entry) == {"id", "name", "subQualifications"}
        assert type(entry["id"]) is int
        assert all(set(sub) == {"id", "name"} and type(sub["id"]) is int for sub in entry["subQualifications"])
    assert [[sub["name"] for sub in entry["subQualifications"]] for entry in support_queue] == [
        ["Technical", "General"], ["Common", "Technical"]]
    assert [entry["name"] for entry in listing(agent, 6)] == ["General Questions", "Retired"]


def test_a_queue_without_qualifications_has_an_empty_list(agent: httpx.Client) -> None:
    assert listing(agent, 7) == []
    assert listing(agent, 999) == []


@pytest.mark.parametrize("queue", ["support", "-5", "5.0"])
def test_a_queue_id_that_is_not_an_integer_is_not_found(agent: httpx.Client, queue: str) -> None:
    assert_error(agent.get(f"{QUALIFICATION}/queue/{queue}"), 404, "NotFound")


# --- answers --------------------------------------------------------------------------------------
def test_an_answer_is_created_and_exported_by_date_range_on_both_paths(agent: httpx.Client) -> None:
    technical = sub_id(agent, 5, "Support", "Technical")
    common = sub_id(agent, 5, "General Questions", "Common")
    first = post_answer(agent, sub_qualification_id=technical, queue=5, time="2018-03-21 17:00:00")
    second = post_answer(agent, sub_qualification_id=common, queue=5, time="2018-03-21 23:59:59",
                         callid="callid2", agent=2, first_name="", last_name="", comment="", custom_data="")
    post_answer(agent, sub_qualification_id=technical, queue=5, time="2018-03-22 00:00:00")  # "to" is exclusive
    post_answer(agent, sub_qualification_id=common, queue=6, time="2018-03-21 12:00:00")  # another queue
    post_answer(agent, sub_qualification_id=technical, queue=5, time="2018-03-20 23:59:59")  # before "from"

    rows = export_rows(agent, QUALIFICATION, 5, "2018-03-21", "2018-03-22")

    assert first != second
    assert rows == [
        [str(technical), "2018-03-21 17:00:00", "callid1", "1", "5", "john", "doe", "some comment",
         "some custom data"],
        [str(common), "2018-03-21 23:59:59", "callid2", "2", "5", "", "", "", ""],
    ]
    assert export_rows(agent, TYPO_QUALIFICATION, 5, "2018-03-21", "2018-03-22") == rows
    # Bounds may carry a time (URL-encoded space): from inclusive, to exclusive.
    assert export_rows(agent, QUALIFICATION, 5, "2018-03-21%2017:00:00", "2018-03-21%2023:59:59") == rows[:1]


def test_an_answer_needs_its_sub_qualification_time_queue_and_the_callers_agent(agent: httpx.Client) -> None:
    general = sub_id(agent, 5, "Support", "General")
    required = {"sub_qualification_id": general, "time": "2019-01-02 03:04:05", "queue": 5}

    message = assert_error(agent.post(QUALIFICATION, json=required), 400, "JsonErrorDecoding")["message"]
    response = agent.post(QUALIFICATION, json={**required, "agent": 2})

    assert message == "'agent' is required"
    assert response.status_code == 201, response.text
    assert export_rows(agent, QUALIFICATION, 5, "2019-01-02", "2019-01-03") == [
        [str(general), "2019-01-02 03:04:05", "", "2", "5", "", "", "", ""]]


def test_the_answers_export_neutralises_formulas(agent: httpx.Client) -> None:
    technical = sub_id(agent, 5, "Support", "Technical")
    post_answer(agent, sub_qualification_id=technical, queue=5, time="2020-02-02 10:00:00", comment="=1+1",
                custom_data="@SUM(A1)", callid="+33")

    (row,) = export_rows(agent, QUALIFICATION, 5, "2020-02-02", "2020-02-03")

    assert row[2] == "'+33"
    assert row[7:] == ["'=1+1", "'@SUM(A1)"]


@pytest.mark.parametrize("base", [QUALIFICATION, TYPO_QUALIFICATION])
@pytest.mark.parametrize(("start", "end"), [("yesterday", "2018-03-22"), ("2018-03-21", "2018-13-01"),
                                            ("2018-03-21%2025:00:00", "2018-03-22")])
def test_an_invalid_date_is_refused(agent: httpx.Client, base: str, start: str, end: str) -> None:
    assert_error(agent.get(f"{base}/csv/5/{start}/{end}"), 400, "InvalidDate")


def test_an_empty_body_is_json_body_not_found(agent: httpx.Client) -> None:
    assert_error(agent.post(QUALIFICATION, content=b"", headers={"Content-Type": "application/json"}),
                 400, "JsonBodyNotFound")


@pytest.mark.parametrize("change", [
    {"time": "21/03/2018 17:00"},               # not the documented form (the service's rule)
    {"time": "2018-02-30 10:00:00"},            # not a date
    {"queue": 0},                               # not a queue id
    {"sub_qualification_id": 999_999},          # no such sub-qualification
    {"queue": 7},                               # a queue the sub-qualification is not offered on
    {"queue": 424242},                          # no such queue
    {"agent": 3},                               # not the user's agent
    {"queue": "5"},                             # not an integer (the gateway's check)
    {"agent": True},
    {"unknown": "key"},
])
def test_an_answer_that_is_not_valid_is_json_error_decoding(agent: httpx.Client, change: dict[str, Any]) -> None:
    technical = sub_id(agent, 5, "Support", "Technical")

    assert_error(agent.post(QUALIFICATION, json={**DOCUMENTED_ANSWER, "sub_qualification_id": technical,
                                                 "queue": 5, **change}), 400, "JsonErrorDecoding")


@pytest.mark.parametrize("missing", ["sub_qualification_id", "time", "queue", "agent"])
def test_an_answer_missing_a_required_key_is_json_error_decoding(agent: httpx.Client, missing: str) -> None:
    body = {key: value for key, value in DOCUMENTED_ANSWER.items() if key != missing}

    assert_error(agent.post(QUALIFICATION, json=body), 400, "JsonErrorDecoding")


def test_not_json_is_json_error_decoding(agent: httpx.Client) -> None:
    assert_error(agent.post(QUALIFICATION, content=b"{sub_qualification_id: 1}",
                            headers={"Content-Type": "application/json"}), 400, "JsonErrorDecoding")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{QUALIFICATION}/queue/5"), ("POST", QUALIFICATION),
    ("GET", f"{QUALIFICATION}/csv/5/2018-03-21/2018-03-22"),
    ("GET", f"{TYPO_QUALIFICATION}/csv/5/2018-03-21/2018-03-22"),
])
def test_every_route_wants_a_token(api: httpx.Client, method: str, path: str) -> None:
    assert_error(api.request(method, path), 401, "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)
    assert_error(api.request(method, path, headers={"X-Auth-Token": "nope"}), 401, "InvalidToken")


# --- re-provisioning (of a qualification no other test reads) -------------------------------------
def test_a_qualification_no_longer_provisioned_is_no_longer_offered_but_its_answers_stay(
    stack: Stack, agent: httpx.Client,
) -> None:
    winter = sub_id(agent, 8, "Seasonal", "Winter")
    post_answer(agent, sub_qualification_id=winter, queue=8, time="2021-06-01 09:00:00")
    without_seasonal = PROVISIONING[:PROVISIONING.index("  - name: Seasonal")]

    lines = stack.xuc("provision", str(stack.write_file("qualifications-2.yaml", without_seasonal))).stdout
    assert "qualification Seasonal: deactivated" in lines.splitlines()

    assert listing(agent, 8) == []
    assert [entry["name"] for entry in listing(agent, 6)] == ["General Questions", "Retired"]  # the others stay
    assert_error(agent.post(QUALIFICATION, json={**DOCUMENTED_ANSWER, "sub_qualification_id": winter, "queue": 8}),
                 400, "JsonErrorDecoding")
    assert [row[0] for row in export_rows(agent, QUALIFICATION, 8, "2021-06-01", "2021-06-02")] == [str(winter)]
