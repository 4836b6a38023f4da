"""Signing keys shared by auth replicas through a real database (SQLite, and PostgreSQL when
XUC_TEST_DATABASE_URL is set): replicas as service objects with an injected clock (rotation on
schedule, retirement), and as real processes (concurrent first start, `xuc keys rotate`, the
key file of older versions imported, XUC_SIGNING_KEY_FILE as an override)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.adapters.passwords import Argon2Hasher
from services.auth.adapters.repository import SqlAuthUnitOfWork
from services.auth.adapters.signing import JwtIssuer, PemKeyMaterial, SigningKeyRing, load_or_create_signing_key
from services.auth.adapters.signing_key_store import SqlSigningKeyStore
from services.auth.domain.model import ClientInfo, Event, Profile, UserSpec
from services.auth.domain.ports import StoredSigningKey
from services.auth.domain.signing_keys import DAY_SECONDS, KeySchedule
from services.auth.keys import MIGRATIONS, VERSION_TABLE
from services.auth.service_layer.auth_service import AuthService
from services.auth.service_layer.signing_keys import SigningKeyManager
from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess, new_service_token
from tests.support.rpc import unique_login
from xuc.errors import InvalidToken
from xuc.runtime import db
from xuc.security.tokens import TokenVerifier, key_id, load_public_key
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

T0 = 1_900_000_000.0
TTL = 600
GRACE = 90.0
PREPUBLICATION = 3600.0
ROTATION = 7 * DAY_SECONDS
SCHEDULE = KeySchedule(rotation_age=ROTATION, prepublication=PREPUBLICATION, token_ttl=TTL, grace=GRACE)
CLIENT = ClientInfo("203.0.113.9", "tests", "integration")
XUC = Path(sys.executable).parent / "xuc"
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class NoEvents:
    async def publish(self, events: Sequence[Event]) -> None:
        pass


class Replica:
    """One auth replica in this process: its own engine (connection pool) on the shared database."""

    def __init__(self, url: str, clock: Clock) -> None:
        self.engine: AsyncEngine = db.create_engine_for(url)
        material = PemKeyMaterial()
        self.ring = SigningKeyRing(material, SCHEDULE, clock=clock)
        self.store = SqlSigningKeyStore(self.engine)
        self.keys = SigningKeyManager(self.store, material, self.ring, SCHEDULE, clock=clock)
        self.verifier = TokenVerifier("xuc", clock=clock)
        self.ring.watch(self.verifier.set_keys)  # as services/auth/__main__.py wires it
        self.service = AuthService(lambda: SqlAuthUnitOfWork(self.engine), Argon2Hasher(),
                                   JwtIssuer(self.ring, "xuc", TTL), NoEvents(), clock=clock)

    async def check(self, token: str) -> str:
        """What the Check RPC does: verify locally, then issue a new token."""
        return (await self.service.refresh(self.verifier.verify(token))).token

    def published(self) -> list[str]:
        return [kid for kid, _ in self.ring.published()]


@pytest.fixture
async def database(database_factory: DatabaseFactory) -> TestDatabase:
    created = database_factory.create()
    await db.migrate(created.url, MIGRATIONS, version_table=VERSION_TABLE)
    return created


@pytest.fixture
async def replicas(database: TestDatabase) -> AsyncIterator[tuple[Replica, Replica, Clock]]:
    clock = Clock()
    one, two = Replica(database.url, clock), Replica(database.url, clock)
    try:
        yield one, two, clock
    finally:
        await one.engine.dispose()
        await two.engine.dispose()


def kid(token: str) -> str:
    return TokenVerifier.kid_of(token)


# --- replicas as service objects ---------------------------------------------------------------------
async def test_two_replicas_starting_together_create_one_key(replicas: tuple[Replica, Replica, Clock]) -> None:
    one, two, _ = replicas
    await asyncio.gather(one.keys.start(), two.keys.start())
    stored = await one.store.load()
    assert [key.period.generation for key in stored] == [1]
    assert one.published() == two.published() == [stored[0].period.kid]


async def test_a_generation_is_stored_once_whoever_writes_it(replicas: tuple[Replica, Replica, Clock]) -> None:
    one, two, _ = replicas
    plan = SCHEDULE.plan([], T0)  # both replicas read an empty table, both planned generation 1
    assert plan is not None
    keys = [PemKeyMaterial().generate() for _ in range(2)]
    added = await asyncio.gather(*(replica.store.add(StoredSigningKey(plan.period(kid), private), (), T0)
                                   for replica, (kid, private) in zip((one, two), keys, strict=True)))
    assert sorted(added) == [False, True]
    assert len(await two.store.load()) == 1


async def test_a_token_of_one_replica_verifies_at_the_other_before_and_after_a_rotation(
    replicas: tuple[Replica, Replica, Clock],
) -> None:
    one, two, clock = replicas
    await one.keys.start()
    await two.keys.start()
    login = unique_login("rot")
    await one.service.create_user(UserSpec(login=login, password="rot-pw", profile=Profile()))
    first_token = (await one.service.login(login, "rot-pw", CLIENT)).token
    assert kid(await two.check(first_token)) == kid(first_token)
    old_kid = kid(first_token)

    clock.now = T0 + ROTATION - PREPUBLICATION  # the successor is due: whichever replica reloads first
    await two.keys.refresh()
    await one.keys.refresh()
    assert len(one.published()) == len(two.published()) == 2  # published before it signs
    new_kid = one.published()[-1]
    assert two.published()[-1] == new_kid != old_kid
    clock.now = T0 + ROTATION - 1
    last_old_token = (await one.service.login(login, "rot-pw", CLIENT)).token
    assert kid(last_old_token) == old_kid

    clock.now = T0 + ROTATION  # the new key signs, on both replicas, without a reload
    new_token = await two.check(last_old_token)  # an old token still verifies, and is refreshed...
    assert kid(new_token) == new_kid  # ...with the new key
    assert kid(await one.check(new_token)) == new_kid
    assert kid((await one.service.login(login, "rot-pw", CLIENT)).token) == new_kid
    outside = _verifier_of(two, clock)
    assert outside.verify(last_old_token).login == outside.verify(new_token).login == login

    clock.now = T0 + ROTATION + TTL + GRACE  # the old key's last token has expired
    await one.keys.refresh()
    await two.keys.refresh()
    assert one.published() == two.published() == [new_kid]
    assert [key.period.kid for key in await one.store.load()] == [new_kid]  # and its private key is gone
    with pytest.raises(InvalidToken, match="unknown key"):
        _verifier_of(one, clock).verify(last_old_token)


def _verifier_of(replica: Replica, clock: Clock) -> TokenVerifier:
    """A verifier built from what the replica publishes (GetPublicKeys), as the gateway builds it."""
    issuer = JwtIssuer(replica.ring, "xuc", TTL)
    return TokenVerifier("xuc", [load_public_key(pem) for _, pem in issuer.published()], clock=clock)


async def test_a_replica_that_missed_the_prepublication_still_switches(
    replicas: tuple[Replica, Replica, Clock],
) -> None:
    one, two, clock = replicas
    await one.keys.start()
    await two.keys.start()
    new = await one.keys.rotate()
    clock.now = new.active_from + 1
    await two.keys.refresh()  # its first reload since the rotation
    assert two.ring.signing_key(clock())[0] == new.kid


# --- replicas as processes --------------------------------------------------------------------------
FAST_KEYS = {"XUC_SIGNING_KEY_PREPUBLISH_S": "2", "XUC_SIGNING_KEY_RELOAD_S": "1"}


def stub_of(channel: grpc.aio.Channel) -> auth_pb2_grpc.AuthStub:
    return auth_pb2_grpc.AuthStub(channel)


async def published_kids(stub: auth_pb2_grpc.AuthStub, token: str) -> list[str]:
    reply = await stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=(("x-xuc-service-token", token),))
    return [key.kid for key in reply.keys]


async def login(stub: auth_pb2_grpc.AuthStub, service_token: str, user: str) -> str:
    reply = await stub.Login(auth_pb2.LoginRequest(login=user, password="pw-" + user),
                             metadata=(("x-xuc-service-token", service_token),))
    return str(reply.token)


async def check(stub: auth_pb2_grpc.AuthStub, token: str) -> str:
    reply = await stub.Check(auth_pb2.CheckRequest(), metadata=(("authorization", f"Bearer {token}"),))
    return str(reply.token)


def xuc_keys(action: str, auth: ServiceProcess, data_dir: Path, expected_status: int = 0) -> str:
    """`xuc keys ACTION` against this auth process (its admin RPCs): stdout, or stderr when it fails."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("XUC_")}
    env.update({"XUC_DATA_DIR": str(data_dir), "XUC_AUTH_ADDRESS": auth.grpc_address,
                "XUC_SERVICE_TOKEN": auth.service_token})
    done = subprocess.run([str(XUC), "keys", action], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == expected_status, (done.stdout, done.stderr)
    return done.stdout if expected_status == 0 else done.stderr


async def test_auth_processes_share_keys_and_follow_a_forced_rotation(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory, tmp_path: Path,
) -> None:
    database = database_factory.create()
    # Migrated first: the race under test is the creation of the first key, not of the tables.
    await db.migrate(database.url, MIGRATIONS, version_table=VERSION_TABLE)
    token = new_service_token()

    def start() -> ServiceProcess:
        return service_launcher.start("services.auth", "auth", database_url=database.url, service_token=token,
                                      extra_env=FAST_KEYS)

    first, second = await asyncio.gather(asyncio.to_thread(start), asyncio.to_thread(start))
    async with grpc.aio.insecure_channel(first.grpc_address) as a, grpc.aio.insecure_channel(
            second.grpc_address) as b:
        one, two = stub_of(a), stub_of(b)
        kids = await published_kids(one, token)
        assert len(kids) == 1
        assert await published_kids(two, token) == kids
        user = unique_login("proc")
        await one.CreateUser(auth_pb2.CreateUserRequest(login=user, password="pw-" + user),
                             metadata=(("x-xuc-service-token", token),))
        old_token = await login(one, token, user)
        assert kid(await check(two, old_token)) == kids[0]

        listing = xuc_keys("rotate", first, tmp_path)  # through one replica; the other reloads
        assert "pending" in listing
        new_kid = listing.splitlines()[-1].split()[1]  # "key <kid> signs from ..."
        for stub in (one, two):  # published within a reload (1 s), before it signs
            await _eventually(partial(published_kids, stub, token), [kids[0], new_kid], within=5)
        await _eventually(lambda: login(two, token, user), new_kid, within=6, transform=kid)  # then signs
        for stub in (one, two):
            refreshed = await check(stub, old_token)  # tokens of the old key verify everywhere
            assert kid(refreshed) == new_kid
            assert kid(await check(one if stub is two else two, refreshed)) == new_kid
        assert "signing" in xuc_keys("list", second, tmp_path)


async def _eventually(read: Callable[[], Awaitable[T]], expected: object, within: float,
                      transform: Callable[[T], object] = lambda value: value) -> None:
    deadline = time.monotonic() + within
    while True:
        got = transform(await read())
        if got == expected or time.monotonic() > deadline:
            assert got == expected
            return
        await asyncio.sleep(0.1)


async def test_the_key_file_of_an_older_version_is_imported_with_its_kid(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory, tmp_path: Path,
) -> None:
    data_dir = tmp_path / "upgraded"
    legacy = load_or_create_signing_key(data_dir / "auth" / "signing-key.pem")  # what 1.x left there
    database = database_factory.create()
    auth = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url,
                                   data_dir=data_dir)
    async with grpc.aio.insecure_channel(auth.grpc_address) as channel:
        assert await published_kids(stub_of(channel), auth.service_token) == [key_id(legacy.public_key())]
    assert "auth_signing_keys" in database.table_names()


async def test_a_key_file_given_explicitly_signs_alone_and_nothing_is_stored(
    service_launcher: ServiceLauncher, database_factory: DatabaseFactory, tmp_path: Path,
) -> None:
    key_file = tmp_path / "secrets" / "key.pem"
    database = database_factory.create()
    auth = await asyncio.to_thread(service_launcher.start, "services.auth", "auth", database_url=database.url,
                                   extra_env={"XUC_SIGNING_KEY_FILE": str(key_file), **FAST_KEYS})
    key = load_or_create_signing_key(key_file)  # created by the service, read back here
    async with grpc.aio.insecure_channel(auth.grpc_address) as channel:
        assert await published_kids(stub_of(channel), auth.service_token) == [key_id(key.public_key())]
    for action in ("list", "rotate"):  # that key never rotates, and the table is not used
        assert xuc_keys(action, auth, tmp_path, expected_status=1).startswith(
            "xuc: SigningKeyFileInUse: XUC_SIGNING_KEY_FILE is set")
    engine = db.create_engine_for(database.url)
    try:
        assert await SqlSigningKeyStore(engine).load() == []
    finally:
        await engine.dispose()
