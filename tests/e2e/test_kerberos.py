"""Kerberos SSO end to end, with a real MIT KDC: a throw-away realm on a free loopback port, a user
principal with a ticket from `kinit`, the `HTTP/localhost` service principal in the keytab given to
`xuc up`, and SPNEGO tokens made by the test with GSSAPI, sent to the gateway over HTTP.

Skipped, with what to install, only when the Kerberos tools or the `gssapi` package are absent, and
failed instead on CI (`.ci/run` installs them: krb5-kdc, krb5-admin-server, krb5-user, libkrb5-dev,
`.[kerberos]`).
"""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import BASE, Stack, assert_error, assert_token_answer
from tests.support.kdc import MISSING_TOOLS, Realm
from tests.support.requirements import KERBEROS_INSTALL, missing_tool


@pytest.fixture(scope="module", autouse=True)
def kerberos_installed() -> None:
    if MISSING_TOOLS or importlib.util.find_spec("gssapi") is None:
        missing_tool(f"Kerberos tools absent ({', '.join(MISSING_TOOLS) or 'the gssapi package'})", KERBEROS_INSTALL)

SPNEGO = "1.3.6.1.5.5.2"


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    started = Realm(tmp_path_factory.mktemp("realm")).start()
    try:
        started.add_user("alice", "alice-krb-pw")
        started.add_user("stranger", "stranger-krb-pw")
        started.add_service("HTTP/localhost", keytab=started.directory / "http.keytab")
        started.add_service("HTTP/otherhost")  # in the realm, not in the service's keytab
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def krb_stack(tmp_path_factory: pytest.TempPathFactory, realm: Realm) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("krb"), extra_env={
        **realm.env, "XUC_KERBEROS_KEYTAB": str(realm.directory / "http.keytab")}).start()
    try:
        stack.provision({"alice": "alice-password"}, name="krb-users.yaml")
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


def negotiate(realm: Realm, cache: Path, service: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`Authorization: Negotiate ...` for the user of `cache`, to `service` (e.g. "HTTP@localhost")."""
    import gssapi

    for name, value in {**realm.env, "KRB5CCNAME": f"FILE:{cache}"}.items():
        monkeypatch.setenv(name, value)
    context = gssapi.SecurityContext(name=gssapi.Name(service, gssapi.NameType.hostbased_service),
                                     usage="initiate", mech=gssapi.OID.from_int_seq(SPNEGO))
    return f"Negotiate {base64.b64encode(context.step()).decode()}"


def test_a_kerberos_user_gets_a_token_and_a_mutual_authentication_token(
    krb_stack: Stack, realm: Realm, monkeypatch: pytest.MonkeyPatch,
) -> None:
    header = negotiate(realm, realm.kinit("alice", "alice-krb-pw"), "HTTP@localhost", monkeypatch)
    with httpx.Client(base_url=krb_stack.url, timeout=15.0) as http:
        response = http.get(f"{BASE}/auth/sso", headers={"Authorization": header})
        assert_token_answer(response, "alice")
        assert response.headers["www-authenticate"].startswith("Negotiate ")
        replayed = http.get(f"{BASE}/auth/sso", headers={"Authorization": header})
        assert_error(replayed, 401, "SsoAuthenticationFailed")


def test_an_authenticated_principal_without_a_user_is_user_not_found(
    krb_stack: Stack, realm: Realm, monkeypatch: pytest.MonkeyPatch,
) -> None:
    header = negotiate(realm, realm.kinit("stranger", "stranger-krb-pw"), "HTTP@localhost", monkeypatch)
    with httpx.Client(base_url=krb_stack.url, timeout=15.0) as http:
        assert_error(http.get(f"{BASE}/auth/sso", headers={"Authorization": header}), 404, "UserNotFound")


def test_a_ticket_for_another_service_or_garbage_is_refused(
    krb_stack: Stack, realm: Realm, monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = negotiate(realm, realm.kinit("alice", "alice-krb-pw"), "HTTP@otherhost", monkeypatch)
    garbage = f"Negotiate {base64.b64encode(b'not a kerberos token at all').decode()}"
    with httpx.Client(base_url=krb_stack.url, timeout=15.0) as http:
        for header in (other, garbage):
            assert_error(http.get(f"{BASE}/auth/sso", headers={"Authorization": header}), 401,
                         "SsoAuthenticationFailed")
