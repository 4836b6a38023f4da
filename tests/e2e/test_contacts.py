"""Personal contacts through `xuc up`: every route, status and error code, as a client sees them.

The users of this module are provisioned here (contacts.ann, contacts.ben); each test starts from
an empty contact list for them (the `ann` and `ben` fixtures delete everything first).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BASE, MAX_BODY_BYTES, Stack, assert_error
from tests.support.http_errors import NO_CREDENTIALS_MESSAGE

PERSONAL = f"{BASE}/contact/personal"
EXPORT = f"{BASE}/contact/export/personal"
IMPORT = f"{BASE}/contact/import/personal"
LOGIN = f"{BASE}/auth/login"
USERS = {"contacts.ann": "ann-secret", "contacts.ben": "ben-secret"}
HEADER = "company,email,fax,firstname,lastname,mobile,number"
NOT_A_LINE = -2
# A well-formed id no contact has. Fixed, not drawn at import: test ids must be the same in every
# xdist worker's collection.
UNKNOWN_ID = "7d0f3c1e-5b2a-4c8e-9f61-2a4b8c0d1e3f"
DOCUMENTED = {"firstname": "doe", "lastname": "john", "number": "1111", "mobile": "2222", "fax": "3333",
              "email": "j.doe@my.corp", "company": "corp"}
StartStack = Callable[..., Stack]


@dataclass
class User:
    """An HTTP client carrying one user's token."""

    login: str
    http: httpx.Client

    def create(self, **fields: Any) -> dict[str, Any]:
        response = self.http.post(PERSONAL, json=fields)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def entries(self, **params: str) -> list[dict[str, Any]]:
        response = self.http.get(PERSONAL, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["headers"] == ["Firstname", "Lastname", "Number", "Mobile", "Favorite"]
        entries: list[dict[str, Any]] = body["entries"]
        return entries

    def import_csv(self, content: bytes, content_type: str = "text/csv;charset=UTF-8") -> httpx.Response:
        return self.http.post(IMPORT, content=content, headers={"Content-Type": content_type})

    def export_rows(self) -> list[list[str]]:
        response = self.http.get(EXPORT)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def login(stack_url: str, user: str, password: str) -> str:
    with httpx.Client(base_url=stack_url, timeout=15.0) as client:
        response = client.post(LOGIN, json={"login": user, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    stack.provision(USERS, name="contacts-users.yaml")
    return {user: login(stack.url, user, password) for user, password in USERS.items()}


def _user(stack: Stack, tokens: dict[str, str], name: str) -> Iterator[User]:
    with httpx.Client(base_url=stack.url, headers={"X-Auth-Token": tokens[name]}, timeout=120.0) as http:
        assert http.delete(PERSONAL).status_code == 204  # a clean slate
        yield User(name, http)


@pytest.fixture
def ann(stack: Stack, tokens: dict[str, str]) -> Iterator[User]:
    yield from _user(stack, tokens, "contacts.ann")


@pytest.fixture
def ben(stack: Stack, tokens: dict[str, str]) -> Iterator[User]:
    yield from _user(stack, tokens, "contacts.ben")


# --- create, get, update, delete ------------------------------------------------------------------
def test_the_documented_contact_round_trip(ann: User) -> None:
    created = ann.create(**DOCUMENTED)

    assert created == {"id": created["id"], **DOCUMENTED, "favorite": False}
    assert uuid.UUID(created["id"])
    got = ann.http.get(f"{PERSONAL}/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created

    changed = {**DOCUMENTED, "mobile": "0611223344", "email": ""}
    updated = ann.http.put(f"{PERSONAL}/{created['id']}", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json() == {"id": created["id"], **changed, "favorite": False}
    assert ann.http.get(f"{PERSONAL}/{created['id']}").json() == updated.json()

    deleted = ann.http.delete(f"{PERSONAL}/{created['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(ann.http.get(f"{PERSONAL}/{created['id']}"), 404, "ContactNotFound")
    assert_error(ann.http.delete(f"{PERSONAL}/{created['id']}"), 404, "ContactNotFound")
    assert ann.entries() == []


def test_the_list_has_the_documented_shape_with_ids(ann: User) -> None:
    hawkeye = ann.create(firstname="hawkeye", lastname="pierce", number="1002", mobile="0761187406")
    peter = ann.create(firstname="peter", lastname="pan", number="1004", favorite=True)

    entries = ann.entries()

    # Sorted by last name; no telephony line answers for these numbers.
    assert entries == [
        {"status": NOT_A_LINE, "entry": ["peter", "pan", "1004", "", "true"], "id": peter["id"]},
        {"status": NOT_A_LINE, "entry": ["hawkeye", "pierce", "1002", "0761187406", "false"], "id": hawkeye["id"]},
    ]


def test_missing_keys_are_empty_and_favorite_is_kept_when_left_out(ann: User) -> None:
    created = ann.create(lastname="Solo", favorite=True)
    assert created == {"id": created["id"], "firstname": "", "lastname": "Solo", "number": "", "mobile": "",
                       "fax": "", "email": "", "company": "", "favorite": True}

    kept = ann.http.put(f"{PERSONAL}/{created['id']}", json={"lastname": "Solo", "number": "555"})
    cleared = ann.http.put(f"{PERSONAL}/{created['id']}", json={"lastname": "Solo", "favorite": False})

    assert kept.json()["favorite"] is True
    assert kept.json()["number"] == "555"
    assert cleared.json()["favorite"] is False
    assert cleared.json()["number"] == ""  # PUT replaces every field


def test_delete_all_answers_204_and_empties_the_list(ann: User) -> None:
    for name in ("one", "two", "three"):
        ann.create(lastname=name)

    response = ann.http.delete(PERSONAL)

    assert response.status_code == 204
    assert response.content == b""
    assert ann.entries() == []
    assert ann.http.delete(PERSONAL).status_code == 204  # nothing left: still 204


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "JsonParsingError"),  # 500, as the REST page documents it
    (b"", "JsonParsingError"),
    (b"[]", "InvalidContact"),
    (b'{"lastname": "doe", "nickname": "jo"}', "InvalidContact"),
    (b'{"lastname": "doe", "number": 1111}', "InvalidContact"),
    (b'{"lastname": "doe", "favorite": "yes"}', "InvalidContact"),
    (b"{}", "InvalidContact"),  # neither a name nor a number: the service's rule
    (b'{"email": "only@an.email"}', "InvalidContact"),
    (b'{"lastname": "' + b"x" * 129 + b'"}', "InvalidContact"),
    (b'{"lastname": "tab\\there"}', "InvalidContact"),
])
def test_a_contact_that_is_not_one_is_refused_on_create_and_update(ann: User, body: bytes, code: str) -> None:
    existing = ann.create(lastname="Existing")
    headers = {"Content-Type": "application/json"}

    status = 500 if code == "JsonParsingError" else 400
    assert_error(ann.http.post(PERSONAL, content=body, headers=headers), status, code)
    assert_error(ann.http.put(f"{PERSONAL}/{existing['id']}", content=body, headers=headers), status, code)
    assert [entry["id"] for entry in ann.entries()] == [existing["id"]]
    assert ann.http.get(f"{PERSONAL}/{existing['id']}").json() == existing


def test_a_duplicate_contact_is_a_conflict(ann: User) -> None:
    first = ann.create(**DOCUMENTED)
    other = ann.create(lastname="Other")

    assert_error(ann.http.post(PERSONAL, json={**DOCUMENTED, "firstname": " DOE "}), 409, "DuplicateContact")
    assert_error(ann.http.put(f"{PERSONAL}/{other['id']}", json=DOCUMENTED), 409, "DuplicateContact")
    assert sorted(entry["id"] for entry in ann.entries()) == sorted([first["id"], other["id"]])


def test_a_creation_repeated_with_its_idempotency_key_answers_the_first_contact(ann: User) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = ann.http.post(PERSONAL, json=DOCUMENTED, headers=key)
    assert first.status_code == 201, first.text
    again = ann.http.post(PERSONAL, json=DOCUMENTED, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert [entry["id"] for entry in ann.entries()] == [first.json()["id"]]

    assert_error(ann.http.post(PERSONAL, json={"lastname": "Other"}, headers=key), 422, "IdempotencyKeyReused")
    for bad in (b"x" * 129, "caf\u00e9".encode()):  # too long; not ASCII
        assert_error(ann.http.post(PERSONAL, json={"lastname": "Other"}, headers={b"Idempotency-Key": bad}),
                     400, "InvalidIdempotencyKey")
    # Without a key, a repeated creation is a duplicate, as before.
    assert_error(ann.http.post(PERSONAL, json=DOCUMENTED), 409, "DuplicateContact")
    assert len(ann.entries()) == 1


@pytest.mark.parametrize("contact_id", ["not-a-uuid", UNKNOWN_ID])
def test_an_unknown_id_is_not_found_on_every_route(ann: User, contact_id: str) -> None:
    assert_error(ann.http.get(f"{PERSONAL}/{contact_id}"), 404, "ContactNotFound")
    assert_error(ann.http.put(f"{PERSONAL}/{contact_id}", json={"lastname": "x"}), 404, "ContactNotFound")
    assert_error(ann.http.delete(f"{PERSONAL}/{contact_id}"), 404, "ContactNotFound")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", PERSONAL), ("POST", PERSONAL), ("DELETE", PERSONAL), ("GET", f"{PERSONAL}/{UNKNOWN_ID}"),
    ("PUT", f"{PERSONAL}/{UNKNOWN_ID}"), ("DELETE", f"{PERSONAL}/{UNKNOWN_ID}"), ("GET", EXPORT),
    ("POST", IMPORT),
])
def test_every_route_wants_a_token(api: httpx.Client, method: str, path: str) -> None:
    assert_error(api.request(method, path), 401, "AuthorizationHeaderNotFound", NO_CREDENTIALS_MESSAGE)
    assert_error(api.request(method, path, headers={"Authorization": "Bearer nope"}), 401, "InvalidToken")


def test_a_contact_body_above_the_body_limit_is_too_large(ann: User) -> None:
    assert_error(ann.http.post(PERSONAL, json={"company": "x" * MAX_BODY_BYTES}), 413, "PayloadTooLarge")


# --- two users ------------------------------------------------------------------------------------
def test_two_users_never_see_each_others_contacts(ann: User, ben: User) -> None:
    anns = ann.create(**DOCUMENTED)
    bens = ben.create(**DOCUMENTED)  # the same fields: not a duplicate across users

    assert [entry["id"] for entry in ann.entries()] == [anns["id"]]
    assert [entry["id"] for entry in ben.entries()] == [bens["id"]]
    # Another user's contact id answers exactly like an id that does not exist.
    assert_error(ben.http.get(f"{PERSONAL}/{anns['id']}"), 404, "ContactNotFound")
    assert_error(ben.http.put(f"{PERSONAL}/{anns['id']}", json={"lastname": "stolen"}), 404, "ContactNotFound")
    assert_error(ben.http.delete(f"{PERSONAL}/{anns['id']}"), 404, "ContactNotFound")
    assert [row[4] for row in ben.export_rows()[1:]] == ["john"]

    assert ben.http.delete(PERSONAL).status_code == 204
    assert ann.http.get(f"{PERSONAL}/{anns['id']}").json() == anns


# --- search, limit, offset (extras) ---------------------------------------------------------------
def test_search_is_case_and_accent_insensitive_and_pages_with_limit_and_offset(ann: User) -> None:
    for first, last in [("Élodie", "Dupré"), ("eric", "Durand"), ("Zoé", "Martin"), ("Paul", "Dupont")]:
        ann.create(firstname=first, lastname=last, number="01 23 45 67")

    assert [entry["entry"][1] for entry in ann.entries(search="DUPRE")] == ["Dupré"]
    assert [entry["entry"][1] for entry in ann.entries(search="du")] == ["Dupont", "Dupré", "Durand"]
    assert [entry["entry"][0] for entry in ann.entries(search="zoe")] == ["Zoé"]
    assert len(ann.entries(search="01234567")) == 4
    assert [entry["entry"][1] for entry in ann.entries(limit="2")] == ["Dupont", "Dupré"]
    assert [entry["entry"][1] for entry in ann.entries(limit="2", offset="2")] == ["Durand", "Martin"]
    assert ann.entries(offset="10") == []


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"offset": "-1"}, {"limit": "10001"}])
def test_a_bad_limit_or_offset_is_an_invalid_contact(ann: User, params: dict[str, str]) -> None:
    assert_error(ann.http.get(PERSONAL, params=params), 400, "InvalidContact")


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
