"""User tokens: issued by the auth service (JwtIssuer), verified anywhere (TokenVerifier)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from services.auth.adapters.signing import JwtIssuer, load_or_create_signing_key
from services.auth.domain.model import Profile, User
from xuc.errors import InvalidToken, TokenExpired
from xuc.security.tokens import ALGORITHM, REQUIRED_CLAIMS, TokenVerifier, key_id, load_public_key

ISSUER = "xuc"
TTL = 600
KEY = ec.generate_private_key(ec.SECP256R1())  # one key for the module: generating is the slow part
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
ALICE = User("alice", "hash:irrelevant", Profile(firstname="Alice"))


class Clock:
    """A clock the test moves; starts at the real time, since PyJWT also looks at the real clock."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims_for(user: User, now: float, ttl: int = TTL, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": user.id, "login": user.login, "iat": int(now), "exp": int(now) + ttl,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return claims


def signed(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey = KEY, kid: str | None = None) -> str:
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid or key_id(key.public_key())})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer() -> JwtIssuer:
    return JwtIssuer(KEY, ISSUER, TTL)


@pytest.fixture
def verifier(clock: Clock) -> TokenVerifier:
    return TokenVerifier(ISSUER, [KEY.public_key()], clock=clock)


# --- issue, then verify --------------------------------------------------------------------
def test_an_issued_token_verifies(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    issued = issuer.issue(ALICE, clock.now)
    claims = verifier.verify(issued.token)
    assert claims.user_id == ALICE.id
    assert claims.login == "alice"
    assert claims.issued_at == int(clock.now)
    assert claims.expires == int(clock.now) + TTL == issued.expires
    assert len(claims.token_id) >= 16
    assert issued.login == "alice"
    assert issued.ttl == TTL


def test_the_token_carries_the_documented_claims_and_header(issuer: JwtIssuer, clock: Clock) -> None:
    issued = issuer.issue(ALICE, clock.now)
    header = jwt.get_unverified_header(issued.token)
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert header["alg"] == "ES256"
    assert header["kid"] == issuer.kid == key_id(KEY.public_key())
    assert set(REQUIRED_CLAIMS) <= set(payload)
    assert payload["iss"] == ISSUER
    assert payload["sub"] == ALICE.id
    assert payload["login"] == "alice"
    assert payload["expires"] == payload["exp"] == payload["iat"] + TTL
    assert "password" not in json.dumps(payload)
    assert ALICE.password_hash not in json.dumps(payload)


def test_every_token_has_its_own_id(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    first, second = issuer.issue(ALICE, clock.now), issuer.issue(ALICE, clock.now)
    assert first.token != second.token
    assert verifier.verify(first.token).token_id != verifier.verify(second.token).token_id


def test_the_published_public_key_verifies(issuer: JwtIssuer, clock: Clock) -> None:
    public_key = load_public_key(issuer.public_pem())
    assert key_id(public_key) == issuer.kid
    verifier = TokenVerifier(ISSUER, [public_key], clock=clock)
    assert verifier.knows(issuer.kid)
    assert verifier.verify(issuer.issue(ALICE, clock.now).token).login == "alice"


def test_load_public_key_refuses_another_curve() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="P-256"):
        load_public_key(pem.decode())


# --- expiry -----------------------------------------------------------------------------------
def test_an_expired_token_is_refused(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    issued = issuer.issue(ALICE, clock.now)
    clock.now += TTL + 1
    with pytest.raises(TokenExpired):
        verifier.verify(issued.token)


def test_a_token_expires_at_its_exp_second(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    issued = issuer.issue(ALICE, clock.now)
    clock.now = issued.expires - 0.001
    verifier.verify(issued.token)
    fresh_verifier = TokenVerifier(ISSUER, [KEY.public_key()], clock=lambda: float(issued.expires))
    with pytest.raises(TokenExpired):
        fresh_verifier.verify(issued.token)


def test_a_token_that_expired_by_the_real_clock_is_refused(issuer: JwtIssuer, verifier: TokenVerifier) -> None:
    issued = issuer.issue(ALICE, time.time() - 2 * TTL)
    with pytest.raises(TokenExpired):
        verifier.verify(issued.token)


def test_the_injected_clock_alone_decides_expiry(issuer: JwtIssuer) -> None:
    issued = issuer.issue(ALICE, 1_000_000.0)  # long ago by the real clock
    verifier = TokenVerifier(ISSUER, [KEY.public_key()], clock=lambda: 1_000_010.0)
    assert verifier.verify(issued.token).login == "alice"


# --- forgeries and damage -----------------------------------------------------------------------
def test_an_unsigned_alg_none_token_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": key_id(KEY.public_key())}
    token = f"{segment(header)}.{segment(claims_for(ALICE, clock.now))}."
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_hs256_signed_with_the_public_key_as_secret_is_refused(
    issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    # The classic algorithm confusion: a verifier that let the token pick HS256 would check this
    # HMAC with the (public) PEM as the secret, and accept it.
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    signing_input = f"{segment(header)}.{segment(claims_for(ALICE, clock.now))}"
    mac = hmac.new(issuer.public_pem().encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{signing_input}.{b64(mac)}")


def test_a_token_signed_by_another_key_under_our_kid_is_refused(
    issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    forged = signed(claims_for(ALICE, clock.now), key=OTHER_KEY, kid=issuer.kid)
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_a_tampered_payload_is_refused(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    header, payload, signature = issuer.issue(ALICE, clock.now).token.split(".")
    claims = json.loads(unb64(payload))
    claims["login"] = "admin"
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{segment(claims)}.{signature}")


def test_a_token_with_an_unknown_kid_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    other_issuer = JwtIssuer(OTHER_KEY, ISSUER, TTL)
    assert not verifier.knows(other_issuer.kid)
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(other_issuer.issue(ALICE, clock.now).token)


def test_a_token_without_kid_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    token = jwt.encode(claims_for(ALICE, clock.now), KEY, algorithm=ALGORITHM)
    with pytest.raises(InvalidToken, match="no key id"):
        verifier.verify(token)


def test_a_token_from_another_issuer_is_refused(verifier: TokenVerifier, clock: Clock) -> None:
    token = JwtIssuer(KEY, "someone-else", TTL).issue(ALICE, clock.now).token
    with pytest.raises(InvalidToken):
        verifier.verify(token)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_token_missing_a_required_claim_is_refused(claim: str, verifier: TokenVerifier, clock: Clock) -> None:
    claims = claims_for(ALICE, clock.now)
    del claims[claim]
    with pytest.raises(InvalidToken):
        verifier.verify(signed(claims))


@pytest.mark.parametrize(
    "changes",
    [{"login": ""}, {"login": 42}, {"login": None}, {"sub": ""}, {"sub": 7}, {"jti": ""}, {"iat": "yesterday"},
     {"exp": "tomorrow"}],
)
def test_a_token_with_a_claim_of_the_wrong_type_is_refused(
    changes: dict[str, Any], verifier: TokenVerifier, clock: Clock
) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(signed(claims_for(ALICE, clock.now, **changes)))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "a.b.c",
        "...",
        "eyJhbGciOiJFUzI1NiJ9",
        "eyJhbGciOiJFUzI1NiJ9.e30.",
        f"{b64(b'[1, 2]')}.{segment({})}.x",  # a header that is JSON, but not an object
        f"{b64(b'not json')}.{segment({})}.x",
        "Bearer abc.def.ghi",
        "ü.ö.ä",
        f"{b64(b'[' * 5000)}.{segment({})}.x",  # JSON nested 5,000 deep: a RecursionError, and a 500, once
        b64(b'{"a":' * 5000) + f".{segment({})}.x",
    ],
)
def test_garbage_is_an_invalid_token(garbage: str, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(garbage)


@given(st.text())
def test_any_text_is_refused_as_an_invalid_token(text: str) -> None:
    verifier = TokenVerifier(ISSUER, [KEY.public_key()])
    with pytest.raises(InvalidToken):
        verifier.verify(text)


_SIGNED = JwtIssuer(KEY, ISSUER, 3600).issue(User("alicej", "h", Profile(), id="u-1"), time.time())


@given(st.integers(min_value=0), st.characters(codec="ascii"))
def test_a_token_changed_anywhere_is_refused(position: int, replacement: str) -> None:
    token = _SIGNED.token
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    verifier = TokenVerifier(ISSUER, [KEY.public_key()])
    if changed == token:
        assert verifier.verify(changed).login == "alicej"
        return
    try:
        verifier.verify(changed)
    except InvalidToken:
        return
    # base64url's last character may carry unused bits: the decoded bytes, hence the token, are the same
    assert base64.urlsafe_b64decode(changed.rpartition(".")[2] + "==") == base64.urlsafe_b64decode(
        token.rpartition(".")[2] + "=="
    )


def test_a_deeply_nested_payload_under_a_good_signature_is_an_invalid_token(verifier: TokenVerifier) -> None:
    header = segment({"alg": ALGORITHM, "kid": key_id(KEY.public_key())})
    signing_input = f"{header}.{b64(b'[' * 5000)}"
    signature = jwt.get_algorithm_by_name(ALGORITHM).sign(signing_input.encode(), KEY)
    with pytest.raises(InvalidToken, match="payload"):
        verifier.verify(f"{signing_input}.{b64(signature)}")


# --- the cache of verified tokens ----------------------------------------------------------------
class CountingVerifier(TokenVerifier):
    """Counts signature checks, to see the cache at work (the only subclassing in these tests)."""

    signature_checks = 0

    def _verify_signature(self, token: str) -> Any:
        self.signature_checks += 1
        return super()._verify_signature(token)


def test_a_verified_token_is_remembered(issuer: JwtIssuer, clock: Clock) -> None:
    verifier = CountingVerifier(ISSUER, [KEY.public_key()], clock=clock)
    token = issuer.issue(ALICE, clock.now).token
    first = verifier.verify(token)
    clock.now += 10
    assert verifier.verify(token) == first
    assert verifier.signature_checks == 1


def test_a_remembered_token_still_expires(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    issued = issuer.issue(ALICE, clock.now)
    verifier.verify(issued.token)
    clock.now = float(issued.expires)
    with pytest.raises(TokenExpired):
        verifier.verify(issued.token)
    with pytest.raises(TokenExpired):  # and again, once it has left the cache
        verifier.verify(issued.token)


def test_a_refused_token_is_not_remembered(verifier: TokenVerifier, clock: Clock) -> None:
    forged = signed(claims_for(ALICE, clock.now), key=OTHER_KEY, kid=key_id(KEY.public_key()))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)


def test_the_cache_is_bounded(issuer: JwtIssuer, clock: Clock) -> None:
    verifier = CountingVerifier(ISSUER, [KEY.public_key()], cache_size=2, clock=clock)
    tokens = [issuer.issue(ALICE, clock.now).token for _ in range(3)]
    for token in tokens:
        verifier.verify(token)
    verifier.verify(tokens[2])  # the newest is remembered
    assert verifier.signature_checks == 3
    verifier.verify(tokens[0])  # the oldest was dropped
    assert verifier.signature_checks == 4


def test_set_keys_forgets_remembered_tokens(issuer: JwtIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    token = issuer.issue(ALICE, clock.now).token
    verifier.verify(token)
    verifier.set_keys([OTHER_KEY.public_key()])  # our key was withdrawn
    assert not verifier.knows(issuer.kid)
    with pytest.raises(InvalidToken):
        verifier.verify(token)
    verifier.set_keys([OTHER_KEY.public_key(), KEY.public_key()])
    assert verifier.verify(token).login == "alice"


def test_kid_of_reads_the_unverified_header(issuer: JwtIssuer, clock: Clock) -> None:
    assert TokenVerifier.kid_of(issuer.issue(ALICE, clock.now).token) == issuer.kid
    with pytest.raises(InvalidToken):
        TokenVerifier.kid_of("nope")


# --- the signing key file ------------------------------------------------------------------------
def test_the_signing_key_is_created_private_then_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "signing-key.pem"
    created = load_or_create_signing_key(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_suffix(".tmp").exists()
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_or_create_signing_key(path)
    assert loaded.private_numbers() == created.private_numbers()
    assert key_id(loaded.public_key()) == key_id(created.public_key())


def test_a_reloaded_key_verifies_tokens_of_the_first_run(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "signing-key.pem"
    token = JwtIssuer(load_or_create_signing_key(path), ISSUER, TTL).issue(ALICE, clock.now).token
    verifier = TokenVerifier(ISSUER, [load_or_create_signing_key(path).public_key()], clock=clock)
    assert verifier.verify(token).login == "alice"


def test_a_key_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing-key.pem"
    p384 = ec.generate_private_key(ec.SECP384R1())
    path.write_bytes(p384.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_signing_key(path)
