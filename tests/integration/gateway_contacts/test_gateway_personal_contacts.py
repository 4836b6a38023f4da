"""The gateway's personal contacts routes, JSON <-> protobuf: list, get, create (idempotency key
included), update, delete, and bodies refused at the gateway.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.fake_contacts_service import (
    CONTACT_ID,
    FULL,
    MAX_BODY_BYTES,
    PERSONAL,
    FakeContacts,
    Gateway,
    assert_error,
    contact,
)
from xucproto.contacts.v1 import contacts_pb2


# --- personal contacts: JSON <-> protobuf ---------------------------------------------------------
def test_the_list_maps_entries_and_forwards_the_users_token(api: httpx.Client, fake: FakeContacts,
                                                            gateway: Gateway) -> None:
    fake.reply("ListContacts", contacts_pb2.ContactList(total=2, entries=[
        contacts_pb2.ContactWithStatus(contact=contact("a1", True, firstname="hawkeye", lastname="pierce",
                                                       number="1002", mobile="0761187406", fax="9"), status=0),
        contacts_pb2.ContactWithStatus(contact=contact("b2", firstname="peter", lastname="pan", number="1004"),
                                       status=-2),
    ]))

    response = api.get(PERSONAL)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "entries": [
            {"status": 0, "entry": ["hawkeye", "pierce", "1002", "0761187406", "true"], "id": "a1"},
            {"status": -2, "entry": ["peter", "pan", "1004", "", "false"], "id": "b2"},
        ],
        "headers": ["Firstname", "Lastname", "Number", "Mobile", "Favorite"],
    }
    call = fake.only("ListContacts")
    assert call.request == contacts_pb2.ListContactsRequest()
    assert call.metadata["authorization"] == f"Bearer {gateway.tokens['gw.alice']}"
    assert "x-xuc-service-token" not in call.metadata  # a user's call never carries the service's rights


def test_the_token_may_come_as_a_bearer_and_each_user_sends_their_own(gateway: Gateway, fake: FakeContacts) -> None:
    fake.reset()
    with httpx.Client(base_url=gateway.url, timeout=15.0) as client:
        for login in ("gw.alice", "gw.bob"):
            assert client.get(PERSONAL, headers={"Authorization": f"Bearer {gateway.tokens[login]}"}).status_code == 200

    assert [call.metadata["authorization"] for call in fake.received] == [
        f"Bearer {gateway.tokens['gw.alice']}", f"Bearer {gateway.tokens['gw.bob']}"]


def test_search_limit_and_offset_reach_the_service(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.get(PERSONAL, params={"search": "Éric d", "limit": "20", "offset": "40"}).status_code == 200

    assert fake.only("ListContacts").request == contacts_pb2.ListContactsRequest(search="Éric d", limit=20, offset=40)


@pytest.mark.parametrize(("name", "value"), [("limit", "abc"), ("limit", "-1"), ("offset", "1.5"), ("offset", ""),
                                             ("limit", "2147483648"), ("offset", "١٢")])
def test_a_limit_or_offset_that_is_not_a_count_is_an_invalid_contact(api: httpx.Client, fake: FakeContacts,
                                                                     name: str, value: str) -> None:
    message = assert_error(api.get(PERSONAL, params={name: value}), 400, "InvalidContact")

    assert name in message
    assert fake.received == []


def test_get_maps_the_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("GetContact", contact(favorite=True, **FULL))

    response = api.get(f"{PERSONAL}/{CONTACT_ID}")

    assert response.status_code == 200, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": True}
    assert fake.only("GetContact").request == contacts_pb2.ContactRef(id=CONTACT_ID)


def test_create_sends_the_fields_and_answers_201_with_the_contact(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("CreateContact", contact(favorite=False, **FULL))

    response = api.post(PERSONAL, json=FULL)

    assert response.status_code == 201, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": False}
    sent = fake.only("CreateContact").request
    assert sent == contacts_pb2.CreateContactRequest(**FULL, idempotency_key=sent.idempotency_key)
    assert not sent.HasField("favorite")  # absent: the service's default
    # No Idempotency-Key header: a key of this request only, so that a retry of the call is safe.
    assert re.fullmatch("xuc-gateway:[0-9a-f]{32}", sent.idempotency_key)
    api.post(PERSONAL, json=FULL)
    assert fake.received[1].request.idempotency_key not in ("", sent.idempotency_key)


@pytest.mark.parametrize(("headers", "sent_key"), [
    ([("Idempotency-Key", "order-42")], "order-42"),
    ([("idempotency-key", "")], ""),  # present but empty: the service refuses it
    ([("Idempotency-Key", "a"), ("Idempotency-Key", "b")], "a, b"),  # repeated: combined, as HTTP does
])
def test_create_passes_the_idempotency_key(
    api: httpx.Client, fake: FakeContacts, headers: list[tuple[str, str]], sent_key: str,
) -> None:
    fake.reply("CreateContact", contact(favorite=False, **FULL))

    assert api.post(PERSONAL, json=FULL, headers=headers).status_code == 201

    sent = fake.only("CreateContact").request
    assert sent.HasField("idempotency_key")
    assert sent.idempotency_key == sent_key


def test_missing_keys_are_empty_and_favorite_is_passed_when_given(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.post(PERSONAL, json={"lastname": "pan", "favorite": True}).status_code == 201

    sent = fake.only("CreateContact").request
    assert sent == contacts_pb2.CreateContactRequest(lastname="pan", favorite=True,
                                                     idempotency_key=sent.idempotency_key)
    assert sent.HasField("favorite")


def test_update_sends_the_id_and_fields_and_answers_200(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("UpdateContact", contact(favorite=True, **FULL))

    response = api.put(f"{PERSONAL}/{CONTACT_ID}", json=FULL)

    assert response.status_code == 200, response.text
    assert response.json() == {"id": CONTACT_ID, **FULL, "favorite": True}
    sent = fake.only("UpdateContact").request
    assert sent == contacts_pb2.UpdateContactRequest(id=CONTACT_ID, fields=contacts_pb2.ContactFields(**FULL))
    assert not sent.fields.HasField("favorite")  # absent: kept as it is


def test_update_accepts_the_object_as_it_was_read_id_included(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("UpdateContact", contact(favorite=True, **FULL))

    response = api.put(f"{PERSONAL}/{CONTACT_ID}", json={"id": "whatever-the-client-kept", **FULL, "favorite": True})

    assert response.status_code == 200, response.text
    sent = fake.only("UpdateContact").request
    assert sent.id == CONTACT_ID  # the path names the contact, not the body
    assert sent.fields == contacts_pb2.ContactFields(**FULL, favorite=True)


def test_update_may_change_only_favorite(api: httpx.Client, fake: FakeContacts) -> None:
    assert api.put(f"{PERSONAL}/{CONTACT_ID}", json={**FULL, "favorite": False}).status_code == 200

    sent = fake.only("UpdateContact").request
    assert sent.fields.HasField("favorite")
    assert sent.fields.favorite is False


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        (b"", "JsonParsingError", None),
        (b"{", "JsonParsingError", None),
        (b"\xff\xfe{}", "JsonParsingError", None),
        (b"[]", "InvalidContact", None),
        (b'"doe"', "InvalidContact", None),
        (b'{"nickname": "doc"}', "InvalidContact", "nickname"),
        (b'{"id": 7, "lastname": "doe"}', "InvalidContact", "id"),
        (b'{"mobile": 2222}', "InvalidContact", "mobile"),
        (b'{"firstname": null}', "InvalidContact", "firstname"),
        (b'{"favorite": "true"}', "InvalidContact", "favorite"),
        (b'{"favorite": 1}', "InvalidContact", "favorite"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_that_is_not_a_contact_is_refused_at_the_gateway(api: httpx.Client, fake: FakeContacts, method: str,
                                                                body: bytes, code: str, named: str | None) -> None:
    path = PERSONAL if method == "POST" else f"{PERSONAL}/{CONTACT_ID}"

    status = 500 if code == "JsonParsingError" else 400  # the REST page documents a 500 JsonParsingError
    message = assert_error(api.request(method, path, content=body, headers={"Content-Type": "application/json"}),
                           status, code)

    if named is not None:
        assert f"'{named}'" in message
    assert fake.received == []


def test_delete_answers_204_without_a_body(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("DeleteContact", contacts_pb2.DeleteContactsReply(deleted=1))

    response = api.delete(f"{PERSONAL}/{CONTACT_ID}")

    assert response.status_code == 204
    assert response.content == b""
    assert fake.only("DeleteContact").request == contacts_pb2.ContactRef(id=CONTACT_ID)


def test_delete_all_answers_204_without_a_body(api: httpx.Client, fake: FakeContacts) -> None:
    fake.reply("DeleteAllContacts", contacts_pb2.DeleteContactsReply(deleted=3))

    response = api.delete(PERSONAL)

    assert response.status_code == 204
    assert response.content == b""
    assert fake.only("DeleteAllContacts").request == contacts_pb2.DeleteAllContactsRequest()


def test_a_method_a_path_does_not_serve_lists_all_it_does(api: httpx.Client) -> None:
    collection = api.patch(PERSONAL, json={})
    one = api.post(f"{PERSONAL}/{CONTACT_ID}", json={})

    assert_error(collection, 405, "MethodNotAllowed")
    assert set(collection.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "DELETE"}
    assert_error(one, 405, "MethodNotAllowed")
    assert set(one.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE"}


def test_contact_bodies_keep_the_general_body_limit(api: httpx.Client, fake: FakeContacts) -> None:
    assert_error(api.post(PERSONAL, json={"company": "x" * MAX_BODY_BYTES}), 413, "PayloadTooLarge")
    assert fake.received == []
