"""The CAS validation answer parser (services/auth/adapters/sso/cas.py): pure, no server.

The documents are those of the CAS protocol specification, built by the test CAS server's helpers
so the unit and integration tests agree on what a CAS server says.
"""

from __future__ import annotations

import pytest

from services.auth.adapters.sso.cas import MAX_MESSAGE_CHARS, parse_service_response
from services.auth.domain.errors import CAS_FAILURES, CasServerInvalidResponse, CasServerRefused
from tests.support.cas_server import failure_document, success_document

CAS = 'xmlns:cas="http://www.yale.edu/tp/cas"'


def test_success_gives_the_cas_user() -> None:
    assert parse_service_response(success_document("alicej")) == "alicej"


def test_success_user_is_trimmed() -> None:
    body = f"<cas:serviceResponse {CAS}><cas:authenticationSuccess><cas:user>\n  alicej \n</cas:user>" \
           "</cas:authenticationSuccess></cas:serviceResponse>"
    assert parse_service_response(body.encode()) == "alicej"


def test_attributes_and_proxy_granting_ticket_are_ignored() -> None:
    body = (f"<?xml version='1.0' encoding='UTF-8'?><cas:serviceResponse {CAS}><cas:authenticationSuccess>"
            "<cas:user>bob</cas:user>"
            "<cas:attributes><cas:user>not-bob</cas:user><cas:memberOf>admins</cas:memberOf></cas:attributes>"
            "<cas:proxyGrantingTicket>PGTIOU-84678-8a9d</cas:proxyGrantingTicket>"
            "</cas:authenticationSuccess></cas:serviceResponse>")
    assert parse_service_response(body.encode()) == "bob"
    assert parse_service_response(success_document("bob", {"email": "bob@example.org"})) == "bob"


@pytest.mark.parametrize(("code", "reason"), sorted(CAS_FAILURES.items()))
def test_every_failure_code_maps_to_its_documented_reason(code: str, reason: str) -> None:
    with pytest.raises(CasServerRefused) as raised:
        parse_service_response(failure_document(code, "  Ticket ST-1-abc not recognized \n "))
    assert raised.value.reason == reason
    assert raised.value.message == "Ticket ST-1-abc not recognized"


def test_the_documented_reasons() -> None:
    assert CAS_FAILURES == {
        "INVALID_REQUEST": "CasServerInvalidRequest",
        "INVALID_TICKET_SPEC": "CasServerInvalidTicketSpec",
        "UNAUTHORIZED_SERVICE_PROXY": "CasServerUnauthorizedServiceProxy",
        "INVALID_PROXY_CALLBACK": "CasServerInvalidProxyCallback",
        "INVALID_TICKET": "CasServerInvalidTicket",
        "INVALID_SERVICE": "CasServerInvalidService",
        "INTERNAL_ERROR": "CasServerInternalError",
    }


def test_failure_message_is_trimmed_and_the_ticket_hidden() -> None:
    with pytest.raises(CasServerRefused) as raised:
        parse_service_response(failure_document("INVALID_TICKET", "Ticket ST-9-secret " + "x" * 500),
                               ticket="ST-9-secret")
    assert raised.value.message.startswith("Ticket <ticket> xxx")
    assert len(raised.value.message) == MAX_MESSAGE_CHARS
    assert "ST-9-secret" not in raised.value.message


def test_failure_without_message_still_says_something() -> None:
    with pytest.raises(CasServerRefused) as raised:
        parse_service_response(failure_document("INTERNAL_ERROR", ""))
    assert raised.value.reason == "CasServerInternalError"
    assert "INTERNAL_ERROR" in raised.value.message


@pytest.mark.parametrize("code", ["NO_SUCH_CODE", "", "invalid_ticket"])
def test_unknown_failure_code_is_an_invalid_response(code: str) -> None:
    with pytest.raises(CasServerInvalidResponse, match="unknown code"):
        parse_service_response(failure_document(code, "whatever"))


def test_failure_without_code_attribute_is_an_invalid_response() -> None:
    body = f"<cas:serviceResponse {CAS}><cas:authenticationFailure>no</cas:authenticationFailure></cas:serviceResponse>"
    with pytest.raises(CasServerInvalidResponse, match="unknown code"):
        parse_service_response(body.encode())


@pytest.mark.parametrize("body", [b"", b"not xml at all", b"<html><body>Bad gateway", b"\xff\xfe\x00garbage",
                                  b'{"serviceResponse": {"authenticationSuccess": {"user": "alicej"}}}'])
def test_not_xml_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(CasServerInvalidResponse, match="not XML"):
        parse_service_response(body)


@pytest.mark.parametrize("body", [
    # another root, or the right name without the CAS namespace
    b"<html><body>Login</body></html>",
    b"<serviceResponse><authenticationSuccess><user>alicej</user></authenticationSuccess></serviceResponse>",
    b'<cas:serviceResponse xmlns:cas="http://example.org/not-cas"><cas:authenticationSuccess>'
    b"<cas:user>alicej</cas:user></cas:authenticationSuccess></cas:serviceResponse>",
])
def test_not_a_service_response_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(CasServerInvalidResponse, match="not a cas:serviceResponse"):
        parse_service_response(body)


@pytest.mark.parametrize("inner", [
    "",  # neither outcome
    "<cas:proxySuccess><cas:proxyTicket>PT-1</cas:proxyTicket></cas:proxySuccess>",
    "<cas:authenticationSuccess><cas:user>a</cas:user></cas:authenticationSuccess>"
    '<cas:authenticationFailure code="INVALID_TICKET">b</cas:authenticationFailure>',  # both
])
def test_wrong_outcome_shape_is_an_invalid_response(inner: str) -> None:
    with pytest.raises(CasServerInvalidResponse, match="exactly one"):
        parse_service_response(f"<cas:serviceResponse {CAS}>{inner}</cas:serviceResponse>".encode())


@pytest.mark.parametrize("success", [
    "<cas:authenticationSuccess></cas:authenticationSuccess>",
    "<cas:authenticationSuccess><cas:user>  </cas:user></cas:authenticationSuccess>",
    "<cas:authenticationSuccess><user>alicej</user></cas:authenticationSuccess>",
    "<cas:authenticationSuccess><cas:attributes><cas:user>x</cas:user></cas:attributes></cas:authenticationSuccess>",
])
def test_success_without_user_is_an_invalid_response(success: str) -> None:
    with pytest.raises(CasServerInvalidResponse, match="no cas:user"):
        parse_service_response(f"<cas:serviceResponse {CAS}>{success}</cas:serviceResponse>".encode())


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    ' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    ' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n'
    ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
    f"<cas:serviceResponse {CAS}><cas:authenticationSuccess><cas:user>&lol3;</cas:user>"
    "</cas:authenticationSuccess></cas:serviceResponse>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    f"<cas:serviceResponse {CAS}><cas:authenticationSuccess><cas:user>&xxe;</cas:user>"
    "</cas:authenticationSuccess></cas:serviceResponse>"
)
DTD_ONLY = (
    '<?xml version="1.0"?>\n<!DOCTYPE cas:serviceResponse SYSTEM "http://example.org/cas.dtd">\n'
    f"<cas:serviceResponse {CAS}><cas:authenticationSuccess><cas:user>alicej</cas:user>"
    "</cas:authenticationSuccess></cas:serviceResponse>"
)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DTD_ONLY], ids=["billion-laughs", "xxe", "dtd"])
def test_dtds_and_entity_declarations_are_refused(body: str) -> None:
    with pytest.raises(CasServerInvalidResponse, match="DTD or entities"):
        parse_service_response(body.encode())


def test_invalid_response_messages_never_carry_the_documents_content() -> None:
    with pytest.raises(CasServerInvalidResponse) as raised:
        parse_service_response(b"ST-1-secret-ticket-in-an-html-page", ticket="ST-1-secret-ticket-in-an-html-page")
    assert "ST-1" not in raised.value.message
    assert raised.value.reason == "CasServerInvalidResponse"
