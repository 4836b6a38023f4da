"""Who may call the gateway's 1.0 telephony routes: `connect`'s password, allowed client hosts,
X-Forwarded-For only from a trusted proxy, and a telephony service that is down or not configured."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import GatewayConfig, create_app
from tests.support.gateway_telephony import (
    PASSWORD,
    PUSH,
    ROUTES,
    TELEPHONY_ROUTES,
    USER,
    V1,
    FakeTelephony,
    Gateway,
    V1Route,
    assert_error,
    client_from,
    post_json,
    send,
    start_gateway,
)
from tests.support.ports import free_port
from tests.support.processes import ServiceLauncher, ServiceProcess


# --- connect: auth's password check --------------------------------------------------------------
def test_connect_answers_200_for_the_right_password(api: httpx.Client, fake: FakeTelephony) -> None:
    for slash in ("/", ""):
        response = api.post(f"{V1}/connect/avencall.com/tel.alice{slash}", json={"password": PASSWORD})
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert fake.received == []


@pytest.mark.parametrize(("path", "body"), [
    (f"{V1}/connect/avencall.com/tel.alice/", b'{"password": "wrong"}'),
    (f"{V1}/connect/avencall.com/tel.alice/", b'{"password": ""}'),
    (f"{V1}/connect/avencall.com/tel.alice/", b"{}"),
    (f"{V1}/connect/avencall.com/tel.alice/", b""),
    (f"{V1}/connect/avencall.com/tel.nobody/", f'{{"password": "{PASSWORD}"}}'.encode()),
    (f"{V1}/connect/avencall.com//", b'{"password":""}'),  # the documented example
])
def test_connect_answers_401_otherwise(api: httpx.Client, path: str, body: bytes) -> None:
    assert_error(post_json(api, path, body), 401, "InvalidCredentials")


@pytest.mark.parametrize("body", [b"{", b'{"password": 12}', b"[]"])
def test_connect_refuses_a_broken_body(api: httpx.Client, body: bytes) -> None:
    assert_error(post_json(api, f"{V1}/connect/avencall.com/tel.alice/", body), 400, "JsonErrorDecoding")


# --- allowed clients ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*TELEPHONY_ROUTES, "connect"])
def test_another_host_is_forbidden_before_anything_is_read(stranger: httpx.Client, fake: FakeTelephony,
                                                           name: str) -> None:
    route = ROUTES.get(name) or V1Route("POST", f"{V1}/connect/{USER}/", {"password": PASSWORD}, "", None)

    message = assert_error(send(stranger, route), 403, "Forbidden")
    assert_error(stranger.request(route.method, route.path, content=b"{broken"), 403, "Forbidden")

    assert "127.0.0.2" in message
    assert fake.received == []


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(stranger: httpx.Client, fake: FakeTelephony) -> None:
    assert_error(stranger.post(f"{V1}/handshake//", headers={"X-Forwarded-For": "127.0.0.1"}), 403, "Forbidden")
    assert_error(stranger.post(f"{V1}/handshake//", headers={"X-Real-IP": "127.0.0.1",
                                                              "Forwarded": "for=127.0.0.1"}), 403, "Forbidden")
    assert fake.received == []


def test_push_registration_is_not_restricted_by_host(gateway: Gateway, stranger: httpx.Client,
                                                     fake: FakeTelephony) -> None:
    response = stranger.post(f"{PUSH}/android", json={"token": "t"},
                             headers={"X-Auth-Token": gateway.tokens["tel.alice"]})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("source", "forwarded_for", "allowed"),
    [
        ("127.0.0.2", None, False),  # the proxy itself is not an allowed client
        ("127.0.0.2", "10.1.2.3", True),
        ("127.0.0.2", "2001:db8::7", True),
        ("127.0.0.2", "10.1.2.3, 127.0.0.2", True),  # our proxies in the chain are skipped
        ("127.0.0.2", "10.1.2.3, 192.0.2.1", False),  # the right-most untrusted hop is the client
        ("127.0.0.2", "unknown", False),
        ("127.0.0.1", "10.1.2.3", False),  # not a trusted proxy: the header is not believed
    ],
)
def test_behind_a_trusted_proxy_x_forwarded_for_names_the_client(
    proxied_gateway: str, fake: FakeTelephony, source: str, forwarded_for: str | None, allowed: bool,
) -> None:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    with client_from(proxied_gateway, source, **headers) as client:
        response = client.post(f"{V1}/handshake/avencall.com/")

    if allowed:
        assert response.status_code == 200, response.text
        assert fake.only("Handshake")
    else:
        assert_error(response, 403, "Forbidden")
        assert fake.received == []


# --- a telephony service that is down, or not configured -----------------------------------------
def test_a_telephony_service_that_is_down_is_unreachable(launcher: ServiceLauncher, auth: ServiceProcess,
                                                         gateway: Gateway) -> None:
    port = free_port()  # a port nobody listens on once closed
    url = start_gateway(launcher, auth, f"127.0.0.1:{port}", "gateway-no-telephony",
                        DEPRECATED_API_HOST="127.0.0.1")

    with client_from(url, "127.0.0.1") as client:
        for route in ROUTES.values():
            assert_error(send(client, route), 503, "Unreachable")
        assert_error(client.post(f"{PUSH}/android", json={"token": "t"},
                                 headers={"X-Auth-Token": gateway.tokens["tel.alice"]}), 503, "Unreachable")
        assert client.post(f"{V1}/connect/avencall.com/tel.alice/", json={"password": PASSWORD}).status_code == 200


async def test_a_gateway_without_a_telephony_address_answers_unreachable() -> None:
    config = GatewayConfig(service_token="unused", deprecated_api_hosts=("127.0.0.1",))
    app = create_app(config, None, None, None, None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        assert_error(await client.post(f"{V1}/handshake//"), 503, "Unreachable")
        assert_error(await client.post(f"{V1}/dial/{USER}/", content=b"{"), 400, "JsonErrorDecoding")
