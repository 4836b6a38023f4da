"""Cross-site request forgery (gateway/origins.py): which origins may make state-changing requests.

The middleware is tested in the real gateway application (its services never reached: a request it
lets through is answered by the route, 401 without a token or 403 from the 1.0 client check); the
attack itself, through `xuc up`, is in tests/e2e/test_attacks_http.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from gateway.app import GatewayConfig, create_app
from gateway.origins import forwarded_origin, normalised_origin
from xuc.runtime.keys import PublicKeyCache

APP = "http://app.example"
CONTACTS = "/xuc/api/2.0/contact/personal"
V1_DND = "/xuc/api/1.0/dnd/avencall.com/alicej/"


@pytest.mark.parametrize(("text", "expected"), [
    ("http://app.example", "http://app.example"),
    ("HTTP://App.Example", "http://app.example"),
    ("http://app.example:80", "http://app.example"),
    ("https://app.example:443", "https://app.example"),
    ("http://app.example:443", "http://app.example:443"),
    ("https://app.example:8443", "https://app.example:8443"),
    ("http://app.example/", "http://app.example"),
    ("http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080"),
    ("http://192.0.2.1", "http://192.0.2.1"),
    (" http://app.example ", "http://app.example"),
    ("null", None),
    ("", None),
    ("app.example", None),
    ("http://", None),
    ("http://app.example/path", None),
    ("http://app.example?x=1", None),
    ("http://user@app.example", None),
    ("http://app.example:99999", None),
    ("http://app.example:port", None),
    ("http://[::1", None),
])
def test_an_origin_is_compared_in_its_normal_form(text: str, expected: str | None) -> None:
    assert normalised_origin(text) == expected


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-forwarded-proto": "https", "x-forwarded-host": "xuc.example.org"}, "https://xuc.example.org"),
    ({"x-forwarded-proto": "https", "x-forwarded-host": "xuc.example.org:443"}, "https://xuc.example.org"),
    ({"x-forwarded-proto": "https", "x-forwarded-host": "xuc.example.org", "x-forwarded-port": "8443"},
     "https://xuc.example.org:8443"),
    ({"x-forwarded-proto": "https", "x-forwarded-host": "xuc.example.org:9443", "x-forwarded-port": "8443"},
     "https://xuc.example.org:9443"),
    ({"x-forwarded-proto": "https, http", "x-forwarded-host": "a.example, b.internal"}, "https://a.example"),
    ({"forwarded": 'for=192.0.2.1;proto=https;host="xuc.example.org", for=10.0.0.1;host=b.internal'},
     "https://xuc.example.org"),
    ({"forwarded": "For=192.0.2.1;Proto=https;Host=[2001:db8::1]:8443"}, "https://[2001:db8::1]:8443"),
    ({"x-forwarded-host": "xuc.example.org"}, None),  # no scheme: not an origin
    ({"x-forwarded-proto": "https"}, None),
    # nginx's usual recipe: the scheme forwarded, the Host header passed on as the client sent it
    ({"x-forwarded-proto": "https", "host": "xuc.example.org"}, "https://xuc.example.org"),
    ({"x-forwarded-proto": "https", "host": "internal:8090", "x-forwarded-host": "xuc.example.org"},
     "https://xuc.example.org"),
    ({}, None),
])
def test_the_origin_a_proxy_reports(headers: dict[str, str], expected: str | None) -> None:
    assert forwarded_origin(headers) == expected


def gateway_app(config: GatewayConfig) -> Any:
    unused: Any = None
    return create_app(config, unused, PublicKeyCache(cast(Any, unused), "service-token", "xuc"), unused, unused)


@pytest.fixture(scope="module")
def app() -> Any:
    """The real gateway: the 1.0 API allowed to 192.0.2.10, 192.0.2.99 a trusted proxy."""
    return gateway_app(GatewayConfig("service-token", cors_origins=(APP, "https://other.example:8443"),
                                     deprecated_api_hosts=("192.0.2.10",), trusted_proxies=("192.0.2.99",)))


@pytest.fixture
async def gateway(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("192.0.2.20", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuc.example:8090") as client:
        yield client


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "OriginNotAllowed"
    assert response.json()["message"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://xuc.example:8091",
                                    "https://xuc.example:8090", "http://app.example.evil.example",
                                    "http://xuc.example:8090/path", "garbage"])
async def test_a_state_changing_request_of_another_origin_is_refused(gateway: httpx.AsyncClient, method: str,
                                                                     origin: str) -> None:
    assert_refused(await gateway.request(method, CONTACTS, headers={"Origin": origin},
                                         content=b'{"lastname": "x"}'))


@pytest.mark.parametrize("origin", ["http://xuc.example:8090", "HTTP://XUC.EXAMPLE:8090", APP, "http://app.example:80",
                                    "https://other.example:8443"])
async def test_the_servers_own_origin_and_the_cors_origins_pass(gateway: httpx.AsyncClient, origin: str) -> None:
    response = await gateway.post(CONTACTS, headers={"Origin": origin}, json={"lastname": "x"})
    assert response.json()["error"] == "AuthorizationHeaderNotFound"  # the route answered


async def test_the_servers_own_origin_on_a_default_port(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(CONTACTS, headers={"Origin": "http://xuc.example", "Host": "xuc.example:80"})
    assert response.status_code == 401


async def test_no_origin_passes_whatever_the_content_type(gateway: httpx.AsyncClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = await gateway.post(CONTACTS, headers={"Content-Type": content_type}, content=b"{}")
        assert response.status_code == 401, response.text


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
async def test_safe_methods_are_not_checked(gateway: httpx.AsyncClient, method: str) -> None:
    response = await gateway.request(method, CONTACTS, headers={"Origin": "http://evil.example"})
    assert response.status_code != 403


async def test_the_1_0_api_refuses_another_origin_before_its_client_check(gateway: httpx.AsyncClient) -> None:
    # 192.0.2.20 is not an allowed client either: the origin is what it is told.
    assert_refused(await gateway.post(V1_DND, headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
                                      content=b'{"state": true}'))


async def test_several_origin_headers_must_all_pass(gateway: httpx.AsyncClient) -> None:
    headers = [("Origin", APP), ("Origin", "http://evil.example")]
    assert_refused(await gateway.post(CONTACTS, headers=headers, json={}))


async def test_a_refusal_does_not_wait_for_the_body(gateway: httpx.AsyncClient) -> None:
    async def never_ending() -> AsyncIterator[bytes]:
        yield b'{"lastname": '
        raise AssertionError("the body was read")

    assert_refused(await gateway.post(CONTACTS, headers={"Origin": "http://evil.example"}, content=never_ending()))


async def test_the_origin_reported_by_a_trusted_proxy_passes(app: Any) -> None:
    forwarded = {"Origin": "https://xuc.example.org", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "xuc.example.org"}
    for peer, expected in (("192.0.2.99", 401), ("192.0.2.20", 403)):  # a proxy, then anyone else
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8090") as client:
            response = await client.post(CONTACTS, headers=forwarded, json={})
        assert response.status_code == expected, (peer, response.text)
