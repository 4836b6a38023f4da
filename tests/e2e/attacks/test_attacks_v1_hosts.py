"""The 1.0 API from an address that is not allowed, through `xuc up`: every route refuses it, and
the refused calls place no call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.attacks.attack_stack import V1, V1_CALLS, AttackStack
from tests.e2e.conftest import assert_error


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS, ids=[call[1].split("/")[0] for call in V1_CALLS])
@pytest.mark.parametrize("spoof", [{}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}],
                         ids=["plain", "x-forwarded-for", "x-real-ip"])
def test_every_1_0_route_refuses_a_client_that_is_not_allowed(target: AttackStack, elsewhere: httpx.Client,
                                                              method: str, path: str, body: Any,
                                                              spoof: dict[str, str]) -> None:
    response = elsewhere.request(method, f"{V1}/{path}", json=body, headers=spoof)

    assert "127.0.0.2" in assert_error(response, 403, "Forbidden")["message"]


def test_refused_1_0_calls_place_no_call(target: AttackStack, elsewhere: httpx.Client) -> None:
    for _ in range(3):
        assert_error(elsewhere.post(f"{V1}/dial/avencall.com/victim/", json={"number": "1202"}), 403, "Forbidden")

    assert "->" not in target.xuc("pbx", "calls").stdout
