"""Slow-loris bodies through `xuc up`: headers then no body, trickled bodies (plain, chunked, an
import) are cut off with a 408 and the connection closed while other clients are served; a body that
arrives in time in pieces is read."""

from __future__ import annotations

import json
from threading import Thread
from typing import Any

import httpx

from tests.e2e.attacks.attack_stack import (
    BODY_TIMEOUT_SECONDS,
    CSV_HEADER,
    IMPORT,
    LOGIN,
    PERSONAL,
    USERS,
    AttackStack,
    contacts_of,
)
from tests.e2e.conftest import Stack
from tests.support.raw_http import slow_request


# --- slow-loris bodies ----------------------------------------------------------------------------
def _head(stack: Stack, path: str, token: str, *headers: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", f"X-Auth-Token: {token}",
                        *headers])


def _assert_cut_off(answer: Any) -> None:
    """Answered 408 (not served after the whole trickle), and not before the body timeout."""
    assert answer.status == 408, (answer.status, answer.body)
    body = answer.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == "RequestTimeout"
    assert body["message"]
    assert answer.headers["content-type"] == "application/json"
    assert answer.closed, "the connection should be closed"
    assert answer.elapsed >= BODY_TIMEOUT_SECONDS * 0.9, answer.elapsed


def test_headers_and_then_no_body_are_cut_off(target: AttackStack) -> None:
    head = _head(target, LOGIN, "", "Content-Type: application/json", "Content-Length: 100")

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, [], interval=0))


def test_a_trickled_body_is_cut_off_while_other_clients_are_served(target: AttackStack,
                                                                    victim: httpx.Client) -> None:
    body = json.dumps({"login": "victim", "password": USERS["victim"][0]}).encode().ljust(100)
    head = _head(target, LOGIN, "", "Content-Type: application/json", f"Content-Length: {len(body)}")
    results: list[Any] = []

    thread = Thread(target=lambda: results.append(
        slow_request("127.0.0.1", target.port, head, [bytes([byte]) for byte in body], interval=0.2)))
    thread.start()
    try:
        assert victim.get(PERSONAL).status_code == 200  # the gateway serves others meanwhile
    finally:
        thread.join(30)
    _assert_cut_off(results[0])


def test_a_trickled_chunked_body_is_cut_off(target: AttackStack) -> None:
    head = _head(target, LOGIN, "", "Content-Type: application/json", "Transfer-Encoding: chunked")
    chunks = [b"1\r\n" + bytes([byte]) + b"\r\n" for byte in b'{"login": "victim", "password": "x"}']

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, chunks, interval=0.2))


def test_a_trickled_import_is_cut_off_and_imports_nothing(target: AttackStack, victim: httpx.Client) -> None:
    content = (CSV_HEADER + "\n" + "".join(f",,,,Slow {number},,\n" for number in range(20))).encode()
    head = _head(target, IMPORT, victim.headers["X-Auth-Token"], "Content-Type: text/csv",
                 f"Content-Length: {len(content) + 1000}")
    parts = [content[start:start + 40] for start in range(0, len(content), 40)]

    _assert_cut_off(slow_request("127.0.0.1", target.port, head, parts, interval=0.3))
    # An import of the same user afterwards, waited for: the cut one, had it gone on, would be in too.
    marker = victim.post(IMPORT, content=f"{CSV_HEADER}\n,,,,Marker,,\n".encode(), headers={"Content-Type": "text/csv"})
    assert marker.status_code == 201, marker.text
    assert [entry["entry"][1] for entry in contacts_of(victim)] == ["Marker"]


def test_a_body_that_arrives_in_time_in_pieces_is_read(target: AttackStack) -> None:
    body = json.dumps({"login": "victim", "password": USERS["victim"][0]}).encode()
    head = _head(target, LOGIN, "", "Content-Type: application/json", f"Content-Length: {len(body)}")
    parts = [body[start:start + 10] for start in range(0, len(body), 10)]

    answer = slow_request("127.0.0.1", target.port, head, parts, interval=BODY_TIMEOUT_SECONDS / (2 * len(parts)))

    assert answer.status == 200, answer.body
    assert answer.json()["login"] == "victim"
