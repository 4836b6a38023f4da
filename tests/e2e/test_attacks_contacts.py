"""Attacks on the contacts routes (issue 11), through `xuc up` over real sockets.

- An import of 2,000,000 bad lines (8 MB): a report of bounded size (the first 1,000 failed lines and
  their count), each process's memory bounded; a large `created` streamed whole.

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
USERS = {"importer": "importer-secret"}
PEAK_MEMORY_MB = 300  # the bound for each process, as for a good 100,000-line file
IMPORT_TIMEOUT_SECONDS = 300.0  # millions of lines on a slow, shared machine


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("contact-attacks")).start()
    try:
        stack.provision(USERS)
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
