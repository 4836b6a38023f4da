"""Attacks on the HTTP edge, through `xuc up` over real sockets (issue 11, items 5 to 8).

- Request heads: a 256 MiB header (the gateway's memory stays flat: 431 and closed), heads over
  16 KiB (one field, a WebSocket upgrade: 431), a head that never ends (408 and closed), and
  connections left idle, fresh or after an answer (closed).
- Cross-site request forgery: a page of another site posting `text/plain` to the 1.0 API from an
  allowed client's browser (403 `OriginNotAllowed`, and calls to the user are not forwarded); the
  same on the 2.0 API (nothing created, changed or deleted); while our own origin, a CORS origin,
  an origin a trusted proxy reports, and clients sending no `Origin` keep working.
- Hostile input that crashed: a token whose header is JSON nested 5,000 deep (401 `InvalidToken`,
  nothing logged above DEBUG), a client gone in the middle of its body (one DEBUG line).
- Redirects built from the Host header: no path, with a slash more or less, is ever redirected.

One stack for the module, logging at DEBUG: the 1.0 API allowed to 127.0.0.1, 127.0.0.2 a trusted
proxy, heads given 2 s and idle connections 1 s (the HTTP clients here do not keep connections
alive: a pooled connection the server closes as a request goes out would fail it).
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import load_openapi
from tests.e2e.conftest import BASE, Stack, assert_error
from tests.support.processes import wait_for
from tests.support.raw_http import RawConnection

HEADER_TIMEOUT_SECONDS = 2
KEEP_ALIVE_SECONDS = 1
MAX_HEADER_BYTES = 16384  # the default
V1 = "/xuc/api/1.0"
PERSONAL = f"{BASE}/contact/personal"
USERS = {"victim": ("victim-secret", "1201"), "caller": ("caller-secret", "1202")}
ATTACKER_NUMBER = "0600000000"
EVIL = "http://evil.example"
LOG_WAIT_SECONDS = 30.0
RSS_BOUND_KB = 20 * 1024
NO_KEEP_ALIVE = httpx.Limits(max_keepalive_connections=0)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("http-edge"), extra_env={
        "DEPRECATED_API_HOST": "127.0.0.1",
        "XUC_TRUSTED_PROXIES": "127.0.0.2",
        "XUC_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
        "XUC_KEEP_ALIVE_TIMEOUT_SECONDS": str(KEEP_ALIVE_SECONDS),
        "XUC_LOG_LEVEL": "DEBUG",
        "XUC_SIM_RING_TIMEOUT": "1",
    }).start()
    try:
        path = stack.write_file("edge-users.yaml", {"users": [
            {"login": login, "password": password, "line": line} for login, (password, line) in USERS.items()]})
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


def client(stack: Stack, local_address: str = "127.0.0.1", **headers: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url, timeout=30.0, limits=NO_KEEP_ALIVE, headers=headers,
                        transport=httpx.HTTPTransport(local_address=local_address, limits=NO_KEEP_ALIVE))


@pytest.fixture(scope="module")
def local(edge: Stack) -> Iterator[httpx.Client]:
    """A server-side client on an allowed 1.0 address: it sends no Origin."""
    with client(edge) as local_client:
        yield local_client


@pytest.fixture
def victim(edge: Stack, local: httpx.Client) -> Iterator[httpx.Client]:
    login = local.post(f"{BASE}/auth/login", json={"login": "victim", "password": USERS["victim"][0]})
    assert login.status_code == 200, login.text
    with client(edge, **{"X-Auth-Token": login.json()["token"]}) as victim_client:
        assert victim_client.delete(PERSONAL).status_code == 204
        yield victim_client


def connect(stack: Stack) -> RawConnection:
    return RawConnection("127.0.0.1", stack.port, timeout=30.0)


# --- the gateway's logs ---------------------------------------------------------------------------
def log_mark(stack: Stack) -> int:
    return stack.log_path.stat().st_size


def gateway_lines_since(stack: Stack, mark: int, local: httpx.Client) -> list[str]:
    """The gateway's log lines since `mark`, once all it logged before this call is in the file: a
    request refused with a line of its own (the origin check's, at INFO) is sent, and its line awaited."""
    marker = f"marker-{uuid.uuid4().hex[:12]}"
    refused = local.post(PERSONAL, headers={"Origin": "http://marker.example", "X-Request-Id": marker})
    assert refused.status_code == 403

    def lines() -> list[str] | None:
        text = Path(stack.log_path).read_bytes()[mark:].decode(errors="replace")
        found = [line for line in text.splitlines() if line.startswith("gateway ")]
        return found if any(f"request_id={marker}" in line for line in found) else None

    return [line for line in wait_for(lines, LOG_WAIT_SECONDS, "the marker's log line") if marker not in line]


def assert_nothing_above_debug(lines: list[str]) -> None:
    loud = [line for line in lines if line.partition("| ")[2].startswith(("INFO", "WARNING", "ERROR", "CRITICAL"))]
    assert not loud, loud
    assert not [line for line in lines if "Traceback" in line], lines


# --- request heads: size --------------------------------------------------------------------------
def vm_kilobytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def test_a_256_mib_header_is_refused_and_the_gateway_memory_stays_flat(edge: Stack) -> None:
    pid = int(edge.run_file("gateway")["pid"])
    rss_before, peak_before = vm_kilobytes(pid)
    received = b""
    with socket.create_connection(("127.0.0.1", edge.port), timeout=30) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: gateway\r\nX-Big: ")
        chunk = b"a" * (1 << 20)
        try:
            for _ in range(256):
                sock.sendall(chunk)
            received = sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed, as it should be, before all of it was taken
    rss_after, peak_after = vm_kilobytes(pid)

    assert received == b"" or received.startswith(b"HTTP/1.1 431 "), received[:200]
    assert rss_after - rss_before < RSS_BOUND_KB, (rss_before, rss_after)
    assert peak_after - peak_before < RSS_BOUND_KB, (peak_before, peak_after)
    with client(edge) as after:
        assert after.get("/health/live").status_code == 200


@pytest.mark.parametrize("head", [
    pytest.param(b"GET /health/live HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
                 id="one-field"),
    pytest.param(b"GET /ws HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"X-Big: " + b"b" * 20_000 + b"\r\n\r\n", id="websocket-upgrade"),
])
def test_request_headers_over_16_kib_are_431(edge: Stack, head: bytes) -> None:
    with connect(edge) as connection:
        connection.send(head)
        answer = connection.answer()
        assert answer.status == 431, answer.body
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["error"] == "RequestHeaderFieldsTooLarge"
        assert answer.json()["message"]
        assert answer.closed
        connection.wait_closed()


def test_request_headers_under_16_kib_are_served(edge: Stack, victim: httpx.Client) -> None:
    response = victim.get(f"{BASE}/auth/check", headers={"X-Padding": "p" * (MAX_HEADER_BYTES - 2048)})
    assert response.status_code == 200, response.text


# --- request heads: time, and idle connections ----------------------------------------------------
def test_a_head_that_never_ends_is_408_and_closed(edge: Stack) -> None:
    with connect(edge) as connection:
        connection.send(b"POST /xuc/api/2.0/auth/login HTTP/1.1\r\nHost: gateway\r\nContent-Type: app")
        answer = connection.answer()
        assert answer.status == 408
        assert answer.json()["error"] == "RequestTimeout"
        assert answer.elapsed >= HEADER_TIMEOUT_SECONDS * 0.9
        connection.wait_closed()


def test_a_connection_that_sends_nothing_is_closed(edge: Stack) -> None:
    with connect(edge) as connection:
        assert connection.wait_closed() >= KEEP_ALIVE_SECONDS * 0.9


def test_an_idle_keep_alive_connection_is_closed(edge: Stack) -> None:
    with connect(edge) as connection:
        connection.send(b"GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert connection.answer().status == 200
        connection.wait_closed()


def test_a_blank_line_after_an_answer_does_not_keep_the_connection_open(edge: Stack) -> None:
    # Why an idle keep-alive connection was seen open 40 s and more: any byte after an answer
    # disarmed uvicorn's keep-alive timer for good.
    with connect(edge) as connection:
        connection.send(b"GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert connection.answer().status == 200
        connection.send(b"\r\n")
        connection.wait_closed()


# --- cross-site request forgery -------------------------------------------------------------------
def ringing(stack: Stack, caller: str, callee: str) -> str:
    """The number that rings when `caller` calls `callee` in the PBX simulator (forwards followed)."""
    placed = stack.xuc("pbx", "call", caller, callee).stdout
    stack.xuc("pbx", "hangup", caller, check=False)
    return placed.split("->")[1].split()[0]


def test_a_cross_site_text_plain_post_to_the_1_0_api_is_refused_and_forwards_nothing(
    edge: Stack, local: httpx.Client,
) -> None:
    forward = f"{V1}/uncForward/avencall.com/victim/"
    body = json.dumps({"state": True, "destination": ATTACKER_NUMBER}).encode()
    victim_line, caller_line = USERS["victim"][1], USERS["caller"][1]

    attack = local.post(forward, content=body, headers={"Content-Type": "text/plain", "Origin": EVIL})

    assert_error(attack, 403, "OriginNotAllowed")
    assert ringing(edge, caller_line, victim_line) == victim_line
    # The very same request from a server-side client (no Origin) is served, and forwards: what the
    # check above would have seen.
    served = local.post(forward, content=body, headers={"Content-Type": "text/plain"})
    assert served.status_code == 200, served.text
    try:
        assert ringing(edge, caller_line, victim_line) == ATTACKER_NUMBER
    finally:
        assert local.post(forward, json={"state": False, "destination": ""}).status_code == 200


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1.evil.example", "https://app.example"])
def test_other_origins_are_refused_on_the_1_0_api(local: httpx.Client, origin: str) -> None:
    response = local.post(f"{V1}/dnd/avencall.com/victim/", json={"state": False}, headers={"Origin": origin})
    assert_error(response, 403, "OriginNotAllowed")


def test_our_own_origin_and_the_cors_origins_are_served(edge: Stack, local: httpx.Client) -> None:
    for origin in (edge.url, edge.url.upper(), "http://app.example", "HTTP://APP.EXAMPLE:80"):
        response = local.post(f"{V1}/dnd/avencall.com/victim/", json={"state": False}, headers={"Origin": origin})
        assert response.status_code == 200, (origin, response.text)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_client_sending_no_origin_is_served_whatever_its_content_type(local: httpx.Client,
                                                                        content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = local.post(f"{V1}/dnd/avencall.com/victim/", content=b'{"state": false}', headers=headers)
    assert response.status_code == 200, response.text


def test_the_origin_a_trusted_proxy_reports_is_served(edge: Stack) -> None:
    forwarded = {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "xuc.example.org", "Origin": "https://xuc.example.org"}
    with client(edge, local_address="127.0.0.2") as proxy:
        response = proxy.post(f"{V1}/dnd/avencall.com/victim/", json={"state": False}, headers=forwarded)
    assert response.status_code == 200, response.text
    with client(edge, local_address="127.0.0.3") as not_a_proxy:
        response = not_a_proxy.post(f"{BASE}/auth/login", json={"login": "victim", "password": "x"},
                                    headers=forwarded)
    assert_error(response, 403, "OriginNotAllowed")


def test_cross_site_calls_to_the_2_0_api_change_nothing(edge: Stack, victim: httpx.Client) -> None:
    kept = victim.post(PERSONAL, json={"lastname": "Kept"}, headers={"Origin": edge.url})
    assert kept.status_code == 201, kept.text
    contact_url = f"{PERSONAL}/{kept.json()['id']}"
    hostile = {"Origin": EVIL}

    assert_error(victim.post(PERSONAL, content=b'{"lastname": "Planted"}',
                             headers={**hostile, "Content-Type": "text/plain"}), 403, "OriginNotAllowed")
    assert_error(victim.put(contact_url, json={"lastname": "Changed"}, headers=hostile), 403, "OriginNotAllowed")
    assert_error(victim.delete(contact_url, headers=hostile), 403, "OriginNotAllowed")
    assert_error(victim.delete(PERSONAL, headers=hostile), 403, "OriginNotAllowed")
    assert_error(victim.post(f"{BASE}/auth/login", json={"login": "victim", "password": USERS["victim"][0]},
                             headers=hostile), 403, "OriginNotAllowed")

    assert victim.get(contact_url, headers=hostile).json() == kept.json()  # reading is not refused
    assert [entry["id"] for entry in victim.get(PERSONAL).json()["entries"]] == [kept.json()["id"]]
    assert victim.put(contact_url, json={"lastname": "Changed"}, headers={"Origin": "http://app.example"}
                      ).status_code == 200
    assert victim.delete(contact_url).status_code == 204  # no Origin


# --- hostile input: answers, and the logs ---------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("header", ["X-Auth-Token", "Authorization"])
def test_a_token_whose_header_is_nested_5000_deep_is_an_invalid_token(edge: Stack, local: httpx.Client,
                                                                      header: str) -> None:
    token = f"{b64url(b'[' * 5000)}.{b64url(b'{}')}.{b64url(b'x' * 64)}"
    mark = log_mark(edge)

    response = local.get(f"{BASE}/auth/check", headers={
        header: token if header == "X-Auth-Token" else f"Bearer {token}", "X-Request-Id": "deep-token"})

    assert_error(response, 401, "InvalidToken")
    assert_nothing_above_debug(gateway_lines_since(edge, mark, local))


def test_a_client_gone_in_the_middle_of_its_body_is_one_debug_line(edge: Stack, local: httpx.Client) -> None:
    mark = log_mark(edge)
    with connect(edge) as connection:
        connection.send(b"POST /xuc/api/2.0/auth/login HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: gone-mid-body\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"login\": \"vic")
    # closed, with 990 bytes of its body never sent
    wait_for(lambda: b"request_id=gone-mid-body" in Path(edge.log_path).read_bytes()[mark:], LOG_WAIT_SECONDS,
             "the disconnection logged")

    lines = gateway_lines_since(edge, mark, local)
    about_it = [line for line in lines if "gone-mid-body" in line]
    assert len(about_it) == 1, about_it
    assert "DEBUG   gateway.app: client disconnected before its request was read" in about_it[0]
    assert_nothing_above_debug(lines)


# --- no redirect built from the request -----------------------------------------------------------
def _with_trailing_slashes() -> list[tuple[str, str]]:
    """Every operation of the description but the 1.0 API's (whose slash is optional), `/metrics`
    and the health routes included, a slash appended."""
    values = {"contactId": "28079dc0-2c6b-4332-9075-61da9229389f", "queueId": "1", "from": "2024-01-01",
              "to": "2024-01-02"}
    return [(method.upper(), path.format(**values) + "/") for path, item in load_openapi()["paths"].items()
            if not path.startswith(V1) for method in item if method in ("get", "post", "put", "delete")]


@pytest.mark.parametrize(("method", "path"), _with_trailing_slashes(), ids=lambda value: str(value))
def test_no_path_is_redirected_to_the_host_a_client_names(edge: Stack, victim: httpx.Client, method: str,
                                                          path: str) -> None:
    response = victim.request(method, path, headers={"Host": "evil.example"}, content=b"{}")

    assert not 300 <= response.status_code < 400, (response.status_code, response.headers)
    assert "location" not in response.headers
    assert_error(response, 404, "NotFound")


def test_a_delete_with_a_slash_more_deletes_nothing(victim: httpx.Client) -> None:
    # Redirected once to the route that deletes every contact, by a client following the redirect.
    assert victim.post(PERSONAL, json={"lastname": "Kept"}).status_code == 201
    assert_error(victim.delete(f"{PERSONAL}/"), 404, "NotFound")
    assert len(victim.get(PERSONAL).json()["entries"]) == 1
