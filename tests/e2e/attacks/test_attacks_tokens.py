"""Tokens and ids that are not the caller's, through `xuc up` over real sockets.

Tokens: expired, not yet valid, of another issuer (all signed with the deployment's own key), and
forgeries (conftest.forge's: `alg: none`, HS256 keyed with the public key or a secret, another
deployment's key, tampered claims, an unknown or no `kid`, a truncated signature) on every
authenticated operation (every one with `security` in gateway/openapi.yaml, `/auth/check` included,
path parameters filled with the victim's real contact id and the provisioned queue), in either
header: the documented 401 `InvalidToken`, changing nothing. Another user's contact ids, in the
path or in the body: not found, changing nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.attacks.attack_stack import (
    CSV_HEADER,
    OPENAPI,
    PERSONAL,
    PUSH,
    QUEUE_ID,
    AttackStack,
    contacts_of,
    export_rows,
    forged,
)
from tests.e2e.conftest import BASE, assert_error

# Every forgery of conftest.forge (test_check.FORGERIES) but "hs256-with-the-public-key", which reads
# the key from auth.db, replaced by the same forgery keyed with this stack's key file.
FORGERIES = ["alg-none", "alg-none-with-signature", "hs256-keyed-with-the-public-key", "hs256-with-a-secret",
             "es256-with-another-key", "es256-with-another-key-and-a-longer-life", "tampered-login",
             "tampered-expiry", "unknown-kid", "unknown-kid-signed-with-our-key", "no-kid", "truncated-signature"]


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
