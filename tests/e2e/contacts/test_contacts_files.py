"""Personal contacts files through `xuc up`: the documented export and import, charsets, refused files,
a 100,000-line import, and (on a stack of its own) the import limit and contacts surviving a restart.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import assert_error
from tests.e2e.contacts.contacts_http import DOCUMENTED, EXPORT, HEADER, IMPORT, PERSONAL, StartStack, User, login


# --- export ---------------------------------------------------------------------------------------
def test_the_export_is_the_documented_csv(ann: User) -> None:
    ann.create(firstname="John", lastname="Doe", number="1111", mobile="2222", fax="3333",
               email="jdoe@company.corp", company="corp")

    response = ann.http.get(EXPORT)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    assert response.content.decode("utf-8").splitlines() == [HEADER, "corp,jdoe@company.corp,3333,John,Doe,2222,1111"]


def test_an_empty_export_is_the_header_alone(ann: User) -> None:
    assert ann.export_rows() == [HEADER.split(",")]


def test_the_export_neutralises_formulas_and_import_restores_them(ann: User) -> None:
    ann.create(lastname="=HYPERLINK(\"http://evil\")", company="+33 cmd", firstname="@SUM(A1)", number="-1")
    ann.create(lastname="Plain, \"quoted\"", company="Ünïcode")

    rows = ann.export_rows()

    by_company = {row[0]: row for row in rows[1:]}
    assert by_company["'+33 cmd"][3:5] == ["'@SUM(A1)", "'=HYPERLINK(\"http://evil\")"]
    assert by_company["'+33 cmd"][6] == "'-1"
    assert by_company["Ünïcode"][4] == "Plain, \"quoted\""
    exported = ann.http.get(EXPORT).content

    # Export then import gives the same fields back (the apostrophes are removed again).
    assert ann.http.delete(PERSONAL).status_code == 204
    report = ann.import_csv(exported)
    assert report.status_code == 201, report.text
    assert report.json()["failed"] == []
    assert sorted(entry["entry"][1] for entry in ann.entries()) == ["=HYPERLINK(\"http://evil\")", "Plain, \"quoted\""]
    assert ann.http.get(EXPORT).content == exported


# --- import ---------------------------------------------------------------------------------------
def test_the_documented_import(ann: User) -> None:
    response = ann.import_csv(f"{HEADER}\ncorp,jdoe@company.corp,3333,John,Doe,2222,1111".encode())

    assert response.status_code == 201, response.text
    report = response.json()
    assert report["failed"] == []
    (created,) = report["created"]
    assert created["lastname"] == "Doe"
    assert ann.http.get(f"{PERSONAL}/{created['id']}").json() == {
        "id": created["id"], "firstname": "John", "lastname": "Doe", "number": "1111", "mobile": "2222",
        "fax": "3333", "email": "jdoe@company.corp", "company": "corp", "favorite": False}


def test_the_import_report_names_the_lines_that_failed(ann: User) -> None:
    ann.create(lastname="Existing", number="100")
    content = "\r\n".join([
        "lastname,number,company,email",          # 1
        "Wayne,200,Wayne Enterprises,",           # 2
        "Hawking,300,Cambridge,,extra",           # 3 too many fields
        "Existing,100,,",                         # 4 duplicate of a stored contact
        "",                                       # 5 blank: skipped
        '"Two',                                   # 6 a quoted field over two lines (a line break is
        'lines",400,"ACME",',                     # 7   not allowed in a name): reported at its first line
        ",,,only@an.email",                       # 8 neither name nor number
        "Wayne,200,Wayne Enterprises,",           # 9 duplicate of line 2
        "Short",                                  # 10 missing fields
        "Last,500,Corp,",                         # 11
    ]).encode()

    response = ann.import_csv(content)

    assert response.status_code == 201, response.text
    report = response.json()
    assert [created["lastname"] for created in report["created"]] == ["Wayne", "Last"]
    failed = {entry["line"]: entry["errors"] for entry in report["failed"]}
    assert sorted(failed) == [3, 4, 6, 8, 9, 10]
    assert failed[3] == ["too many fields"]
    assert failed[4] == ["duplicate contact"]
    assert failed[9] == ["duplicate contact"]
    assert failed[10] == ["missing fields"]
    assert all(isinstance(error, str) and error for errors in failed.values() for error in errors)
    assert len(ann.entries()) == 3


def test_the_charset_comes_from_the_content_type(ann: User) -> None:
    content = "lastname,firstname\nMüller,Zoë\n".encode("iso-8859-1")

    refused = ann.import_csv(content, "text/csv;charset=UTF-8")  # not valid UTF-8: nothing is created
    accepted = ann.import_csv(content, "text/csv; charset=ISO-8859-1")

    assert "utf-8" in assert_error(refused, 400, "InvalidContact")["message"].lower()
    assert accepted.status_code == 201, accepted.text
    assert [entry["entry"][:2] for entry in ann.entries()] == [["Zoë", "Müller"]]


def test_utf8_is_the_default_charset_and_a_bom_is_dropped(ann: User) -> None:
    response = ann.http.post(IMPORT, content="\ufefflastname\nÉlodie\n".encode())

    assert response.status_code == 201, response.text
    assert [entry["entry"][1] for entry in ann.entries()] == ["Élodie"]


@pytest.mark.parametrize(("content", "content_type"), [
    (b"lastname,nickname\nDoe,jo\n", "text/csv"),           # unknown column
    (b"lastname,number\n,\n", "text/csv"),                  # no valid line
    (b"", "text/csv"),                                     # nothing at all
    (b"lastname\nDoe\n", "text/csv; charset=no-such-charset"),
])
def test_a_file_that_cannot_be_imported_is_an_invalid_contact_and_creates_nothing(
    ann: User, content: bytes, content_type: str,
) -> None:
    assert_error(ann.import_csv(content, content_type), 400, "InvalidContact")
    assert ann.entries() == []


def test_a_100000_line_import_and_its_export(ann: User) -> None:
    lines = [HEADER] + [f"corp{i % 97},user{i}@corp.example,,First{i},Last{i:06d},,{1000000 + i}"
                        for i in range(100_000)]
    content = "\n".join(lines).encode()

    response = ann.import_csv(content)

    assert response.status_code == 201, response.text
    report = response.json()
    assert len(report["created"]) == 100_000
    assert report["failed"] == []
    assert len(ann.entries(limit="10")) == 10
    assert [entry["entry"][1] for entry in ann.entries(search="Last099999")] == ["Last099999"]
    rows = ann.export_rows()
    assert len(rows) == 100_001
    assert rows[0] == HEADER.split(",")


# --- limits and restart (stacks of their own) -----------------------------------------------------
def test_an_import_above_the_import_limit_is_too_large_and_contacts_survive_a_restart(
    make_stack: StartStack,
) -> None:
    stack = make_stack(XUC_MAX_IMPORT_BYTES="200000")
    stack.provision({"restart.ann": "restart-secret"})
    token = login(stack.url, "restart.ann", "restart-secret")
    body = (HEADER + "\n" + "corp,a@b.c,,Ann,Lee,,123\n" * 10_000).encode()  # 250 kB: above the limit
    assert len(body) > 200_000
    with httpx.Client(base_url=stack.url, headers={"X-Auth-Token": token}, timeout=60.0) as http:
        kept = User("restart.ann", http).create(**DOCUMENTED, favorite=True)
        assert_error(http.post(IMPORT, content=body, headers={"Content-Type": "text/csv"}), 413, "PayloadTooLarge")
        chunked = http.post(IMPORT, content=iter([body[:100_000], body[100_000:]]))  # no Content-Length
        assert_error(chunked, 413, "PayloadTooLarge")
        imported = http.post(IMPORT, content=body[:150_000].rpartition(b"\n")[0])
        assert imported.status_code == 201, imported.text
        assert len(imported.json()["created"]) == 1  # the other lines duplicate it
        before = User("restart.ann", http).entries()
        assert len(before) == 2

    stack.stop()
    stack.start()

    token = login(stack.url, "restart.ann", "restart-secret")
    with httpx.Client(base_url=stack.url, headers={"X-Auth-Token": token}, timeout=60.0) as http:
        user = User("restart.ann", http)
        assert user.entries() == before
        assert http.get(f"{PERSONAL}/{kept['id']}").json() == kept
        assert len(user.export_rows()) == 3
