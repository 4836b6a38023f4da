"""Attacks on the contacts routes (issue 11), through `xuc up` over real sockets.

- An import of 2,000,000 bad lines (8 MB): a report of bounded size (the first 1,000 failed lines and
  their count), each process's memory bounded; a large `created` streamed whole.
- Qualification answers that were accepted (and exported): a sub-qualification of queue 6 for
  queue 5, an answer for queue 424242 that does not exist (though a qualification names it), an
  answer in the name of another user's agent. Each now a 400 saying which, nothing recorded.

One stack for the module (its processes' peak memory is this module's doing only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import BASE, Stack, assert_error
from tests.support.memory import peak_memory_mb

PERSONAL = f"{BASE}/contact/personal"
IMPORT = f"{BASE}/contact/import/personal"
LOGIN = f"{BASE}/auth/login"
USERS = {"importer": "importer-secret", "victim": "victim-secret", "mallory": "mallory-secret"}
QUALIFICATION = f"{BASE}/call_qualification"
GHOST_QUEUE = 424242  # provisioned, then removed: a qualification still names it
QUEUES = [{"id": 5, "name": "support", "number": "3000", "agents": ["2001", "2002"]},
          {"id": 6, "name": "sales", "number": "3001", "agents": ["2001", "2002"]}]
PROVISIONING = {
    "users": [{"login": login, "password": password} for login, password in USERS.items()],
    "agents": [{"number": "2001", "user": "victim"}, {"number": "2002", "user": "mallory"}],
    "queues": [*QUEUES, {"id": GHOST_QUEUE, "name": "ghost", "number": "3999"}],
    "qualifications": [{"name": "Support", "queues": [5], "subQualifications": [{"name": "Technical"}]},
                       {"name": "Sales", "queues": [6], "subQualifications": [{"name": "Deal"}]},
                       {"name": "Ghost", "queues": [GHOST_QUEUE], "subQualifications": [{"name": "Boo"}]}],
}
# The queue removed from telephony; qualifications (no section) left alone.
WITHOUT_GHOST_QUEUE = {key: value for key, value in PROVISIONING.items() if key != "qualifications"} | {
    "queues": QUEUES}
PEAK_MEMORY_MB = 300  # the bound for each process, as for a good 100,000-line file
IMPORT_TIMEOUT_SECONDS = 300.0  # millions of lines on a slow, shared machine


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("contact-attacks")).start()
    try:
        stack.xuc("provision", str(stack.write_file("attacks.yaml", PROVISIONING)))
        stack.xuc("provision", str(stack.write_file("attacks-2.yaml", WITHOUT_GHOST_QUEUE)))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


def client_of(stack: Stack, login: str) -> httpx.Client:
    response = httpx.post(f"{stack.url}{LOGIN}", json={"login": login, "password": USERS[login]})
    assert response.status_code == 200, response.text
    return httpx.Client(base_url=stack.url, headers={"X-Auth-Token": response.json()["token"]},
                        timeout=IMPORT_TIMEOUT_SECONDS)


@pytest.fixture
def importer(target: Stack) -> Iterator[httpx.Client]:
    with client_of(target, "importer") as client:
        assert client.delete(PERSONAL).status_code == 204
        yield client


@pytest.fixture
def victim(target: Stack) -> Iterator[httpx.Client]:
    with client_of(target, "victim") as client:
        yield client


@pytest.fixture
def mallory(target: Stack) -> Iterator[httpx.Client]:
    with client_of(target, "mallory") as client:
        yield client


def import_csv(client: httpx.Client, content: bytes) -> httpx.Response:
    return client.post(IMPORT, content=content, headers={"Content-Type": "text/csv;charset=UTF-8"})


# --- an import's report -----------------------------------------------------------------------------
def test_two_million_bad_lines_get_a_bounded_report_and_memory(target: Stack, importer: httpx.Client) -> None:
    bad_lines = 2_000_000
    content = b"lastname\nGood\n" + b"a,b\n" * bad_lines  # 8 MB: each bad line has too many fields

    response = import_csv(importer, content)

    assert response.status_code == 201, response.text[:500]
    report = response.json()
    assert list(report) == ["created", "failed", "failedCount"]
    assert [created["lastname"] for created in report["created"]] == ["Good"]
    assert report["failedCount"] == bad_lines
    assert len(report["failed"]) == 1000  # the first ones, by line
    assert [failed["line"] for failed in report["failed"]] == list(range(3, 1003))
    assert report["failed"][0]["errors"] == ["too many fields"]
    assert len(response.content) < 100_000  # was 91 MB
    peaks = peak_memory_mb({name: pid for name, pid in target.component_pids().items()
                            if name in ("gateway", "contacts")})
    assert set(peaks) == {"gateway", "contacts"}
    assert all(peak <= PEAK_MEMORY_MB for peak in peaks.values()), peaks  # were 1.3 and 2.5 GB


def test_a_file_without_a_valid_line_counts_all_its_failed_lines_in_the_message(importer: httpx.Client) -> None:
    response = import_csv(importer, b"lastname\n" + b"a,b\n" * 200_000)

    message = assert_error(response, 400, "InvalidContact")["message"]
    assert message.startswith("no valid line (line 2: too many fields; line 3: too many fields;")
    assert message.endswith("; and 199995 more)")


def test_a_large_created_list_is_streamed_whole(importer: httpx.Client) -> None:
    content = "\n".join(["lastname,number", *(f"Name{index:05d},{index}" for index in range(20_000)),
                         "a,b,c"]).encode()

    with importer.stream("POST", IMPORT, content=content, headers={"Content-Type": "text/csv"}) as response:
        body = response.read()

    assert response.status_code == 201
    assert response.headers.get("transfer-encoding") == "chunked"  # generated as it goes
    report = json.loads(body)
    assert [created["lastname"] for created in report["created"]] == [f"Name{index:05d}" for index in range(20_000)]
    assert len({created["id"] for created in report["created"]}) == 20_000
    assert (report["failed"], report["failedCount"]) == ([{"line": 20_002, "errors": ["too many fields"]}], 1)
    last = report["created"][-1]
    assert importer.get(f"{PERSONAL}/{last['id']}").json()["lastname"] == "Name19999"


# --- qualification answers --------------------------------------------------------------------------
def sub_qualification(client: httpx.Client, queue: int) -> int:
    response = client.get(f"{QUALIFICATION}/queue/{queue}")
    assert response.status_code == 200, response.text
    ((qualification,),) = [response.json()]
    identifier: int = qualification["subQualifications"][0]["id"]
    return identifier


def answer(client: httpx.Client, sub_qualification_id: int, queue: int, agent: int, callid: str) -> httpx.Response:
    return client.post(QUALIFICATION, json={
        "sub_qualification_id": sub_qualification_id, "time": "2024-05-01 10:00:00", "callid": callid,
        "agent": agent, "queue": queue, "first_name": "", "last_name": "", "comment": "", "custom_data": ""})


def exported_callids(client: httpx.Client, queue: int) -> list[str]:
    response = client.get(f"{QUALIFICATION}/csv/{queue}/2024-05-01/2024-05-02")
    assert response.status_code == 200, response.text
    return [row.split(",")[2] for row in response.text.splitlines()[1:]]


def test_a_sub_qualification_of_queue_6_is_refused_for_queue_5(victim: httpx.Client) -> None:
    of_6 = sub_qualification(victim, 6)

    message = assert_error(answer(victim, of_6, 5, 2001, "crossed"), 400, "JsonErrorDecoding")["message"]

    assert message == f"sub-qualification {of_6} is not an active sub-qualification of a qualification of queue 5"
    assert "crossed" not in exported_callids(victim, 5)
    assert answer(victim, of_6, 6, 2001, "straight").status_code == 201  # where it belongs
    assert "straight" in exported_callids(victim, 6)


def test_an_answer_for_a_queue_that_does_not_exist_is_refused_and_not_exported(victim: httpx.Client) -> None:
    ghost = sub_qualification(victim, GHOST_QUEUE)  # a qualification names the queue: telephony no longer has it

    for sub_id in (ghost, sub_qualification(victim, 5)):
        refused = answer(victim, sub_id, GHOST_QUEUE, 2001, "ghost")
        assert assert_error(refused, 400, "JsonErrorDecoding")["message"] == f"queue {GHOST_QUEUE} does not exist"
    assert exported_callids(victim, GHOST_QUEUE) == []


def test_an_answer_in_the_name_of_another_users_agent_is_refused(victim: httpx.Client,
                                                                 mallory: httpx.Client) -> None:
    of_5 = sub_qualification(mallory, 5)

    message = assert_error(answer(mallory, of_5, 5, 2001, "impersonated"), 400, "JsonErrorDecoding")["message"]

    assert message == "agent 2001 is not one of the agents of user 'mallory' (theirs: 2002)"
    assert "impersonated" not in exported_callids(victim, 5)
    assert answer(mallory, of_5, 5, 2002, "her-own").status_code == 201  # her own agent is hers to name
    assert answer(victim, of_5, 5, 2001, "his-own").status_code == 201
