"""The gateway's export and import of personal contacts: streamed in both directions, charsets, reports
in many parts, broken transfers, cancelled calls and the import size limit.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.fake_contacts_service import (
    EXPORT,
    IMPORT,
    MAX_IMPORT_BYTES,
    MEGABYTE,
    Failure,
    FakeContacts,
    Gateway,
    S,
    assert_error,
)
from xucproto.contacts.v1 import contacts_pb2


# --- personal contacts: export --------------------------------------------------------------------
def test_the_export_streams_the_chunks_as_utf8_csv(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email,fax,firstname,lastname,mobile,number\n",
                b"corp,jdoe@company.corp,3333,John,Doe,2222,1111\n", "Zoë,,,,Ünal,,\n".encode())

    response = api.get(EXPORT)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    assert response.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered whole
    assert response.content == ("company,email,fax,firstname,lastname,mobile,number\n"
                                "corp,jdoe@company.corp,3333,John,Doe,2222,1111\nZoë,,,,Ünal,,\n").encode()
    assert fake.only("ExportContacts").request == contacts_pb2.ExportContactsRequest()


def test_an_export_without_chunks_is_an_empty_file(api: httpx.Client, fake: FakeContacts) -> None:
    response = api.get(EXPORT)

    assert response.status_code == 200
    assert response.content == b""


def test_an_error_after_the_export_started_breaks_the_transfer(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email\n", b"corp,a@b.c\n")
    fake.fail("ExportContacts", S.INTERNAL, "NotHandledError", after_chunks=1)

    with api.stream("GET", EXPORT) as response:
        assert response.status_code == 200
        # No final chunk: the client cannot take a truncated file for a whole one.
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_a_client_leaving_an_export_cancels_the_call(api: httpx.Client, fake: FakeContacts) -> None:
    fake.stream("ExportContacts", b"company,email\n")
    fake.endless_export = True

    with api.stream("GET", EXPORT) as response:
        assert response.status_code == 200
        assert next(response.iter_bytes())
    # Leaving the block closed the connection mid-body.

    call = fake.only("ExportContacts")
    assert call.done.wait(EVENT_DEADLINE_SECONDS), "the export call went on after the client left"
    assert call.cancelled


# --- personal contacts: import --------------------------------------------------------------------
def test_the_import_sends_the_file_with_its_charset_and_answers_the_report(api: httpx.Client,
                                                                           fake: FakeContacts) -> None:
    fake.reply("ImportContacts", contacts_pb2.ImportReport(
        created=[contacts_pb2.CreatedContact(id="e62e", lastname="Wayne"),
                 contacts_pb2.CreatedContact(id="d3a6", lastname="Hawking")],
        failed=[contacts_pb2.FailedLine(line=3, errors=["too many fields", "no name"])], failed_count=1))
    csv = "company,email,fax,firstname,lastname,mobile,number\ncorp,,,Bruce,Wayne,,\n".encode("iso-8859-1")

    response = api.post(IMPORT, content=csv, headers={"Content-Type": "text/csv;charset=ISO-8859-1"})

    assert response.status_code == 201, response.text
    assert response.json() == {
        "created": [{"id": "e62e", "lastname": "Wayne"}, {"id": "d3a6", "lastname": "Hawking"}],
        "failed": [{"line": 3, "errors": ["too many fields", "no name"]}],
        "failedCount": 1,
    }
    assert response.headers["content-length"] == str(len(response.content))  # one part: not streamed
    call = fake.only("ImportContacts")
    assert bytes(call.data) == csv
    assert call.chunks[0][0] == "ISO-8859-1"
    assert all(charset == "" for charset, _ in call.chunks[1:])
    assert call.marked_last[-1]  # the file's end is said, not inferred from the stream's end
    assert not any(call.marked_last[:-1])
    assert call.metadata["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(("content_type", "charset"), [
    (None, "utf-8"),
    ("text/csv", "utf-8"),
    ("text/csv; charset=UTF-8", "UTF-8"),
    ('text/plain; format=flowed; charset="windows-1252"', "windows-1252"),
    ("application/octet-stream", "utf-8"),
])
def test_the_charset_comes_from_any_content_type(api: httpx.Client, fake: FakeContacts, content_type: str | None,
                                                 charset: str) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    assert api.post(IMPORT, content=b"lastname\nDoe\n", headers=headers).status_code == 201

    assert fake.only("ImportContacts").chunks[0][0] == charset


def test_an_empty_file_still_reaches_the_service_which_judges_it(api: httpx.Client, fake: FakeContacts) -> None:
    fake.fail("ImportContacts", S.INVALID_ARGUMENT, "InvalidContact", "The file has no valid line")

    message = assert_error(api.post(IMPORT, content=b"", headers={"Content-Type": "text/csv"}), 400, "InvalidContact")

    assert message == "The file has no valid line"
    assert fake.only("ImportContacts").chunks == [("utf-8", 0)]


def test_a_file_the_service_refuses_early_is_an_invalid_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.fail("ImportContacts", S.INVALID_ARGUMENT, "InvalidContact", "line 2: not utf-8", after_chunks=1)

    def body() -> Iterator[bytes]:
        yield b"lastname\n\xff\xfe\n"
        assert fake.import_started.wait(EVENT_DEADLINE_SECONDS)
        time.sleep(0.2)  # let the refusal come back before more is sent
        yield b"x" * 100_000

    message = assert_error(api.post(IMPORT, content=body()), 400, "InvalidContact")

    assert message == "line 2: not utf-8"


def test_a_20_mb_import_is_streamed_in_many_chunks_as_it_arrives(api: httpx.Client, fake: FakeContacts) -> None:
    piece = b"corp,jdoe@company.corp,3333,John,Doe,2222,1111\n" * 21_277  # 1,000,019 bytes, whole lines
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        digest.update(b"company,email,fax,firstname,lastname,mobile,number\n")
        yield b"company,email,fax,firstname,lastname,mobile,number\n"
        # The service must have the first bytes before the client has sent the rest: no buffering.
        assert fake.import_started.wait(EVENT_DEADLINE_SECONDS), \
            "the first chunk did not reach the service before the body ended"
        for _ in range(20):
            digest.update(piece)
            yield piece

    started = time.monotonic()
    response = api.post(IMPORT, content=body(), headers={"Content-Type": "text/csv; charset=utf-8"})
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.text
    call = fake.only("ImportContacts")
    assert len(call.data) == 20 * len(piece) + len(b"company,email,fax,firstname,lastname,mobile,number\n")
    assert hashlib.sha256(call.data).digest() == digest.digest()
    assert len(call.chunks) >= 20, call.chunks[:5]
    assert max(size for _, size in call.chunks) <= 1024 * 1024
    print(f"20 MB import through the gateway: {elapsed:.2f} s in {len(call.chunks)} chunks")


def report_parts(contacts: int, per_part: int = 4000) -> list[Any]:
    """A report of `contacts` created contacts in parts, as the service answers it."""
    created = [contacts_pb2.CreatedContact(id=f"{i:036d}", lastname=f"Lâst\"{i:06d}") for i in range(contacts)]
    parts = [contacts_pb2.ImportReport(created=created[start:start + per_part])
             for start in range(0, contacts, per_part)]
    parts[0].failed.append(contacts_pb2.FailedLine(line=7, errors=["too many fields"]))
    parts[0].failed_count = 1234
    return parts


def test_a_report_of_many_parts_is_streamed_as_one_json_document(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("ImportContacts", report_parts(100_000))

    with api.stream("POST", IMPORT, content=b"lastname\nDoe\n") as response:
        chunks = list(response.iter_raw())

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert "content-length" not in response.headers  # generated as the parts arrive
    assert len(chunks) > 1
    body = json.loads(b"".join(chunks))
    assert list(body) == ["created", "failed", "failedCount"]
    assert body["created"] == [{"id": f"{i:036d}", "lastname": f"Lâst\"{i:06d}"} for i in range(100_000)]
    assert (body["failed"], body["failedCount"]) == ([{"line": 7, "errors": ["too many fields"]}], 1234)


def test_a_report_that_fails_once_streamed_ends_as_a_broken_transfer(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("ImportContacts", [*report_parts(12_000)[:2], Failure(S.UNAVAILABLE, "Unreachable", "gone")])

    with api.stream("POST", IMPORT, content=b"lastname\nDoe\n") as response:
        assert response.status_code == 201  # sent with the first parts
        with pytest.raises(httpx.RemoteProtocolError):  # never a well-formed but short report
            response.read()
def test_an_import_declared_above_the_limit_is_refused_before_any_call(gateway: Gateway, api: httpx.Client,
                                                                       fake: FakeContacts) -> None:
    # Only the headers are sent (as a client waiting for "100 Continue" would): the answer needs no body.
    connection = http.client.HTTPConnection(gateway.url.removeprefix("http://"), timeout=15)
    try:
        connection.putrequest("POST", IMPORT)
        connection.putheader("X-Auth-Token", gateway.tokens["gw.alice"])
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", str(MAX_IMPORT_BYTES + 1))
        connection.endheaders()
        answer = connection.getresponse()
        status, content_type, body = answer.status, answer.getheader("content-type"), json.loads(answer.read())
    finally:
        connection.close()

    assert (status, content_type, body["error"]) == (413, "application/json", "PayloadTooLarge")
    assert fake.received == []


def test_a_streamed_import_above_the_limit_is_refused_and_its_call_cancelled(api: httpx.Client,
                                                                             fake: FakeContacts) -> None:
    piece = b"x" * MEGABYTE

    def body() -> Iterator[bytes]:
        for _ in range(MAX_IMPORT_BYTES // MEGABYTE + 1):
            yield piece

    message = assert_error(api.post(IMPORT, content=body(), headers={"Content-Type": "text/csv"}),
                           413, "PayloadTooLarge")

    assert str(MAX_IMPORT_BYTES) in message
    call = fake.only("ImportContacts")
    assert call.done.wait(EVENT_DEADLINE_SECONDS)
    assert call.cancelled, "the service must see the import abandoned, to discard it"
    assert len(call.data) <= MAX_IMPORT_BYTES
