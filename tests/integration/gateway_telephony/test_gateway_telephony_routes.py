"""The gateway's 1.0 telephony routes: each path is one call with the service token, 200 exactly,
no redirects; what is no route is not found."""

from __future__ import annotations

import httpx
import pytest

from services.telephony.domain.errors import (
    UserNotFound,
)
from tests.support.gateway_telephony import ROUTES, TELEPHONY_ROUTES, USER, V1, FakeTelephony, assert_error, send
from tests.support.processes import ServiceProcess
from xuc.runtime.grpc_edge import SERVICE_TOKEN_METADATA
from xucproto.telephony.v1 import telephony_pb2 as pb


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
@pytest.mark.parametrize("name", TELEPHONY_ROUTES)
def test_each_route_is_one_call_with_the_service_token_answered_200(
    api: httpx.Client, fake: FakeTelephony, auth: ServiceProcess, name: str, slash: bool,
) -> None:
    route = ROUTES[name]

    response = send(api, route, slash)

    assert response.status_code == 200, response.text  # exactly: no 201/204, no redirect
    assert response.headers["content-type"] == "application/json"
    assert response.json() == route.answer
    call = fake.only(route.rpc)
    assert call.request == route.request
    assert call.metadata[SERVICE_TOKEN_METADATA] == auth.service_token
    assert "authorization" not in call.metadata


@pytest.mark.parametrize("name", TELEPHONY_ROUTES)
def test_an_api_key_or_token_header_is_ignored(api: httpx.Client, fake: FakeTelephony, name: str) -> None:
    response = send(api, ROUTES[name], **{"X-Api-Key": "whatever", "X-Auth-Token": "not-a-token",
                                          "Authorization": "Bearer nonsense"})

    assert response.status_code == 200, response.text
    assert "authorization" not in fake.only(ROUTES[name].rpc).metadata


@pytest.mark.parametrize(("rpc", "path"), [
    ("SetDnd", f"{V1}/dnd/avencall.com//"),
    ("Dial", f"{V1}/dial/avencall.com//"),
    ("GetHistory", f"{V1}/historyByUsername//"),
])
def test_the_documented_curl_examples_name_the_empty_user_which_is_not_found(
    api: httpx.Client, fake: FakeTelephony, rpc: str, path: str,
) -> None:
    fake.fail(rpc, UserNotFound())
    body = {"SetDnd": b'{"state":false}', "Dial": b'{"number":""}', "GetHistory": b""}[rpc]

    response = api.request("GET" if rpc == "GetHistory" else "POST", path, content=body,
                           headers={"Content-Type": "application/json"}, params={"size": "3"})

    assert_error(response, 404, "UserNotFound")
    assert fake.only(rpc).request.username == ""


@pytest.mark.parametrize("path", [f"{V1}/dial/avencall.com", f"{V1}/dial/{USER}//", f"{V1}/dial/{USER}/x/",
                                  f"{V1}/handshake", f"{V1}/unknown/", f"{V1}/"])
def test_a_path_that_is_no_route_is_not_found_never_redirected(api: httpx.Client, fake: FakeTelephony,
                                                                path: str) -> None:
    assert_error(api.post(path, json={"number": "1"}), 404, "NotFound")
    assert fake.received == []


def test_a_wrong_method_is_not_allowed(api: httpx.Client, fake: FakeTelephony) -> None:
    response = api.get(f"{V1}/dial/{USER}/")

    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "POST"
    assert_error(api.post(f"{V1}/historyByUsername/{USER}", params={"size": "1"}), 405, "MethodNotAllowed")


def test_any_domain_is_taken_and_ignored(api: httpx.Client, fake: FakeTelephony) -> None:
    for domain in ("avencall.com", "", "other.example", "x y"):
        assert api.post(f"{V1}/dnd/{domain}/tel.alice/", json={"state": True}).status_code == 200
    assert [call.request for call in fake.received] == [pb.SetDndRequest(username="tel.alice", state=True)] * 4


def test_handshake_needs_no_body_nor_content_type(api: httpx.Client, fake: FakeTelephony) -> None:
    for content in (b"", b"not json at all"):
        response = api.post(f"{V1}/handshake/avencall.com/", content=content)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert "content-type" not in api.build_request("POST", "/", content=b"").headers
    assert [call.method for call in fake.received] == ["Handshake", "Handshake"]
