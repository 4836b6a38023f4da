"""The auth use cases (services/auth/service_layer/auth_service.py) wired to the hand-written fakes
of tests/unit/fakes.py (`System`), and the users the tests of tests/unit/test_auth_service_*.py
start from."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.model import ClientInfo, Profile, User, UserSpec
from services.auth.service_layer.auth_service import AuthService
from tests.unit.fakes import FakeDatabase, FakeHasher, FakeUnitOfWorkFactory, RecordingPublisher
from xuc.security.tokens import TokenVerifier

KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER_NAME = "xuc"
TTL = 3600
PASSWORD = "c0rrect-h0rse!"
CLIENT = ClientInfo(address="192.0.2.10", software_type="webBrowser", application_type="ccagent")
ALICE_PROFILE = Profile(firstname="Alice", lastname="Liddell", line="1001", mobile="+33600000001")


class System:
    """The service under test and the fakes around it."""

    def __init__(self, users: list[User] | None = None, failing_logins: tuple[str, ...] = ()) -> None:
        self.now = float(int(time.time()))
        self.database = FakeDatabase(users or [], failing_logins)
        self.units = FakeUnitOfWorkFactory(self.database)
        self.hasher = FakeHasher()
        self.issuer = JwtIssuer(KEY, ISSUER_NAME, TTL)
        self.publisher = RecordingPublisher(self.database)
        self.service = AuthService(self.units, self.hasher, self.issuer, self.publisher, clock=lambda: self.now)
        self.verifier = TokenVerifier(ISSUER_NAME, [KEY.public_key()], clock=lambda: self.now)

    def user(self, login: str) -> User:
        user = self.database.by_login(login)
        assert user is not None, f"{login} is not stored"
        return user


def alice(password: str = PASSWORD, scheme: str = "hash") -> User:
    return User("alice", f"{scheme}:{password}", ALICE_PROFILE)


def spec(login: str, password: str = PASSWORD, profile: Profile = ALICE_PROFILE) -> UserSpec:
    return UserSpec(login, password, profile)


def assert_published_after_commit(system: System) -> None:
    assert system.publisher.batches, "nothing was published"
    for batch in system.publisher.batches:
        assert batch.commits_before >= 1
        assert batch.open_units == 0
