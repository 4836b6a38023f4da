"""Personal contacts through `xuc up`, as a client sees them: the documented round trip, every error
code of the routes, two users, search, limit and offset.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import MAX_BODY_BYTES, assert_error
from tests.e2e.contacts.contacts_http import DOCUMENTED, EXPORT, IMPORT, NOT_A_LINE, PERSONAL, UNKNOWN_ID, User
from tests.support.http_errors import NO_CREDENTIALS_MESSAGE


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
