"""The signing key schedule (pure rules, an injected clock), the key manager over a hand-written
in-memory store, the key ring and issuer, and the verifiers' key cache against a fake auth stub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.adapters.signing import JwtIssuer, PemKeyMaterial, SigningKeyRing, public_pem
from services.auth.domain.model import Profile, User
from services.auth.domain.ports import StoredSigningKey
from services.auth.domain.signing_keys import DAY_SECONDS, KeyPeriod, KeySchedule, NewKeyPlan
from services.auth.service_layer.signing_keys import SigningKeyManager, describe
from xuc.errors import InvalidToken
from xuc.runtime import keys as key_cache
from xuc.runtime.settings import Settings, SettingsError
from xuc.security.tokens import TokenVerifier, key_id
from xucproto.auth.v1 import auth_pb2

T0 = 1_700_000_000.0
TTL = 3600.0
GRACE = 90.0
PREPUBLICATION = 3600.0
ROTATION = 30 * DAY_SECONDS
SCHEDULE = KeySchedule(rotation_age=ROTATION, prepublication=PREPUBLICATION, token_ttl=TTL, grace=GRACE)
ALICE = User("alicej", "h", Profile(), id="u-1")


def first(kid: str = "k1", at: float = T0) -> KeyPeriod:
    return KeyPeriod(kid, generation=1, created_at=at, active_from=at)


# --- the schedule: pure rules ------------------------------------------------------------------------
def test_without_keys_the_first_one_signs_at_once() -> None:
    assert SCHEDULE.plan([], T0) == NewKeyPlan(generation=1, created_at=T0, active_from=T0, retires=())
    assert SCHEDULE.signing([], T0) is None


def test_a_young_key_needs_no_successor() -> None:
    keys = [first()]
    assert SCHEDULE.signing(keys, T0) == keys[0]
    due = T0 + ROTATION - PREPUBLICATION
    assert SCHEDULE.successor_due_at(keys, T0) == due
    assert SCHEDULE.plan(keys, due - 1) is None


def test_the_successor_is_published_before_it_signs_so_each_key_signs_for_the_rotation_age() -> None:
    keys = [first()]
    due = T0 + ROTATION - PREPUBLICATION
    plan = SCHEDULE.plan(keys, due)
    assert plan == NewKeyPlan(generation=2, created_at=due, active_from=T0 + ROTATION, retires=("k1",))
    rotated = [replace(keys[0], retired_at=plan.active_from), plan.period("k2")]
    assert [key.kid for key in SCHEDULE.published(rotated, due)] == ["k1", "k2"]  # k2 known before use
    assert SCHEDULE.signing(rotated, due).kid == "k1"  # type: ignore[union-attr]
    assert SCHEDULE.pending(rotated, due).kid == "k2"  # type: ignore[union-attr]
    assert SCHEDULE.plan(rotated, due + 1) is None  # one rotation at a time
    assert SCHEDULE.plan(rotated, due + 1, force=True) is None
    assert SCHEDULE.signing(rotated, T0 + ROTATION - 1).kid == "k1"  # type: ignore[union-attr]
    assert SCHEDULE.signing(rotated, T0 + ROTATION).kid == "k2"  # type: ignore[union-attr]
    assert SCHEDULE.pending(rotated, T0 + ROTATION) is None


def test_a_retired_key_is_published_until_its_last_token_expired_then_dropped() -> None:
    retired_at = T0 + ROTATION
    keys = [replace(first(), retired_at=retired_at),
            KeyPeriod("k2", 2, created_at=retired_at - PREPUBLICATION, active_from=retired_at)]
    last_expiry = retired_at + TTL  # a token signed at the last moment k1 signed
    for now in (retired_at, last_expiry, last_expiry + GRACE - 1):
        assert [key.kid for key in SCHEDULE.published(keys, now)] == ["k1", "k2"], now
        assert SCHEDULE.droppable(keys, now) == []
    assert [key.kid for key in SCHEDULE.published(keys, last_expiry + GRACE)] == ["k2"]
    assert [key.kid for key in SCHEDULE.droppable(keys, last_expiry + GRACE)] == ["k1"]


def test_a_forced_rotation_ignores_the_age_and_the_switch_off() -> None:
    never = KeySchedule(rotation_age=0, prepublication=60, token_ttl=TTL, grace=GRACE)
    keys = [first()]
    assert never.successor_due_at(keys, T0 + 10 * ROTATION) is None
    assert never.plan(keys, T0 + 10 * ROTATION) is None
    assert never.plan(keys, T0 + 5, force=True) == NewKeyPlan(2, T0 + 5, T0 + 65, ("k1",))


def test_a_replica_whose_clock_is_behind_signs_with_the_only_key() -> None:
    keys = [first(at=T0)]
    assert SCHEDULE.signing(keys, T0 - 5) == keys[0]


def test_the_newest_active_generation_signs_whatever_the_order() -> None:
    keys = [KeyPeriod("k3", 3, T0 + 20, T0 + 30), replace(first(), retired_at=T0 + 10),
            KeyPeriod("k2", 2, T0 + 5, T0 + 10, retired_at=T0 + 30)]
    assert [SCHEDULE.signing(keys, now).kid for now in (T0, T0 + 10, T0 + 29, T0 + 30)] == [  # type: ignore[union-attr]
        "k1", "k2", "k2", "k3"]
    assert [period.kid for period, state in describe(keys, SCHEDULE, T0 + 25) if state == "pending"] == ["k3"]


@pytest.mark.parametrize(("rotation", "prepublication"), [(60.0, 60.0), (60.0, 120.0), (-1.0, 0.0)])
def test_a_schedule_that_cannot_work_is_refused(rotation: float, prepublication: float) -> None:
    with pytest.raises(ValueError, match=r"rotation age|negative"):
        KeySchedule(rotation_age=rotation, prepublication=prepublication, token_ttl=TTL, grace=GRACE)


def test_the_settings_of_the_schedule() -> None:
    defaults = Settings.from_env("auth", {})
    assert (defaults.signing_key_rotation_days, defaults.signing_key_prepublish_seconds,
            defaults.signing_key_reload_seconds, defaults.signing_key_passphrase) == (30, 3600, 30, "")
    assert defaults.signing_key_prepublish_seconds >= key_cache.MAX_AGE_SECONDS + defaults.signing_key_reload_seconds
    custom = Settings.from_env("auth", {"XUC_SIGNING_KEY_ROTATION_DAYS": "0", "XUC_SIGNING_KEY_PREPUBLISH_S": "5",
                                        "XUC_SIGNING_KEY_RELOAD_S": "1", "XUC_SIGNING_KEY_PASSPHRASE": " p "})
    assert (custom.signing_key_rotation_days, custom.signing_key_prepublish_seconds,
            custom.signing_key_reload_seconds, custom.signing_key_passphrase) == (0, 5, 1, "p")
    for env in ({"XUC_SIGNING_KEY_ROTATION_DAYS": "1", "XUC_SIGNING_KEY_PREPUBLISH_S": "86400"},
                {"XUC_SIGNING_KEY_RELOAD_S": "0"}, {"XUC_SIGNING_KEY_ROTATION_DAYS": "-1"}):
        with pytest.raises(SettingsError, match="XUC_SIGNING_KEY"):
            Settings.from_env("auth", env)


# --- the manager over an in-memory store ---------------------------------------------------------
class MemoryKeyStore:
    """The SigningKeyStore contract in memory: unique generation and kid, retire in one step."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredSigningKey] = {}
        self.loads = 0

    async def load(self) -> Sequence[StoredSigningKey]:
        self.loads += 1
        return sorted(self.rows.values(), key=lambda key: key.period.generation)

    async def add(self, key: StoredSigningKey, retires: Sequence[str], retired_at: float) -> bool:
        taken = {row.period.generation for row in self.rows.values()}
        if key.period.kid in self.rows or key.period.generation in taken:
            return False
        for kid in retires:
            row = self.rows[kid]
            if row.period.retired_at is None:
                self.rows[kid] = replace(row, period=replace(row.period, retired_at=retired_at))
        self.rows[key.period.kid] = key
        return True

    async def drop(self, kids: Sequence[str]) -> None:
        for kid in kids:
            self.rows.pop(kid, None)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Replica:
    """One auth replica's key parts: manager, ring, issuer, over a shared store and clock."""

    def __init__(self, store: MemoryKeyStore, clock: Clock, schedule: KeySchedule = SCHEDULE) -> None:
        material = PemKeyMaterial()
        self.ring = SigningKeyRing(material, schedule, clock=clock)
        self.manager = SigningKeyManager(store, material, self.ring, schedule, clock=clock)
        self.issuer = JwtIssuer(self.ring, "xuc", int(TTL))
        self.clock = clock

    def token(self) -> str:
        return self.issuer.issue(ALICE, self.clock()).token

    def verifier(self) -> TokenVerifier:
        return TokenVerifier("xuc", self.ring.public_keys(), clock=self.clock)


async def test_two_replicas_starting_together_share_one_key() -> None:
    store, clock = MemoryKeyStore(), Clock()
    one, two = Replica(store, clock), Replica(store, clock)
    await asyncio.gather(one.manager.start(), two.manager.start())
    assert len(store.rows) == 1
    token = one.token()
    assert TokenVerifier.kid_of(token) == TokenVerifier.kid_of(two.token()) == next(iter(store.rows))
    assert two.verifier().verify(token).login == "alicej"


async def test_a_replica_that_lost_the_race_for_a_generation_uses_the_winners_key() -> None:
    store, clock = MemoryKeyStore(), Clock()
    one, two = Replica(store, clock), Replica(store, clock)
    await one.manager.start()
    plan = SCHEDULE.plan([], T0)  # what `two` planned from its read before `one` inserted
    assert plan is not None
    kid, private = PemKeyMaterial().generate()
    assert not await store.add(StoredSigningKey(plan.period(kid), private), (), T0)
    await two.manager.refresh()
    assert TokenVerifier.kid_of(two.token()) == TokenVerifier.kid_of(one.token())


async def test_rotation_on_schedule_across_replicas() -> None:
    store, clock = MemoryKeyStore(), Clock()
    one, two = Replica(store, clock), Replica(store, clock)
    await one.manager.start()
    await two.manager.start()
    old_kid = TokenVerifier.kid_of(one.token())

    clock.now = T0 + ROTATION - PREPUBLICATION  # due: `two` happens to reload first
    periods = await two.manager.refresh()
    assert len(periods) == 2
    new_kid = periods[-1].kid
    await one.manager.refresh()
    for replica in (one, two):
        assert replica.issuer.published()[-1][0] == new_kid  # published before it signs
        assert TokenVerifier.kid_of(replica.token()) == old_kid

    clock.now = T0 + ROTATION - 1
    old_token = two.token()  # the old key's last tokens
    assert TokenVerifier.kid_of(old_token) == old_kid
    clock.now = T0 + ROTATION
    new_token = one.token()
    assert TokenVerifier.kid_of(new_token) == TokenVerifier.kid_of(two.token()) == new_kid
    verifier = two.verifier()
    assert verifier.verify(old_token).login == verifier.verify(new_token).login == "alicej"

    clock.now = T0 + ROTATION + TTL + GRACE  # every token of the old key has expired
    assert [period.kid for period in await one.manager.refresh()] == [new_kid]
    assert list(store.rows) == [new_kid]
    await two.manager.refresh()
    assert [kid for kid, _ in two.issuer.published()] == [new_kid]


async def test_a_forced_rotation_is_published_at_once_and_signs_after_the_prepublication() -> None:
    store, clock = MemoryKeyStore(), Clock()
    replica = Replica(store, clock)
    await replica.manager.start()
    old_kid = replica.issuer.kid
    new = await replica.manager.rotate()
    assert new.active_from == T0 + PREPUBLICATION
    assert await replica.manager.rotate() == new  # a rotation under way is not doubled
    assert [kid for kid, _ in replica.issuer.published()] == [old_kid, new.kid]
    assert TokenVerifier.kid_of(replica.token()) == old_kid
    clock.now = new.active_from
    assert TokenVerifier.kid_of(replica.token()) == new.kid


async def test_a_legacy_key_file_becomes_the_first_key_with_its_kid() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = PemKeyMaterial()._serialized(key)[1].encode()
    store, clock = MemoryKeyStore(), Clock()
    replica = Replica(store, clock)
    await replica.manager.start(legacy_key=pem)
    assert replica.issuer.kid == key_id(key.public_key())
    other = Replica(store, clock)
    await other.manager.start(legacy_key=PemKeyMaterial()._serialized(ec.generate_private_key(ec.SECP256R1()))[1]
                              .encode())  # the table is not empty any more: ignored
    assert other.issuer.kid == key_id(key.public_key())
    assert len(store.rows) == 1


async def test_a_reload_that_changes_nothing_decodes_nothing_and_tells_no_watcher() -> None:
    store, clock = MemoryKeyStore(), Clock()
    replica = Replica(store, clock)
    await replica.manager.start()
    told: list[list[ec.EllipticCurvePublicKey]] = []
    replica.ring.watch(told.append)
    key_object = replica.ring.signing_key(clock())[1]
    await replica.manager.refresh()
    assert replica.ring.signing_key(clock())[1] is key_object
    assert len(told) == 1
    await replica.manager.rotate()
    assert [len(keys) for keys in told] == [1, 2]


async def test_keep_fresh_survives_a_failing_store() -> None:
    class Failing(MemoryKeyStore):
        async def load(self) -> Sequence[StoredSigningKey]:
            self.loads += 1
            raise OSError("database away")

    store = Failing()
    replica = Replica(store, Clock())
    task = asyncio.create_task(replica.manager.keep_fresh(0.01))
    await until(lambda: store.loads >= 2)  # it tried again after a failure
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- key material ---------------------------------------------------------------------------------
def test_keys_are_stored_encrypted_with_a_passphrase_and_plain_ones_still_read() -> None:
    secret = PemKeyMaterial("correct horse")
    kid, stored = secret.generate()
    assert stored.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key_id(secret.decode(stored).public_key()) == kid
    with pytest.raises(ValueError, match="XUC_SIGNING_KEY_PASSPHRASE"):
        PemKeyMaterial().decode(stored)
    with pytest.raises(ValueError, match=r"[Bb]ad decrypt|[Ii]ncorrect password"):
        PemKeyMaterial("wrong").decode(stored)
    plain_kid, plain = PemKeyMaterial().generate()
    assert plain.startswith("-----BEGIN PRIVATE KEY-----")
    assert key_id(secret.decode(plain).public_key()) == plain_kid


def test_a_key_of_another_curve_is_not_adopted() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    pem = p384.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    with pytest.raises(ValueError, match="P-256"):
        PemKeyMaterial().adopt(pem)


# --- the verifiers' cache ----------------------------------------------------------------------------
class FakeAuthStub:
    """GetPublicKeys answering whatever key set the test publishes."""

    def __init__(self, keys: Sequence[ec.EllipticCurvePrivateKey]) -> None:
        self.keys = list(keys)
        self.calls = 0

    async def GetPublicKeys(self, request: object, **_: object) -> auth_pb2.PublicKeySet:
        self.calls += 1
        return auth_pb2.PublicKeySet(issuer="xuc", keys=[
            auth_pb2.PublicKey(kid=key_id(key.public_key()), algorithm="ES256", pem=public_pem(key))
            for key in self.keys])


async def test_the_cache_refreshes_on_an_unknown_kid_at_most_every_interval() -> None:
    old, new, forged = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    stub, clock = FakeAuthStub([old]), Clock(0.0)
    cache = key_cache.PublicKeyCache(stub, "service-token", "xuc", clock=clock)  # type: ignore[arg-type]
    await cache.refresh()
    stub.keys = [old, new]
    token = JwtIssuer(new, "xuc", 60).issue(ALICE, time.time()).token
    clock.now = key_cache.REFRESH_INTERVAL_SECONDS - 1
    with pytest.raises(InvalidToken, match="unknown key"):
        await cache.verify(token)  # refreshed too recently: not asked again
    assert stub.calls == 1
    clock.now = key_cache.REFRESH_INTERVAL_SECONDS
    assert (await cache.verify(token)).login == "alicej"
    assert stub.calls == 2
    forged_token = JwtIssuer(forged, "xuc", 60).issue(ALICE, time.time()).token
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await cache.verify(forged_token)
    assert stub.calls == 2  # refreshed a moment ago: a burst of unknown kids costs auth nothing
    clock.now += key_cache.REFRESH_INTERVAL_SECONDS
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await cache.verify(forged_token)
    assert stub.calls == 3  # one refresh per interval at most
    assert cache.kids == (key_id(old.public_key()), key_id(new.public_key()))


async def test_the_cache_follows_the_published_set_in_the_background() -> None:
    old, new = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    stub = FakeAuthStub([old])
    cache = key_cache.PublicKeyCache(stub, "service-token", "xuc", max_age=0.02)  # type: ignore[arg-type]
    await cache.wait_until_loaded(1.0)
    try:
        stub.keys = [old, new]  # a key pre-published
        await until(lambda: cache.verifier.knows(key_id(new.public_key())))  # synchronous verifiers learn it too
        stub.keys = [new]  # the old one retired and dropped
        await until(lambda: not cache.verifier.knows(key_id(old.public_key())))
    finally:
        await cache.close()
    # Closed: no task is left that could refresh again (proven on the loop, not by waiting a while).
    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
