"""Single sign-on through `xuc up`: the three documented routes, configured and not.

The main stack configures no SSO method: each route then says so with its documented code. The
Kerberos route answers the SPNEGO challenge whenever no token is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.conftest import BASE, Stack, assert_error, assert_token_answer
from tests.support.background import BackgroundLoop
from tests.support.cas_server import CasServer
from tests.support.http_errors import UNHANDLED_MESSAGE
from tests.support.oidc_issuer import LocalIssuer, forge


def test_kerberos_without_a_token_is_the_negotiate_challenge(api: httpx.Client) -> None:
    response = api.get(f"{BASE}/auth/sso")
    assert_error(response, 401, "SsoAuthenticationFailed")
    assert response.headers["www-authenticate"] == "Negotiate"


def test_kerberos_not_configured_refuses_a_token_clearly(api: httpx.Client) -> None:
    token = base64.b64encode(b"\x60\x28\x06\x06\x2b\x06\x01\x05\x05\x02").decode()
    response = api.get(f"{BASE}/auth/sso", headers={"Authorization": f"Negotiate {token}"})
    assert "not configured" in assert_error(response, 401, "SsoAuthenticationFailed")["message"]
    garbage = api.get(f"{BASE}/auth/sso", headers={"Authorization": "Negotiate %%%not-base64"})
    assert_error(garbage, 401, "SsoAuthenticationFailed")


def test_cas_and_oidc_not_configured(api: httpx.Client) -> None:
    assert_error(api.get(f"{BASE}/auth/cas", params={"service": "https://app.example", "ticket": "ST-1"}), 501,
                 "CasServerUrlNotSet")
    assert_error(api.get(f"{BASE}/auth/oidc", params={"token": "eyJ.x.y"}), 501, "OidcNotEnabled")
    assert_error(api.get(f"{BASE}/auth/oidc", headers={"Authorization": "Bearer eyJ.x.y"}), 501, "OidcNotEnabled")


# --- a stack with CAS and OpenID Connect configured ------------------------------------------------
@dataclass
class Servers:
    cas: CasServer
    oidc: LocalIssuer


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with BackgroundLoop() as loop:
        cas, oidc = CasServer(prefix="/cas"), LocalIssuer(prefix="/realms/xuc")
        loop.run(cas.start())
        loop.run(oidc.start())
        try:
            yield Servers(cas, oidc)
        finally:
            loop.run(cas.stop())
            loop.run(oidc.stop())


@pytest.fixture(scope="module")
def sso_stack(tmp_path_factory: pytest.TempPathFactory, servers: Servers) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("sso"), extra_env={
        "XUC_CAS_SERVER_URL": servers.cas.url, "XUC_OIDC_ISSUER": servers.oidc.url, "XUC_OIDC_AUDIENCE": "xuc",
    }).start()
    try:
        stack.provision({"carol": "carol-secret"}, name="sso-users.yaml")
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


SERVICE = "https://xucmgt.example.org"


def test_a_cas_ticket_logs_the_user_in_once(sso_stack: Stack, servers: Servers) -> None:
    cas = servers.cas
    ticket = cas.issue_ticket("carol", SERVICE)
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        response = http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": ticket})
        token = assert_token_answer(response, "carol")
        assert http.get(f"{BASE}/auth/check", headers={"X-Auth-Token": token}).status_code == 200
        again = http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": ticket})
        assert_error(again, 401, "CasServerInvalidTicket")  # single use


def test_cas_errors(sso_stack: Stack, servers: Servers) -> None:
    cas = servers.cas
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        assert_error(http.get(f"{BASE}/auth/cas", params={"service": SERVICE}), 400, "CasServerInvalidParameter")
        other = cas.issue_ticket("carol", "https://elsewhere.example")
        assert_error(http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": other}), 401,
                     "CasServerInvalidService")
        stranger = cas.issue_ticket("mallory", SERVICE)
        assert_error(http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": stranger}), 404,
                     "UserNotFound")
        cas.respond(b"<html>maintenance</html>", status=503)
        body = assert_error(http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": "ST-1"}), 502,
                            "CasServerInvalidResponse")
        assert "ST-1" not in body["message"]


# Every CAS failure code (the CAS 3.0 specification's) -> (status, the REST page's error code).
CAS_FAILURE_ANSWERS = [
    ("INVALID_REQUEST", 400, "CasServerInvalidRequest"),
    ("INVALID_TICKET_SPEC", 400, "CasServerInvalidTicketSpec"),
    ("UNAUTHORIZED_SERVICE_PROXY", 401, "CasServerUnauthorizedServiceProxy"),
    ("INVALID_PROXY_CALLBACK", 401, "CasServerInvalidProxyCallback"),
    ("INVALID_TICKET", 401, "CasServerInvalidTicket"),
    ("INVALID_SERVICE", 401, "CasServerInvalidService"),
    ("INTERNAL_ERROR", 502, "CasServerInternalError"),
]


@pytest.mark.parametrize(("cas_code", "status", "code"), CAS_FAILURE_ANSWERS,
                         ids=[row[0] for row in CAS_FAILURE_ANSWERS])
def test_each_cas_failure_code_is_its_documented_answer(sso_stack: Stack, servers: Servers, cas_code: str,
                                                        status: int, code: str) -> None:
    servers.cas.fail(cas_code, f"The CAS server says {cas_code.lower()}")
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        response = http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": "ST-1-failing"})
    # The CAS server's own text for a refusal; a fixed one for a server error (5xx tell no internals).
    said = f"The CAS server says {cas_code.lower()}"
    assert_error(response, status, code, said if status < 500 else UNHANDLED_MESSAGE)


@pytest.mark.parametrize("answer", [
    b"<html>maintenance</html>",  # not the CAS protocol
    b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="NEW_CODE">'
    b"new</cas:authenticationFailure></cas:serviceResponse>",  # a code the specification does not have
])
def test_a_cas_answer_that_is_not_understood_is_502_invalid_response(sso_stack: Stack, servers: Servers,
                                                                     answer: bytes) -> None:
    servers.cas.respond(answer)
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        response = http.get(f"{BASE}/auth/cas", params={"service": SERVICE, "ticket": "ST-1-garbled"})
    assert_error(response, 502, "CasServerInvalidResponse", UNHANDLED_MESSAGE)


def test_an_oidc_access_token_logs_the_user_in(sso_stack: Stack, servers: Servers) -> None:
    token = servers.oidc.sign(servers.oidc.claims(preferred_username="carol"))
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        assert_token_answer(http.get(f"{BASE}/auth/oidc", params={"token": token}), "carol")
        assert_token_answer(http.get(f"{BASE}/auth/oidc", headers={"Authorization": f"Bearer {token}"}), "carol")
        es256 = servers.oidc.sign(servers.oidc.claims(preferred_username="carol"), key="ec")
        assert_token_answer(http.get(f"{BASE}/auth/oidc", params={"token": es256}), "carol")


def test_oidc_errors(sso_stack: Stack, servers: Servers) -> None:
    issuer = servers.oidc
    with httpx.Client(base_url=sso_stack.url, timeout=15.0) as http:
        def refused(token: str) -> dict[str, object]:
            return assert_error(http.get(f"{BASE}/auth/oidc", params={"token": token}), 401,
                                "OidcAuthenticationFailed")

        assert_error(http.get(f"{BASE}/auth/oidc"), 400, "OidcInvalidParameter")
        refused(issuer.sign(issuer.claims(preferred_username="carol", lifetime=-120)))  # expired
        refused(issuer.sign(issuer.claims(preferred_username="carol", iss="https://evil.example")))
        refused(issuer.sign(issuer.claims(preferred_username="carol", aud="other", azp="other")))
        refused(forge(issuer.claims(preferred_username="carol"), alg="none"))
        refused(forge(issuer.claims(preferred_username="carol"), alg="HS256", secret=issuer.rsa_public_pem))
        assert_error(http.get(f"{BASE}/auth/oidc", params={"token": issuer.sign(issuer.claims())}), 404,
                     "UserNotFound")  # alice is authenticated by the issuer, but not provisioned here
