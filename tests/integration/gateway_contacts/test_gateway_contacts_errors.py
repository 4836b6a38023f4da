"""The contacts service's errors as the gateway answers them: the documented answer for every status
and reason, a valid token wanted before any call, and a contacts service that is down.
"""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest

from tests.support.fake_contacts_service import (
    BASE,
    CONTACT_ID,
    EXPORT,
    FULL,
    IMPORT,
    PERSONAL,
    QUALIFICATION,
    TYPO_QUALIFICATION,
    FakeContacts,
    Gateway,
    S,
    assert_error,
    start_gateway,
)
from tests.support.ports import free_port
from tests.support.processes import ServiceLauncher, ServiceProcess
from xuc.runtime.grpc_client import RETRY_POLICY, RETRYABLE_METHODS
from xucproto.contacts.v1 import contacts_pb2

# --- personal contacts: errors of the service -----------------------------------------------------
CONTACT_CALLS = [
    ("ListContacts", "GET", PERSONAL, None),
    ("GetContact", "GET", f"{PERSONAL}/{CONTACT_ID}", None),
    ("CreateContact", "POST", PERSONAL, FULL),
    ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL),
    ("DeleteContact", "DELETE", f"{PERSONAL}/{CONTACT_ID}", None),
    ("DeleteAllContacts", "DELETE", PERSONAL, None),
    ("ExportContacts", "GET", EXPORT, None),
]


@pytest.mark.parametrize(
    ("rpc", "method", "path", "body", "status", "reason", "expected"),
    [
        ("GetContact", "GET", f"{PERSONAL}/{CONTACT_ID}", None, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("DeleteContact", "DELETE", f"{PERSONAL}/{CONTACT_ID}", None, S.NOT_FOUND, "ContactNotFound",
         (404, "ContactNotFound")),
        ("CreateContact", "POST", PERSONAL, FULL, S.ALREADY_EXISTS, "DuplicateContact", (409, "DuplicateContact")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.ALREADY_EXISTS, "DuplicateContact",
         (409, "DuplicateContact")),
        ("CreateContact", "POST", PERSONAL, FULL, S.INVALID_ARGUMENT, "InvalidContact", (400, "InvalidContact")),
        ("CreateContact", "POST", PERSONAL, FULL, S.INVALID_ARGUMENT, "InvalidIdempotencyKey",
         (400, "InvalidIdempotencyKey")),
        ("CreateContact", "POST", PERSONAL, FULL, S.ALREADY_EXISTS, "IdempotencyKeyReused",
         (422, "IdempotencyKeyReused")),
        ("UpdateContact", "PUT", f"{PERSONAL}/{CONTACT_ID}", FULL, S.INVALID_ARGUMENT, "InvalidContact",
         (400, "InvalidContact")),
        ("ListContacts", "GET", PERSONAL, None, S.UNAUTHENTICATED, "TokenExpired", (401, "TokenExpired")),
        ("ListContacts", "GET", PERSONAL, None, S.UNAVAILABLE, "", (503, "Unreachable")),
        ("DeleteAllContacts", "DELETE", PERSONAL, None, S.INTERNAL, "NotHandledError", (500, "NotHandledError")),
        ("ExportContacts", "GET", EXPORT, None, S.UNAVAILABLE, "", (503, "Unreachable")),
        ("ExportContacts", "GET", EXPORT, None, S.INTERNAL, "", (500, "NotHandledError")),
    ],
)
def test_the_services_errors_become_the_documented_answers(
    api: httpx.Client, fake: FakeContacts, rpc: str, method: str, path: str, body: dict[str, str] | None,
    status: grpc.StatusCode, reason: str, expected: tuple[int, str],
) -> None:
    fake.fail(rpc, status, reason, "the service's own words")

    message = assert_error(api.request(method, path, json=body), *expected)

    if expected[0] < 500:
        assert message == "the service's own words"
    else:
        assert "own words" not in message  # a 5xx never carries internals
    if status == S.UNAVAILABLE and rpc in RETRYABLE_METHODS[contacts_pb2.DESCRIPTOR.services_by_name[
            "PersonalContacts"].full_name]:
        # A safe call is tried again (another replica may answer) before the gateway gives up.
        assert [call.method for call in fake.received] == [rpc] * RETRY_POLICY["maxAttempts"]
    else:
        assert fake.only(rpc)


@pytest.mark.parametrize(("rpc", "method", "path", "body"), [
    *CONTACT_CALLS,
    ("ImportContacts", "POST", IMPORT, None),
    ("ListQueueQualifications", "GET", f"{QUALIFICATION}/queue/1", None),
    ("CreateAnswer", "POST", QUALIFICATION, {"sub_qualification_id": 1, "time": "2018-03-21 17:00:00", "queue": 1,
                                             "agent": 1}),
    ("ExportAnswers", "GET", f"{QUALIFICATION}/csv/1/2018-01-01/2018-02-01", None),
    ("ExportAnswers", "GET", f"{TYPO_QUALIFICATION}/csv/1/2018-01-01/2018-02-01", None),
])
def test_every_route_wants_a_valid_token_before_any_call(gateway: Gateway, fake: FakeContacts, rpc: str, method: str,
                                                         path: str, body: dict[str, Any] | None) -> None:
    fake.reset()
    with httpx.Client(base_url=gateway.url, timeout=15.0) as client:
        assert_error(client.request(method, path, json=body), 401, "AuthorizationHeaderNotFound")
        assert_error(client.request(method, path, json=body, headers={"X-Auth-Token": "not.a.token"}),
                     401, "InvalidToken")
        assert_error(client.request(method, path, json=body, headers={"Authorization": "Basic eDp5"}),
                     401, "BearerNotFound")

    assert fake.received == []


# --- a contacts service that is down --------------------------------------------------------------
def test_a_contacts_service_that_is_down_is_unreachable_and_auth_still_answers(
    launcher: ServiceLauncher, auth: ServiceProcess, gateway: Gateway,
) -> None:
    port = free_port()  # a port nobody listens on once closed
    url = start_gateway(launcher, auth, f"127.0.0.1:{port}", "gateway-no-contacts")

    with httpx.Client(base_url=url, headers={"X-Auth-Token": gateway.tokens["gw.alice"]}, timeout=15.0) as client:
        assert client.get("/health/ready").status_code == 200
        assert_error(client.get(PERSONAL), 503, "Unreachable")
        assert_error(client.get(EXPORT), 503, "Unreachable")
        assert_error(client.post(IMPORT, content=b"lastname\nDoe\n"), 503, "Unreachable")
        assert_error(client.get(f"{QUALIFICATION}/queue/1"), 503, "Unreachable")
        assert_error(client.get(f"{TYPO_QUALIFICATION}/csv/1/2018-01-01/2018-02-01"), 503, "Unreachable")
        assert client.get(f"{BASE}/auth/check").status_code == 200
