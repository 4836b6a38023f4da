"""Secrets never appear in logs or events.

A stack started by `xuc up` with the most talkative logs (DEBUG, JSON: every `extra` field is
written) goes through a representative flow: provisioning with passwords, password logins right
and wrong, token checks and refreshes, single sign-on attempts with tickets and tokens, contacts
created and imported, the 1.0 `connect` with a password, forged and broken tokens. Then the whole
output of `xuc up` (every component's log, relayed), the output of the commands run, and every
message of every JetStream stream (payloads and headers) are searched for each secret: the
passwords, every token issued, the SSO credentials sent, the service token, the signing key and
the NATS passwords.

CAS and OpenID Connect are configured, against the test's own CAS server and OIDC issuer
(tests/support/cas_server.py, oidc_issuer.py), so their tickets and tokens go through real
validations: one that succeeds, and failing ones that reach the provider (the CAS server checks
the ticket; the OIDC provider fetches the issuer's keys to check the token).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.conftest import BASE, Stack, assert_error, assert_token_answer
from tests.support.background import BackgroundLoop
from tests.support.cas_server import CasServer
from tests.support.oidc_issuer import LocalIssuer

PASSWORD = "Pa55-w0rd-of-alice-7f3a9c"
WRONG_PASSWORD = "Wr0ng-guess-of-mallory-51bd"
V1_PASSWORD = "Pa55-w0rd-of-bob-c0ffee"
CAS_TICKET = "ST-1-cas-ticket-secret-9e8d7c"
OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJvaWRjLXNlY3JldCI6MX0.oidc-signature-secret-4b5c"
KERBEROS_TOKEN = base64.b64encode(b"kerberos-secret-token-bytes-a1b2c3").decode()
CAS_SERVICE = "https://app.example"
OIDC_AUDIENCE = "xuc"
COMPONENTS = ("auth", "telephony", "contacts", "gateway")


@dataclass
class Providers:
    cas: CasServer
    oidc: LocalIssuer


@pytest.fixture(scope="module")
def providers() -> Iterator[Providers]:
    with BackgroundLoop() as loop:
        cas, oidc = CasServer(prefix="/cas"), LocalIssuer(prefix="/realms/secrets")
        loop.run(cas.start())
        loop.run(oidc.start())
        try:
            yield Providers(cas, oidc)
        finally:
            loop.run(cas.stop())
            loop.run(oidc.stop())


@pytest.fixture(scope="module")
def talkative(tmp_path_factory: pytest.TempPathFactory, providers: Providers) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("secrets")
    key_file = root / "signing-key.pem"
    key_file.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
    stack = Stack(root, extra_env={
        "XUC_LOG_LEVEL": "DEBUG",
        "XUC_LOG_FORMAT": "json",
        "XUC_SIGNING_KEY_FILE": str(key_file),
        "DEPRECATED_API_HOST": "127.0.0.1",
        "XUC_CAS_SERVER_URL": providers.cas.url,
        "XUC_OIDC_ISSUER": providers.oidc.url,
        "XUC_OIDC_AUDIENCE": OIDC_AUDIENCE,
    }).start()
    try:
        yield stack
    except BaseException:
        stack.kill()
        raise
    if stack.process is not None:
        stack.stop()


def key_secrets(path: Path) -> list[str]:
    """The signing key as it could leak: its PEM text (each base64 line), its private number."""
    pem = path.read_text()
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    number = key.private_numbers().private_value
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return [body, *[line for line in pem.splitlines() if len(line) >= 32 and not line.startswith("-----")],
            str(number), f"{number:x}", f"{number:064x}",
            base64.urlsafe_b64encode(number.to_bytes(32, "big")).decode().rstrip("=")]


async def stored_events(url: str) -> list[bytes]:
    """Every message of every JetStream stream: its subject, headers and payload, as bytes."""
    connection = await nats.connect(url)
    try:
        js = connection.jetstream()
        found: list[bytes] = []
        for info in await js.streams_info():
            for sequence in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
                try:
                    message = await js.get_msg(info.config.name, sequence)
                except nats.js.errors.NotFoundError:
                    continue  # deleted
                headers = b"".join(f"{name}: {value}\n".encode() for name, value in (message.headers or {}).items())
                found.append((message.subject or "").encode() + b"\n" + headers + (message.data or b""))
        return found
    finally:
        await connection.close()


def levels_by_component(log: str) -> dict[str, set[str]]:
    """The levels of the JSON records `xuc up` relayed from each component (`<name> | {...}` lines)."""
    levels: dict[str, set[str]] = {}
    for line in log.splitlines():
        name, separator, text = line.partition(" | ")
        if separator and text.startswith("{"):
            levels.setdefault(name.strip(), set()).add(json.loads(text)["level"])
    return levels


def test_no_secret_reaches_a_log_or_an_event(talkative: Stack, providers: Providers) -> None:
    stack = talkative
    cas, oidc = providers.cas, providers.oidc
    outputs = []
    users = stack.write_file("secret-users.yaml", {"users": [
        {"login": "alice.s", "password": PASSWORD, "line": "1301"},
        {"login": "bob.s", "password": V1_PASSWORD, "line": "1302"},
    ]})
    provisioned = stack.xuc("provision", str(users))
    outputs += [provisioned.stdout, provisioned.stderr]
    listed = stack.xuc("user", "list")
    outputs += [listed.stdout, listed.stderr]
    tokens: list[str] = []

    with httpx.Client(base_url=stack.url, timeout=30.0) as http:
        # password logins, right and wrong
        login = http.post(f"{BASE}/auth/login", json={"login": "alice.s", "password": PASSWORD,
                                                      "softwareType": "webBrowser"})
        assert login.status_code == 200, login.text
        tokens.append(login.json()["token"])
        assert_error(http.post(f"{BASE}/auth/login", json={"login": "alice.s", "password": WRONG_PASSWORD}),
                     401, "InvalidCredentials")
        assert_error(http.post(f"{BASE}/auth/login", json={"login": "nobody.s", "password": WRONG_PASSWORD}),
                     401, "InvalidCredentials")
        # token checks: refreshed, then a tampered and a truncated copy
        user = {"X-Auth-Token": tokens[0]}
        check = http.get(f"{BASE}/auth/check", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert check.status_code == 200, check.text
        tokens.append(check.json()["token"])
        assert_error(http.get(f"{BASE}/auth/check", headers={"X-Auth-Token": tokens[1][:-3] + "AAA"}), 401,
                     "InvalidToken")
        assert_error(http.get(f"{BASE}/auth/check", headers={"X-Auth-Token": tokens[1][:-20]}), 401, "InvalidToken")
        # single sign-on: CAS, a ticket the CAS server refuses, then one it validates
        assert_error(http.get(f"{BASE}/auth/cas", params={"service": CAS_SERVICE, "ticket": CAS_TICKET}), 401,
                     "CasServerInvalidTicket")
        assert CAS_TICKET in [request.ticket for request in cas.requests], "the ticket reached the CAS server"
        good_ticket = cas.issue_ticket("alice.s", CAS_SERVICE)
        tokens.append(assert_token_answer(
            http.get(f"{BASE}/auth/cas", params={"service": CAS_SERVICE, "ticket": good_ticket}), "alice.s"))
        # OpenID Connect: a malformed token, one signed by the issuer for another audience, a good one
        assert_error(http.get(f"{BASE}/auth/oidc", params={"token": OIDC_TOKEN}), 401, "OidcAuthenticationFailed")
        assert_error(http.get(f"{BASE}/auth/oidc", headers={"Authorization": f"Bearer {OIDC_TOKEN}"}), 401,
                     "OidcAuthenticationFailed")
        other_audience = oidc.sign(oidc.claims(preferred_username="alice.s", aud="other", azp="other"))
        assert_error(http.get(f"{BASE}/auth/oidc", params={"token": other_audience}), 401,
                     "OidcAuthenticationFailed")
        good_oidc = oidc.sign(oidc.claims(preferred_username="alice.s", aud=OIDC_AUDIENCE))
        tokens.append(assert_token_answer(
            http.get(f"{BASE}/auth/oidc", headers={"Authorization": f"Bearer {good_oidc}"}), "alice.s"))
        # Kerberos is not configured: a garbage token
        assert_error(http.get(f"{BASE}/auth/sso", headers={"Authorization": f"Negotiate {KERBEROS_TOKEN}"}), 401,
                     "SsoAuthenticationFailed")
        # contacts: created, listed, imported, exported, with the token in either header
        assert http.post(f"{BASE}/contact/personal", json={"lastname": "Doe", "number": "1111"},
                         headers=user).status_code == 201
        assert http.get(f"{BASE}/contact/personal", headers={"Authorization": f"Bearer {tokens[1]}"}
                        ).status_code == 200
        imported = http.post(f"{BASE}/contact/import/personal", headers={**user, "Content-Type": "text/csv"},
                             content=b"lastname,number\nRoe,2222\n,\nBroken,\"unterminated\n")
        assert imported.status_code == 201, imported.text
        assert http.get(f"{BASE}/contact/export/personal", headers=user).status_code == 200
        # the 1.0 API's password check, right and wrong
        assert http.post("/xuc/api/1.0/connect/avencall.com/bob.s/", json={"password": V1_PASSWORD}).status_code == 200
        assert_error(http.post("/xuc/api/1.0/connect/avencall.com/bob.s/", json={"password": WRONG_PASSWORD}),
                     401, "InvalidCredentials")
        # a user token where a service token is expected never works either, and is not logged
        assert http.get(f"{BASE}/contact/personal", headers={"X-Auth-Token": stack.service_token()}
                        ).status_code == 401

    events = asyncio.run(stored_events(stack.nats_url()))
    assert any(b"alice.s" in event for event in events), "the flow should have published events"
    stack.stop()  # every component has flushed its log
    log = stack.log_path.read_text(errors="replace")
    levels = levels_by_component(log)
    assert all("debug" in levels.get(component, set()) for component in COMPONENTS), \
        f"every component should log at DEBUG in JSON: {levels}"

    secrets = {
        "password": PASSWORD, "wrong password": WRONG_PASSWORD, "1.0 password": V1_PASSWORD,
        "CAS ticket": CAS_TICKET, "OIDC token": OIDC_TOKEN, "Kerberos token": KERBEROS_TOKEN,
        "validated CAS ticket": good_ticket, "OIDC token of another audience": other_audience,
        "OIDC token of another audience (signature)": other_audience.rpartition(".")[2],
        "validated OIDC token": good_oidc, "validated OIDC token (signature)": good_oidc.rpartition(".")[2],
        "service token": stack.service_token(),
        **{f"NATS password of {user}": stack.nats_login(user)["password"]
           for user in (*COMPONENTS, "subscriber")},
        **{f"token {number}": token for number, token in enumerate(tokens)},
        # a token's signature alone is as good as a leak of the token
        **{f"token {number} signature": token.rpartition(".")[2] for number, token in enumerate(tokens)},
        **{f"signing key ({number})": text
           for number, text in enumerate(key_secrets(Path(stack.extra_env["XUC_SIGNING_KEY_FILE"])))},
    }
    places = {"xuc up output (every component's log)": log, "command output": "\n".join(outputs)}
    places.update({f"event {number}": event.decode("utf-8", errors="replace") for number, event in enumerate(events)})
    leaks = [f"{name} in {place}" for name, secret in secrets.items() for place, text in places.items()
             if secret in text]
    assert leaks == []
