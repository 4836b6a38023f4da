"""Several contacts processes serving one database (replicas), as real processes: each one's read
cache sees the others' writes at once (through the contacts events on NATS), and is not used while
its NATS connection is down; an import in progress on one survives the restart of another, while
a crashed process's import is deleted once its lease expires. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from psycopg import sql

from services.contacts.service_layer.contacts_import import IMPORT_BATCH_SIZE
from tests.integration.conftest import start_contacts
from tests.support.contacts_client import HEADER, Contacts, new_users, wait_until
from tests.support.databases import SQLITE, DatabaseFactory, TestDatabase, postgres_admin_url
from tests.support.deadlines import EVENT_DEADLINE_SECONDS
from tests.support.ports import free_port
from tests.support.processes import ServiceLauncher, ServiceProcess, _accepts_tcp, _terminate, nats_server_binary
from xuc import subjects
from xuc.runtime import nats
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

LEASE = {"XUC_CONTACTS_IMPORT_LEASE_S": "2"}  # maintenance every 0.5 s
# The read cache's age bound, an hour: far beyond any wait of these tests, so a change a process
# sees through its cache can only have come from an event (or the cache being bypassed), never
# from the entry's expiry. A test can then wait for it with a generous deadline.
CACHE_FOR_AN_HOUR = {"XUC_CONTACTS_CACHE_TTL_S": "3600"}


@pytest.fixture
async def auth_stub(auth_service: ServiceProcess) -> AsyncIterator[auth_pb2_grpc.AuthStub]:
    async with grpc.aio.insecure_channel(auth_service.grpc_address) as channel:
        yield auth_pb2_grpc.AuthStub(channel)


# --- the database behind the services' backs ------------------------------------------------------------
def _execute(database: TestDatabase, query: str, params: tuple[Any, ...], table: str) -> list[tuple[Any, ...]]:
    if database.backend == SQLITE:
        assert database.path is not None
        with sqlite3.connect(database.path, timeout=10) as connection:
            return connection.execute(query.format(table).replace("%s", "?"), params).fetchall()
    with psycopg.connect(postgres_admin_url(), autocommit=True) as connection:
        statement = sql.SQL(query).format(sql.Identifier(database.schema, table))
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def set_lastname(database: TestDatabase, contact_id: str, lastname: str) -> None:
    """Change a contact without any service knowing (no event): only an uncached read sees it."""
    _execute(database, "UPDATE {} SET lastname = %s WHERE id = %s", (lastname, contact_id), "contacts_personal")


def pending_rows_of(database: TestDatabase, owner_id: str) -> int:
    query = "SELECT count(*) FROM {} WHERE import_id IS NOT NULL AND owner_id = %s"
    return int(_execute(database, query, (owner_id,), "contacts_personal")[0][0])


def leases(database: TestDatabase) -> int:
    return int(_execute(database, "SELECT count(*) FROM {}", (), "contacts_imports")[0][0])


def renewed_since(database: TestDatabase, owner_id: str, since: float) -> bool:
    """Whether the lease of `owner_id`'s import was renewed after `since` (wall-clock seconds, the
    services' clock): its process is alive, and its maintenance ran that late."""
    query = "SELECT count(*) FROM {} WHERE owner_id = %s AND renewed_at > %s"
    return int(_execute(database, query, (owner_id, since), "contacts_imports")[0][0]) > 0


async def eventually(read: Callable[[], Awaitable[str]], expected: str) -> None:
    """Poll `read` until it gives `expected` (fails after a generous deadline)."""
    deadline = time.monotonic() + EVENT_DEADLINE_SECONDS
    while (value := await read()) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"still {value!r} after {EVENT_DEADLINE_SECONDS} s, expected {expected!r}")
        await asyncio.sleep(0.01)


# --- the read cache ------------------------------------------------------------------------------------
async def test_a_write_through_one_replica_is_seen_through_the_other_at_once(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    database = database_factory.create()
    first, second = [await asyncio.to_thread(start_contacts, service_launcher, auth_service, database,
                                             **CACHE_FOR_AN_HOUR)
                     for _ in range(2)]
    [user] = await new_users(auth_stub, auth_service, 1)
    async with grpc.aio.insecure_channel(first.grpc_address) as one, \
            grpc.aio.insecure_channel(second.grpc_address) as other:
        writer = Contacts(contacts_pb2_grpc.PersonalContactsStub(one), user)
        reader = Contacts(contacts_pb2_grpc.PersonalContactsStub(other), user)

        async def lastname() -> str:
            return (await reader.get(contact.id)).fields.lastname

        async def lastnames() -> str:
            return ",".join(await reader.lastnames())

        contact = await writer.create(lastname="Doe")
        assert await lastname() == "Doe"  # the reader's cache holds the owner's contacts now
        await asyncio.to_thread(set_lastname, database, contact.id, "Unannounced")
        assert await lastname() == "Doe"  # served from the cache: a change without an event is not seen

        # Each change is seen through the reader's cache, which would otherwise serve its entry for
        # an hour: only the writer's event evicted it.
        await writer.update(contact.id, lastname="Dee")
        await eventually(lastname, "Dee")
        await writer.create(lastname="Kim")
        await eventually(lastnames, "Dee,Kim")
        await writer.import_file(f"{HEADER}\n,,,,Ray,,\n".encode())
        await eventually(lastnames, "Dee,Kim,Ray")
        await writer.delete(contact.id)
        await eventually(lastnames, "Kim,Ray")
        await writer.delete_all()
        await eventually(lastnames, "")
        # And the other way round.
        await reader.create(lastname="Back")
        assert await writer.lastnames() == ["Back"]  # the writer's own cache was evicted by the event


# --- the cache while NATS is down ------------------------------------------------------------------------


class RestartableNats:
    """A nats-server on a fixed port, which a test stops and starts again at the same address."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.directory)]
        with (self.directory / "nats-server.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _accepts_tcp("127.0.0.1", self.port):
            assert self.process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server did not accept connections"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            _terminate(self.process, 10.0)
            self.process = None


async def _create_auths_stream(url: str) -> None:
    """What auth does on the NATS it publishes to: contacts follows that stream (the revocations)."""
    connection = await nats.connect(url, "auth")
    try:
        await nats.ensure_stream(connection.jetstream(), subjects.auth_stream())
    finally:
        await connection.close()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[RestartableNats]:
    server = RestartableNats(tmp_path)
    server.start()
    asyncio.run(_create_auths_stream(server.url))
    try:
        yield server
    finally:
        server.stop()


async def test_the_cache_is_not_used_while_nats_is_down(
    own_nats: RestartableNats, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub, tmp_path: Path,
) -> None:
    database = database_factory.create()
    with ServiceLauncher(own_nats.url, tmp_path / "services") as launcher:
        service = await asyncio.to_thread(start_contacts, launcher, auth_service, database, **CACHE_FOR_AN_HOUR)
        [user] = await new_users(auth_stub, auth_service, 1)
        async with grpc.aio.insecure_channel(service.grpc_address) as channel:
            contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
            contact = await contacts.create(lastname="Doe")

            async def lastname() -> str:
                return (await contacts.get(contact.id)).fields.lastname

            async def cached() -> bool:
                """Whether a change made behind the service's back goes unseen (a cached read)."""
                before = await lastname()
                await asyncio.to_thread(set_lastname, database, contact.id, f"{before}+")
                return await lastname() == before

            assert await cached()
            await asyncio.to_thread(own_nats.stop)
            # Reads go to the database once the service knows (the connection's end): with the
            # entry cached for an hour, seeing the change proves the cache is bypassed.
            await asyncio.to_thread(set_lastname, database, contact.id, "Down")
            await eventually(lastname, "Down")
            for name in ("Down1", "Down2"):  # not cached at all while down
                await asyncio.to_thread(set_lastname, database, contact.id, name)
                assert await lastname() == name

            await asyncio.to_thread(own_nats.start)
            deadline = time.monotonic() + EVENT_DEADLINE_SECONDS  # reconnection attempts every second
            while not await cached():
                assert time.monotonic() < deadline, "the cache was not used again after NATS came back"
                await asyncio.sleep(0.2)
        assert "NATS disconnected" in service.log()


# --- imports --------------------------------------------------------------------------------------------
async def test_an_import_survives_another_replicas_restart_and_a_crashed_ones_goes(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    database = database_factory.create()
    running, crashing, restarting = [
        await asyncio.to_thread(start_contacts, service_launcher, auth_service, database, **LEASE) for _ in range(3)]
    slow_user, crashed_user = await new_users(auth_stub, auth_service, 2)
    go_on, never = asyncio.Event(), asyncio.Event()
    lines = IMPORT_BATCH_SIZE + 500  # one batch stored as pending rows, the rest waits for the end

    def file(prefix: str) -> bytes:
        return "".join(f",,,,{prefix}{i:05d},,{i}\n" for i in range(lines)).encode()

    async def slow_upload() -> AsyncIterator[contacts_pb2.ImportChunk]:
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode() + file("Slow"))
        await go_on.wait()  # a slow client: silent for several leases
        yield contacts_pb2.ImportChunk(data=b",,,,Last,,\n", last=True)

    async def crashed_upload() -> AsyncIterator[contacts_pb2.ImportChunk]:
        yield contacts_pb2.ImportChunk(data=f"{HEADER}\n".encode() + file("Crash"))
        await never.wait()

    async with grpc.aio.insecure_channel(running.grpc_address) as one, \
            grpc.aio.insecure_channel(crashing.grpc_address) as two:
        slow = Contacts(contacts_pb2_grpc.PersonalContactsStub(one), slow_user)
        crashed = Contacts(contacts_pb2_grpc.PersonalContactsStub(two), crashed_user)
        slow_call = slow.import_call(slow_upload())
        crashed_call = crashed.import_call(crashed_upload())
        for user in (slow_user, crashed_user):
            await wait_until(lambda user=user: pending_rows_of(database, user.user_id) >= IMPORT_BATCH_SIZE,  # type: ignore[misc]
                             "a batch of each import stored")
        crashed_at = time.time()
        crashing.process.kill()  # a crash: no cleanup runs
        crashing.process.wait()
        crashing.stopped = True
        with pytest.raises(grpc.aio.AioRpcError):
            await crashed_call

        await asyncio.to_thread(restarting.stop)  # the other replica restarts (and cleans up at start)
        restarted = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database, **LEASE)
        await wait_until(lambda: pending_rows_of(database, crashed_user.user_id) == 0,
                         "the crashed import's rows to go", within=EVENT_DEADLINE_SECONDS)
        # No pause of three leases then "nothing happened": the positive sign that the system got
        # that far is the live import's lease renewed three leases (6 s) after the crash, while the
        # replicas' maintenance (which just deleted the crashed import) runs every 0.5 s.
        await wait_until(lambda: renewed_since(database, slow_user.user_id, crashed_at + 3 * 2.0),
                         "the live import's lease renewed three leases after the crash")
        assert pending_rows_of(database, slow_user.user_id) == IMPORT_BATCH_SIZE  # alive: left alone
        assert leases(database) == 1

        go_on.set()
        report = await slow_call
        assert len(report.created) == lines + 1
        assert (pending_rows_of(database, slow_user.user_id), leases(database)) == (0, 0)
    async with grpc.aio.insecure_channel(restarted.grpc_address) as channel:
        seen = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), slow_user)
        assert (await seen.list_contacts()).total == lines + 1
        assert (await Contacts(seen.stub, crashed_user).list_contacts()).total == 0
    assert "pending rows of unfinished imports deleted" in restarted.log() + running.log()
