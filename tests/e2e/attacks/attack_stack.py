"""Parts of the attack tests: the stack they attack (the default body limit, a signing key of their
own, a victim and a mallory provisioned) and the tokens and requests they forge.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.app import load_openapi
from tests.e2e.conftest import BASE, Stack, b64url, forge, jwt_parts

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


def signing_key(stack: Stack) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(Path(stack.extra_env["XUC_SIGNING_KEY_FILE"]).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def token_of(stack: Stack, login: str) -> str:
    response = httpx.post(f"{stack.url}{LOGIN}", json={"login": login, "password": USERS[login][0]})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


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


OPENAPI = load_openapi()


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
