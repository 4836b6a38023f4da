"""CasProvider (services/auth/adapters/sso/cas.py) over real HTTP, against the test CAS server
(tests/support/cas_server.py), which issues and validates tickets as the CAS protocol says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.auth.adapters.sso.cas import CasProvider, parse_service_response
from services.auth.domain.errors import (
    CAS_FAILURES,
    CasServerInvalidParameter,
    CasServerInvalidResponse,
    CasServerRefused,
)
from services.auth.domain.sso import CasCredentials, KerberosCredentials, OidcCredentials
from tests.support.cas_server import CasServer, failure_document
from tests.support.ports import free_port

SERVICE = "https://xucmgt.example.org"


@pytest.fixture
async def cas() -> AsyncIterator[CasServer]:
    async with CasServer(prefix="/cas") as server:
        yield server


@pytest.fixture
async def provider(cas: CasServer) -> AsyncIterator[CasProvider]:
    provider = CasProvider(cas.url, timeout_seconds=2.0)
    yield provider
    await provider.close()


async def test_a_valid_ticket_names_its_user_through_the_path_prefix(cas: CasServer, provider: CasProvider) -> None:
    ticket = cas.issue_ticket("alicej", SERVICE, {"email": "alice@example.org"})
    identity = await provider.authenticate(CasCredentials(SERVICE, ticket))
    assert (identity.login, identity.subject, identity.mutual_token) == ("alicej", "alicej", b"")
    assert [(r.path, r.service, r.ticket) for r in cas.requests] == [("/p3/serviceValidate", SERVICE, ticket)]


async def test_protocol_2_uses_service_validate_and_login_of_maps_the_user(cas: CasServer) -> None:
    provider = CasProvider(cas.url + "/", protocol="2", login_of=lambda user: user.split("@")[0].lower())
    try:
        ticket = cas.issue_ticket("AliceJ@EXAMPLE.ORG", SERVICE)
        identity = await provider.authenticate(CasCredentials(SERVICE, ticket))
    finally:
        await provider.close()
    assert (identity.login, identity.subject) == ("alicej", "AliceJ@EXAMPLE.ORG")
    assert cas.requests[0].path == "/serviceValidate"


async def test_service_url_with_a_query_is_sent_encoded(cas: CasServer, provider: CasProvider) -> None:
    service = "https://xucmgt.example.org/login?next=/agent&x=1 2"
    ticket = cas.issue_ticket("bob", service)
    assert (await provider.authenticate(CasCredentials(service, ticket))).login == "bob"
    assert cas.requests[0].service == service


async def test_a_ticket_is_single_use(cas: CasServer, provider: CasProvider) -> None:
    ticket = cas.issue_ticket("alicej", SERVICE)
    await provider.authenticate(CasCredentials(SERVICE, ticket))
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials(SERVICE, ticket))
    assert raised.value.reason == "CasServerInvalidTicket"
    assert ticket not in raised.value.message


async def test_a_ticket_is_bound_to_its_service_and_spent_by_a_mismatch(cas: CasServer, provider: CasProvider) -> None:
    ticket = cas.issue_ticket("alicej", SERVICE)
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials("https://evil.example.org", ticket))
    assert raised.value.reason == "CasServerInvalidService"
    with pytest.raises(CasServerRefused) as again:
        await provider.authenticate(CasCredentials(SERVICE, ticket))
    assert again.value.reason == "CasServerInvalidTicket"


async def test_an_unknown_ticket_is_invalid(provider: CasProvider) -> None:
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials(SERVICE, "ST-42-never-issued"))
    assert raised.value.reason == "CasServerInvalidTicket"
    assert "not recognized" in raised.value.message


async def test_a_ticket_that_is_not_a_service_ticket_is_an_invalid_spec(provider: CasProvider) -> None:
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials(SERVICE, "PT-1-a-proxy-ticket"))
    assert raised.value.reason == "CasServerInvalidTicketSpec"


@pytest.mark.parametrize(("code", "reason"), sorted(CAS_FAILURES.items()))
async def test_each_failure_code_reaches_the_caller(cas: CasServer, provider: CasProvider, code: str,
                                                    reason: str) -> None:
    cas.fail(code, f"the server says {code}")
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))
    assert (raised.value.reason, raised.value.message) == (reason, f"the server says {code}")


async def test_an_unknown_failure_code_is_an_invalid_response(cas: CasServer, provider: CasProvider) -> None:
    cas.fail("TICKET_EATEN_BY_GRUE", "sorry")
    with pytest.raises(CasServerInvalidResponse, match="unknown code"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


async def test_a_failure_document_with_a_4xx_status_is_still_read(cas: CasServer, provider: CasProvider) -> None:
    cas.respond(failure_document("INVALID_TICKET", "expired"), status=400)
    with pytest.raises(CasServerRefused) as raised:
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))
    assert raised.value.reason == "CasServerInvalidTicket"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_an_invalid_response(cas: CasServer, provider: CasProvider, status: int) -> None:
    ticket = cas.issue_ticket("alicej", SERVICE)
    cas.respond("<html>down</html>", status=status)
    with pytest.raises(CasServerInvalidResponse, match=f"HTTP {status}") as raised:
        await provider.authenticate(CasCredentials(SERVICE, ticket))
    assert ticket not in raised.value.message


async def test_a_redirect_is_not_followed(cas: CasServer, provider: CasProvider) -> None:
    cas.respond("", status=302)
    with pytest.raises(CasServerInvalidResponse, match="redirect"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))
    assert len(cas.requests) == 1


async def test_not_xml_is_an_invalid_response(cas: CasServer, provider: CasProvider) -> None:
    cas.respond("<html><body>CAS login page", status=200)
    with pytest.raises(CasServerInvalidResponse, match="not XML"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


async def test_a_wrong_shape_is_an_invalid_response(cas: CasServer, provider: CasProvider) -> None:
    cas.respond('<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:proxySuccess/>'
                "</cas:serviceResponse>")
    with pytest.raises(CasServerInvalidResponse, match="exactly one"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


async def test_an_xml_bomb_is_refused(cas: CasServer, provider: CasProvider) -> None:
    cas.respond('<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                '<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
                "<cas:user>&b;</cas:user></cas:authenticationSuccess></cas:serviceResponse>")
    with pytest.raises(CasServerInvalidResponse, match="DTD or entities"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


async def test_an_oversized_answer_is_refused(cas: CasServer, provider: CasProvider) -> None:
    cas.respond(b"<a>" + b"x" * (1024 * 1024) + b"</a>")
    with pytest.raises(CasServerInvalidResponse, match="larger than"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


async def test_a_stalled_server_times_out(cas: CasServer) -> None:
    provider = CasProvider(cas.url, timeout_seconds=0.3)
    ticket = cas.issue_ticket("alicej", SERVICE)
    cas.stall(30.0)
    try:
        # The message is the provider's own timeout: the stall (30 s) would have ended the wait otherwise.
        with pytest.raises(CasServerInvalidResponse, match=r"did not answer within 0\.3 s") as raised:
            await provider.authenticate(CasCredentials(SERVICE, ticket))
        assert ticket not in raised.value.message
        # The session is still usable once the server answers again.
        other = cas.issue_ticket("bob", SERVICE)
        assert (await provider.authenticate(CasCredentials(SERVICE, other))).login == "bob"
    finally:
        await provider.close()


async def test_an_unreachable_server_is_an_invalid_response() -> None:
    port = free_port()  # a port that was free a moment ago: nothing listens there
    provider = CasProvider(f"http://127.0.0.1:{port}/cas", timeout_seconds=2.0)
    try:
        with pytest.raises(CasServerInvalidResponse, match="unreachable"):
            await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))
    finally:
        await provider.close()


async def test_a_stopped_server_is_an_invalid_response(cas: CasServer, provider: CasProvider) -> None:
    await cas.stop()
    with pytest.raises(CasServerInvalidResponse, match="unreachable"):
        await provider.authenticate(CasCredentials(SERVICE, "ST-1-x"))


@pytest.mark.parametrize(("service", "ticket", "missing"), [
    ("", "ST-1-x", "service"), (SERVICE, "", "ticket"), ("  ", " \t", "service and ticket"),
])
async def test_missing_parameters_make_no_request(cas: CasServer, provider: CasProvider, service: str, ticket: str,
                                                  missing: str) -> None:
    with pytest.raises(CasServerInvalidParameter, match=f"The {missing} parameter is required"):
        await provider.authenticate(CasCredentials(service, ticket))
    assert cas.requests == []


async def test_the_server_itself_answers_invalid_request_for_a_missing_parameter(cas: CasServer) -> None:
    """What the provider never sends, the test server answers as the specification says."""
    async with aiohttp.ClientSession() as session, session.get(f"{cas.url}/p3/serviceValidate",
                                                               params={"service": SERVICE}) as response:
        body = await response.read()
    with pytest.raises(CasServerRefused) as raised:
        parse_service_response(body)
    assert raised.value.reason == "CasServerInvalidRequest"


async def test_other_credentials_are_not_routed_here(provider: CasProvider) -> None:
    for credentials in (OidcCredentials("a.b.c"), KerberosCredentials(b"token")):
        with pytest.raises(TypeError):
            await provider.authenticate(credentials)


@pytest.mark.parametrize(("url", "protocol", "timeout"), [
    ("sso.example.org/cas", "p3", 5.0), ("ftp://sso.example.org", "p3", 5.0),
    ("https://sso.example.org/cas?x=1", "p3", 5.0), ("https://sso.example.org/cas", "1", 5.0),
    ("https://sso.example.org/cas", "p3", 0.0),
])
def test_a_bad_configuration_is_refused_at_construction(url: str, protocol: str, timeout: float) -> None:
    with pytest.raises(ValueError, match="CAS"):
        CasProvider(url, protocol=protocol, timeout_seconds=timeout)


async def test_close_is_idempotent_and_allows_reuse(cas: CasServer) -> None:
    provider = CasProvider(cas.url)
    await provider.close()
    ticket = cas.issue_ticket("alicej", SERVICE)
    assert (await provider.authenticate(CasCredentials(SERVICE, ticket))).login == "alicej"
    await provider.close()
    await provider.close()
