"""Faults of a scaled-out stack (`xuc up` with XUC_REPLICAS=2), with real processes on loopback.

(a) Under a steady load of mixed requests, one replica of the gateway, then of auth, then of
    contacts is killed with SIGKILL: every request is answered as if nothing happened (the gateway
    retries its gRPC calls on the other replica; the client retries a connection error to the
    gateway, the same request with the same Idempotency-Key, as docs/operations.md says), within a
    generous bound; no contact is created twice; each killed replica comes back.
(b) SIGTERM to `xuc up` under load: the requests in flight are answered (an import of thousands of
    lines among them), `xuc up` stops cleanly, and every contact a 201 announced is there after a
    restart on the same data directory.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.conftest import BASE, Stack
from tests.support.replica_load import CONTACTS, Load, Outcome

StartStack = Callable[..., Stack]
USERS = {f"replica.user{index}": f"replica-secret-{index}" for index in range(5)}
EXPECTED_STATUS = {"login": 200, "check": 200, "list": 200, "get": 200, "create": 201}
LOAD_BETWEEN_KILLS_SECONDS = 3.0
RESTART_TIMEOUT_SECONDS = 45.0
# The retry window (docs/operations.md, "Scale-out": 1.5 s of gRPC retries, a client retry of a few tenths of a
# second) is far below this; the bound is generous because 2 shared cores run 8 processes, a load
# and a replica starting again.
SLOWEST_ANSWER_SECONDS = 15.0
IMPORT_LINES = 50_000


IMPORTER = ("replica.importer", "importer-secret")
PASSWORDS = {**USERS, IMPORTER[0]: IMPORTER[1]}


def _token(client: httpx.Client, login: str) -> str:
    response = client.post(f"{BASE}/auth/login", json={"login": login, "password": PASSWORDS[login]})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _contacts(stack: Stack, login: str) -> list[dict[str, Any]]:
    """(id, lastname) of every contact of the user, read through the full contact route."""
    with httpx.Client(base_url=stack.url, timeout=30.0) as client:
        headers = {"X-Auth-Token": _token(client, login)}
        response = client.get(CONTACTS, headers=headers)
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return [{"id": entry["id"], "lastname": entry["entry"][1]} for entry in entries]


def _assert_idempotent_creation(stack: Stack) -> None:
    """The gateway and contacts honour Idempotency-Key (docs/contacts.md, "Idempotent creation"): the same
    creation twice with one key answers 201 and the same contact."""
    with httpx.Client(base_url=stack.url, timeout=30.0) as client:
        headers = {"X-Auth-Token": _token(client, "replica.user0"), "Idempotency-Key": uuid.uuid4().hex}
        body = {"firstname": "Probe", "lastname": f"probe-{uuid.uuid4().hex[:8]}", "number": "0100000000"}
        first = client.post(CONTACTS, headers=headers, json=body)
        assert first.status_code == 201, first.text
        again = client.post(CONTACTS, headers=headers, json=body)
        assert again.status_code == 201, again.text
        assert again.json() == first.json()


@dataclass
class TrackedLoad(Load):
    """A Load that also knows when each request in progress started (what is in flight now)."""

    _in_flight: dict[int, float] = field(default_factory=dict)
    _tracking: threading.Lock = field(default_factory=threading.Lock)

    def _send(self, client: httpx.Client, operation: str, method: str, path: str, **kwargs: Any) -> Outcome:
        worker = threading.get_ident()  # one request at a time per worker thread
        with self._tracking:
            self._in_flight[worker] = time.monotonic()
        try:
            return super()._send(client, operation, method, path, **kwargs)
        finally:
            with self._tracking:
                del self._in_flight[worker]

    def in_flight_since(self, moment: float) -> bool:
        """Whether a request that started before `moment` is still unanswered now."""
        with self._tracking:
            return any(started < moment for started in self._in_flight.values())


def _moment_with_a_request_in_flight(load: TrackedLoad) -> float:
    """A moment (just before a kill) at which a request of the load was in progress: the requests
    are a few milliseconds apart, so one is found at once."""
    deadline = time.monotonic() + 30
    while True:
        moment = time.monotonic()
        if load.in_flight_since(moment):
            return moment
        assert moment < deadline, "no request of the load was ever in flight"
        time.sleep(0.001)


def _wait_for_traffic(load: Load, since: float, answers: int = 20) -> None:
    deadline = time.monotonic() + 60
    while len([outcome for outcome in load.since(since) if outcome.status]) < answers:
        assert time.monotonic() < deadline, "the load got no answers"
        time.sleep(0.1)


def _wait_restarted(stack: Stack, name: str, killed: int) -> int:
    """The pid of the replica that replaced `killed` (its run file rewritten, the launcher's line)."""
    deadline = time.monotonic() + RESTART_TIMEOUT_SECONDS
    while True:
        assert stack.process is not None
        assert stack.process.poll() is None, stack.log()
        path = stack.run_dir / f"{name}.json"
        if f"xuc: {name} restarted" in stack.log() and path.exists():
            pid = int(stack.run_file(name)["pid"])
            if pid != killed:
                return pid
        assert time.monotonic() < deadline, f"{name} not restarted within {RESTART_TIMEOUT_SECONDS:.0f} s:\n" \
                                            f"{stack.log()}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _summary(outcomes: list[Outcome]) -> str:
    return "; ".join(f"{o.operation} {o.status or o.error} after {o.seconds:.2f} s, {o.attempts} attempt(s)"
                     for o in outcomes[:10])


def _assert_each_creation_once(stack: Stack, created: list[Outcome], unknown: list[Outcome]) -> None:
    """Every 201 answered contact exists once, with the id the answer gave; a creation without an
    answer exists at most once."""
    by_user: dict[str, list[dict[str, Any]]] = {login: _contacts(stack, login) for login in USERS}
    counts = Counter(contact["lastname"] for contacts in by_user.values() for contact in contacts)
    ids = {contact["lastname"]: contact["id"] for contacts in by_user.values() for contact in contacts}
    duplicated = {name: count for name, count in counts.items() if count > 1}
    assert not duplicated, f"contacts created more than once: {duplicated}"
    missing = [o.lastname for o in created if ids.get(o.lastname) != o.body["id"]]
    assert not missing, f"answered 201 but not there (or under another id): {missing[:10]}"
    assert all(counts[o.lastname] <= 1 for o in unknown)


# --- (a) -------------------------------------------------------------------------------------------
def test_killing_a_replica_of_each_component_under_load_costs_no_error(make_stack: StartStack) -> None:
    stack = make_stack(XUC_REPLICAS="2")
    stack.provision(USERS)
    _assert_idempotent_creation(stack)
    began = time.monotonic()
    load = TrackedLoad(stack.url, list(USERS.items()))
    load.start()
    restarted: dict[str, tuple[int, int]] = {}
    kills: list[float] = []
    try:
        _wait_for_traffic(load, began)
        for name in ("gateway", "auth", "contacts"):
            time.sleep(LOAD_BETWEEN_KILLS_SECONDS)
            killed = int(stack.run_file(name)["pid"])
            kills.append(_moment_with_a_request_in_flight(load))
            os.kill(killed, signal.SIGKILL)
            restarted[name] = (killed, _wait_restarted(stack, name, killed))
            _wait_for_traffic(load, time.monotonic())  # served again, with the new replica in the set
        time.sleep(LOAD_BETWEEN_KILLS_SECONDS)
    finally:
        outcomes = load.stop()

    print(f"{len(outcomes)} requests, {sum(o.attempts > 1 for o in outcomes)} retried by the client, slowest "
          f"{max(o.seconds for o in outcomes):.2f} s")
    # The load ran across every kill: a request was in progress at each, and it was answered.
    for name, moment in zip(("gateway", "auth", "contacts"), kills, strict=True):
        assert any(o.started < moment < o.ended for o in outcomes), f"nothing in flight when {name} was killed"
    assert len(outcomes) > 200, len(outcomes)

    failed = [o for o in outcomes if o.status != EXPECTED_STATUS[o.operation]]
    # A creation retried (by gRPC, or by the client) after its first attempt was applied answers 201
    # and the same contact, thanks to its Idempotency-Key: never 409 DuplicateContact.
    refused_creations = [o for o in failed if o.operation == "create" and o.status == 409]
    assert not refused_creations, f"retried creations answered 409 despite their Idempotency-Key: " \
                                  f"{_summary(refused_creations)}"
    assert not failed, f"{len(failed)} failed request(s): {_summary(failed)}"
    slow = [o for o in outcomes if o.seconds > SLOWEST_ANSWER_SECONDS]
    assert not slow, f"answers slower than {SLOWEST_ANSWER_SECONDS:.0f} s: {_summary(slow)}"

    created = [o for o in outcomes if o.operation == "create" and o.status == 201]
    assert created
    _assert_each_creation_once(stack, created, [])

    for name, (killed, replacement) in restarted.items():
        assert not _alive(killed)
        assert _alive(replacement), f"{name} replacement died:\n{stack.log()}"
    assert stack.log().count("xuc: ready") == 1  # the stack itself never restarted
    assert not [line for line in stack.log().splitlines() if "stopping everything" in line], stack.log()


# --- (b) -------------------------------------------------------------------------------------------
def _import(stack: Stack, login: str, lines: int, into: list[tuple[httpx.Response | BaseException, float]],
            sent: threading.Event) -> None:
    """POST an import of `lines` contacts; (its answer or error, when it came) go to `into`."""
    csv = "firstname,lastname,number\n" + "".join(f"Imported,import-{index:06d},03{index:08d}\n"
                                                  for index in range(lines))
    try:
        with httpx.Client(base_url=stack.url, timeout=60.0) as client:
            headers = {"X-Auth-Token": _token(client, login), "Content-Type": "text/csv; charset=utf-8"}
            sent.set()
            answer = client.post(f"{BASE}/contact/import/personal", content=csv.encode(), headers=headers)
            into.append((answer, time.monotonic()))
    except BaseException as error:
        into.append((error, time.monotonic()))


def _not_accepted(outcome: Outcome) -> bool:
    """A connection-level failure that means the gateway never took the request: refused, or a kept-alive
    connection closed before anything was answered (httpx: 'Server disconnected without sending a
    response'). A request cut mid-answer would read 'peer closed connection without sending complete
    message body' and is not one of these."""
    return outcome.error.startswith("ConnectError") or "without sending a response" in outcome.error \
        or (outcome.error.startswith(("ReadError", "WriteError")) and "reset" in outcome.error.lower())


def test_sigterm_under_load_answers_the_requests_in_flight_and_loses_nothing(make_stack: StartStack) -> None:
    stack = make_stack(XUC_REPLICAS="2")
    stack.provision(PASSWORDS)
    terminating = threading.Event()
    began = time.monotonic()
    load = Load(stack.url, list(USERS.items()), retry_connection_errors=lambda: not terminating.is_set()).start()
    imported: list[tuple[httpx.Response | BaseException, float]] = []
    try:
        _wait_for_traffic(load, began, answers=100)
        sent = threading.Event()
        importer = threading.Thread(target=_import, args=(stack, IMPORTER[0], IMPORT_LINES, imported, sent))
        importer.start()
        assert sent.wait(30)
        time.sleep(0.5)  # the body sent: the import is being applied (it takes seconds)
        terminating.set()
        signalled = time.monotonic()
        stack.stop()  # SIGTERM; exit code 0 and "xuc: stopped" asserted
        importer.join(60)
    finally:
        outcomes = load.stop()

    ((answer, answered_at),) = imported
    assert isinstance(answer, httpx.Response), repr(answer)
    assert answered_at > signalled, f"the import was not in flight at SIGTERM: raise IMPORT_LINES\n{stack.log()}"
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["created"]) == IMPORT_LINES
    print(f"{len(outcomes)} requests, {sum(o.ended >= signalled for o in outcomes if o.status)} answered after "
          f"SIGTERM, {sum(not o.status for o in outcomes)} refused; the import answered "
          f"{answer.elapsed.total_seconds():.2f} s after it was sent, {answered_at - signalled:.2f} s after SIGTERM")
    assert "timeout graceful shutdown exceeded" not in stack.log(), stack.log()

    answered = [o for o in outcomes if o.status]
    wrong = [o for o in answered if o.status != EXPECTED_STATUS[o.operation]]
    assert not wrong, f"in-flight requests answered with errors: {_summary(wrong)}"
    unanswered = [o for o in outcomes if not o.status]
    assert all(o.ended >= signalled for o in unanswered), _summary(unanswered)
    cut = [o for o in unanswered if not _not_accepted(o)]
    assert not cut, f"requests cut while being answered: {_summary(cut)}"
    assert any(o.ended >= signalled for o in answered), "nothing was in flight at SIGTERM"

    stack.start()  # the same data directory
    created = [o for o in outcomes if o.operation == "create" and o.status == 201]
    _assert_each_creation_once(stack, created, [o for o in unanswered if o.operation == "create"])
    imported_names = Counter(contact["lastname"] for contact in _contacts(stack, IMPORTER[0]))
    assert len(imported_names) == IMPORT_LINES
    assert set(imported_names.values()) == {1}
