"""A steady load of mixed requests against a running gateway, recording every outcome.

Each worker thread cycles through auth checks, contact reads (the list, one contact), contact
creations with an Idempotency-Key, and (less often: Argon2 is costly) logins, as one user. It
behaves as docs/operations.md ("Scale-out") tells a client to: a request that fails at the connection level
(refused, reset, closed before any answer) is sent again, the same request with the same
Idempotency-Key, for up to CLIENT_RETRY_SECONDS. Every request's final outcome is recorded.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "/xuc/api/2.0"
CONTACTS = f"{BASE}/contact/personal"
CLIENT_RETRY_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 30.0
# One cycle of a worker: mostly reads, some creations, a login now and then.
CYCLE = ("check", "list", "create", "get", "check", "list", "get", "create", "check", "list",
         "get", "create", "check", "list", "get", "login")


@dataclass
class Outcome:
    operation: str
    started: float  # time.monotonic()
    ended: float
    attempts: int
    status: int = 0  # 0: no answer (error says why)
    error: str = ""
    body: Any = None
    key: str = ""  # the Idempotency-Key of a creation
    lastname: str = ""  # unique per creation: how the contact is found again

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Load:
    """Workers (one per (login, password)) hitting `base_url` until `stop()`."""

    base_url: str
    users: list[tuple[str, str]]
    pause_seconds: float = 0.01
    # Connection-level failures are retried (same request, same key) unless this says stop: the
    # SIGTERM test stops retrying once the whole stack is going down.
    retry_connection_errors: Callable[[], bool] = lambda: True
    outcomes: list[Outcome] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for index, (login, password) in enumerate(self.users):
            thread = threading.Thread(target=self._work, args=(index, login, password), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, within: float = 60.0) -> list[Outcome]:
        self._stopping.set()
        for thread in self._threads:
            thread.join(within)
            assert not thread.is_alive(), "a load worker did not stop"
        return list(self.outcomes)

    def since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [outcome for outcome in self.outcomes if outcome.started >= moment]

    # -- one worker --
    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def _send(self, client: httpx.Client, operation: str, method: str, path: str, **kwargs: Any) -> Outcome:
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error}"
                if (self.retry_connection_errors() and not isinstance(error, httpx.TimeoutException)
                        and time.monotonic() - started < CLIENT_RETRY_SECONDS):
                    time.sleep(RETRY_PAUSE_SECONDS)
                    continue
                return Outcome(operation, started, time.monotonic(), attempts, error=failure)
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = response.text
            return Outcome(operation, started, time.monotonic(), attempts, status=response.status_code, body=body)

    def _work(self, index: int, login: str, password: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            token = ""
            contact_ids: list[str] = []
            step = 0
            while not self._stopping.is_set():
                operation = CYCLE[step % len(CYCLE)] if token else "login"
                step += 1
                headers = {"X-Auth-Token": token}
                if operation == "login":
                    outcome = self._send(client, operation, "POST", f"{BASE}/auth/login",
                                         json={"login": login, "password": password})
                    if outcome.status == 200:
                        token = outcome.body["token"]
                elif operation == "check":
                    outcome = self._send(client, operation, "GET", f"{BASE}/auth/check", headers=headers)
                elif operation == "list":
                    outcome = self._send(client, operation, "GET", CONTACTS, headers=headers)
                elif operation == "get":
                    if not contact_ids:
                        continue
                    contact_id = contact_ids[step % len(contact_ids)]
                    outcome = self._send(client, operation, "GET", f"{CONTACTS}/{contact_id}", headers=headers)
                else:
                    key = uuid.uuid4().hex
                    lastname = f"load-{index}-{key[:12]}"
                    outcome = self._send(client, operation, "POST", CONTACTS,
                                         headers={**headers, "Idempotency-Key": key},
                                         json={"firstname": "Replica", "lastname": lastname,
                                               "number": f"0{int(key[:8], 16) % 10**9:09d}"})
                    outcome.key, outcome.lastname = key, lastname
                    if outcome.status == 201:
                        contact_ids.append(outcome.body["id"])
                self._record(outcome)
                time.sleep(self.pause_seconds)
