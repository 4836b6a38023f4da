"""Idempotent creation: a repeated CreateContact with the same key answers the first contact, keys
expire after a day, concurrent and retried creations make one contact.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from nats.js import JetStreamContext
from psycopg import sql

from services.contacts.domain.contacts import ContactFields, contact_keys
from services.contacts.domain.idempotency import creation_fingerprint
from tests.support.contacts_client import INVALID, SERVICE, Contacts, wait_until
from tests.support.databases import SQLITE, TestDatabase, postgres_admin_url
from tests.support.events import stored_messages
from tests.support.rpc import refusal
from xuc import subjects
from xucproto.contacts.v1 import contacts_pb2
from xucproto.events.v1 import contacts_events_pb2


# --- idempotent creation ----------------------------------------------------------------------------------
def idempotency_rows(database: TestDatabase, owner_id: str) -> list[tuple[str, str]]:
    """(key, contact id) of the owner's recorded creations."""
    query = "SELECT idempotency_key, contact_id FROM {} WHERE owner_id = %s ORDER BY idempotency_key"
    if database.backend == SQLITE:
        assert database.path is not None
        with sqlite3.connect(database.path) as connection:
            rows = connection.execute(query.format("contacts_idempotency").replace("%s", "?"), (owner_id,))
            return [(key, contact_id) for key, contact_id in rows.fetchall()]
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        statement = sql.SQL(query).format(sql.Identifier(database.schema, "contacts_idempotency"))
        return [(key, contact_id) for key, contact_id in connection.execute(statement, (owner_id,)).fetchall()]


async def test_a_repeated_creation_with_a_key_answers_the_first_contact(
    alice: Contacts, bob: Contacts, contacts_database: TestDatabase, js: JetStreamContext,
) -> None:
    first = await alice.create(lastname="Doe", number="1", idempotency_key="order-1")
    again = await alice.create(lastname=" Doe ", number="1", idempotency_key="order-1")
    assert again == first
    assert await alice.lastnames() == ["Doe"]
    [event] = await stored_messages(js, subjects.CONTACT_CHANGED.for_key(alice.user.login), count=1)
    assert contacts_events_pb2.ContactChanged.FromString(event.data).contact_id == first.id
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("order-1", first.id)]

    assert await refusal(alice.create(lastname="Lee", idempotency_key="order-1")) \
        == (grpc.StatusCode.ALREADY_EXISTS, "IdempotencyKeyReused")
    bobs = await bob.create(lastname="Doe", number="1", idempotency_key="order-1")  # keys are per owner
    assert bobs.id != first.id
    for key in ("", " x", "é" * 3, "x" * 129):
        assert await refusal(alice.create(lastname="Kim", idempotency_key=key)) == (INVALID, "InvalidIdempotencyKey")
    assert await alice.lastnames() == ["Doe"]


async def test_a_key_older_than_a_day_is_new_again(alice: Contacts, contacts_database: TestDatabase) -> None:
    def record_an_old_use() -> None:
        query = ("INSERT INTO {} (owner_id, idempotency_key, contact_id, fingerprint, created_at) "
                 "VALUES (%s, %s, %s, %s, %s)")
        if contacts_database.backend == SQLITE:
            assert contacts_database.path is not None
            with sqlite3.connect(contacts_database.path) as connection:
                connection.execute(query.format("contacts_idempotency").replace("%s", "?"),
                                   (alice.user.user_id, "old-key", "gone", "0" * 64, time.time() - 2 * 86400))
            return
        with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
            connection.execute(sql.SQL(query).format(sql.Identifier(contacts_database.schema, "contacts_idempotency")),
                               (alice.user.user_id, "old-key", "gone", "0" * 64, time.time() - 2 * 86400))

    await asyncio.to_thread(record_an_old_use)
    created = await alice.create(lastname="Fresh", idempotency_key="old-key")  # other fields: no 422
    assert created.id != "gone"
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("old-key", created.id)]


async def test_a_creation_refused_as_a_duplicate_records_no_key(
    alice: Contacts, contacts_database: TestDatabase,
) -> None:
    existing = await alice.create(lastname="Doe", number="01 23", idempotency_key="first")
    for _ in range(2):  # the same request again is refused again, not answered from a recorded key
        assert await refusal(alice.create(lastname="DOE", number="0123", idempotency_key="dup-1")) \
            == (grpc.StatusCode.ALREADY_EXISTS, "DuplicateContact")
        assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
            == [("first", existing.id)]
    # The key is still free: once the duplicate is gone, the same request creates with it.
    assert await alice.delete(existing.id) == 1
    created = await alice.create(lastname="DOE", number="0123", idempotency_key="dup-1")
    assert await asyncio.to_thread(idempotency_rows, contacts_database, alice.user.user_id) \
        == [("dup-1", created.id), ("first", existing.id)]
    assert await alice.lastnames() == ["DOE"]


async def test_concurrent_creations_with_one_key_make_one_contact(alice: Contacts, js: JetStreamContext) -> None:
    results = await asyncio.gather(*(alice.create(lastname="Racer", number="7", idempotency_key="one-key")
                                     for _ in range(8)))
    assert {result.id for result in results} == {results[0].id}  # every one answered the same contact
    assert await alice.lastnames() == ["Racer"]
    await stored_messages(js, subjects.CONTACT_CHANGED.for_key(alice.user.login), count=1)


async def test_a_retry_while_the_first_creation_commits_gets_its_contact(
    alice: Contacts, contacts_database: TestDatabase,
) -> None:
    """The first attempt is in its transaction (here: the test's own, holding the key's row, uncommitted)
    when the retry arrives; it commits before it could answer. The retry waits, then answers it."""
    fields = ContactFields(lastname="Slow", number="9")
    contact_id = str(uuid.uuid4())
    fingerprint = creation_fingerprint(fields.validated())
    now = time.time()
    first_attempt = FirstAttempt(contacts_database, alice.user.user_id, contact_id, fingerprint, now)
    await asyncio.to_thread(first_attempt.begin)
    try:
        retry = asyncio.ensure_future(alice.create(lastname="Slow", number="9", idempotency_key="slow-1"))
        if contacts_database.backend == SQLITE:
            # SQLite shows no waiting connection from outside the service's process: the retry is
            # given a moment to reach the database. Whether it did or not, its answer below can only
            # name `contact_id` once the first attempt committed (no other creation knows that id).
            await asyncio.sleep(0.5)
        else:
            # The positive sign that the retry got that far: its session waits for the key's row lock.
            await wait_until(a_session_waits_for_the_key, "the retry to wait for the first attempt")
            assert not retry.done()  # ... waiting for the first attempt's outcome, not answered
        await asyncio.to_thread(first_attempt.commit)
        assert (await retry).id == contact_id
    finally:
        await asyncio.to_thread(first_attempt.close)
    assert await alice.lastnames() == ["Slow"]


def a_session_waits_for_the_key() -> bool:
    """Whether a PostgreSQL session waits for a lock in a statement on the idempotency keys (the retry,
    blocked by the first attempt's open transaction: no other test holds one open)."""
    query = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
             "AND query ILIKE '%%contacts_idempotency%%'")
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        row = connection.execute(query).fetchone()
    return row is not None and int(row[0]) > 0


@dataclass
class FirstAttempt:
    """A creation with key `slow-1` made by hand in an open transaction, committed when told."""

    database: TestDatabase
    owner_id: str
    contact_id: str
    fingerprint: str
    now: float
    connection: Any = None

    def begin(self) -> None:
        fields = ContactFields(lastname="Slow", number="9")
        keys = contact_keys(fields)
        contact = ("INSERT INTO contacts_personal (id, owner_id, lastname, number, favorite, identity, search_text, "
                   "sort_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
        key = ("INSERT INTO contacts_idempotency (owner_id, idempotency_key, contact_id, fingerprint, created_at) "
               "VALUES (%s, %s, %s, %s, %s)")
        contact_values = (self.contact_id, self.owner_id, "Slow", "9", False, keys.identity, keys.search_text,
                          keys.sort_key)
        key_values = (self.owner_id, "slow-1", self.contact_id, self.fingerprint, self.now)
        if self.database.backend == SQLITE:
            assert self.database.path is not None
            self.connection = sqlite3.connect(self.database.path, isolation_level=None, timeout=10)
            self.connection.execute("BEGIN IMMEDIATE")
            self.connection.execute(contact.replace("%s", "?"), contact_values)
            self.connection.execute(key.replace("%s", "?"), key_values)
        else:
            self.connection = psycopg.connect(postgres_admin_url())
            self.connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.database.schema)))
            self.connection.execute(contact, contact_values)
            self.connection.execute(key, key_values)

    def commit(self) -> None:
        self.connection.commit() if self.database.backend != SQLITE else self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


async def test_an_older_clients_contact_fields_still_create(
    contacts_channel: grpc.aio.Channel, alice: Contacts
) -> None:
    """CreateContactRequest extends ContactFields on the wire: an older client's request still works."""
    old_create = contacts_channel.unary_unary(
        f"/{SERVICE}/CreateContact", request_serializer=contacts_pb2.ContactFields.SerializeToString,
        response_deserializer=contacts_pb2.Contact.FromString)
    created = await old_create(contacts_pb2.ContactFields(lastname="Old", favorite=True), metadata=alice.user.metadata)
    assert (created.fields.lastname, created.fields.favorite) == ("Old", True)
