"""Benchmark of the auth routes: `python -m benchmarks.auth [--seconds N] [--connections N]`.

Starts the stack itself (`xuc up`), then measures, each under the same load generator:
  * GET /xuc/api/2.0/auth/check      (local verify + one hop to auth, which signs a new token)
  * the one-hop baseline             (bare ASGI route + one grpc.aio unary call to an echo server)
  * the bare route                   (no hop: the HTTP floor)
and in-process: token verification as done on every authenticated request (cached and cold),
and the cost of a password login: a user's first on an auth process (Argon2id, by design), and a
repeated one (recognised from memory: docs/auth.md, "Repeated logins"). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks import harness
from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.model import Profile, User
from xuc.security.tokens import TokenVerifier

USER = "benchuser"
PASSWORD = "bench-secret"
LOGIN_USERS = [f"{USER}{n}" for n in range(10)]  # each logged in for the first time once
PROVISION = "users:\n" + "".join(f"  - {{login: {login}, password: {PASSWORD}}}\n" for login in LOGIN_USERS) + \
    f"  - {{login: {USER}, password: {PASSWORD}, line: '1001'}}\n"


def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def login_cost(base: str) -> dict[str, float]:
    """Mean time of a user's first login (Argon2id verifies the password), then of the same
    users' next logins."""
    figures = {}
    for figure in ("login_first_ms_mean", "login_again_ms_mean"):
        started = time.perf_counter()
        for login in LOGIN_USERS:
            _post_json(f"{base}/xuc/api/2.0/auth/login", {"login": login, "password": PASSWORD})
        figures[figure] = round((time.perf_counter() - started) / len(LOGIN_USERS) * 1000, 1)
    return figures


def _median_us(action: Callable[[], object], rounds: int, batches: int = 5) -> float:
    timings = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(rounds):
            action()
        timings.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(timings)


def verification_cost(rounds: int = 2000) -> dict[str, float]:
    """Token verification as the gateway does it, on an idle machine: a token seen before (the
    common case: one token per session) and at first sight; next to the bare ECDSA check."""
    key = ec.generate_private_key(ec.SECP256R1())
    user = User("benchuser", "unused", Profile(), id=str(uuid.uuid4()))
    token = JwtIssuer(key, "xuc", 3600).issue(user, time.time()).token
    warm = TokenVerifier("xuc", [key.public_key()])
    warm.verify(token)
    # Each request brings its own copy of the header value: a new string whose hash is not cached.
    copies = iter([token[:8] + token[8:] for _ in range(rounds * 5)])
    cold = TokenVerifier("xuc", [key.public_key()], cache_size=0)
    public_key, message = key.public_key(), b"x" * 250
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    return {
        "verify_cached_us": round(_median_us(lambda: warm.verify(next(copies)), rounds), 2),
        "verify_cold_us": round(_median_us(lambda: cold.verify(token), rounds // 4), 1),
        "ecdsa_p256_verify_us": round(_median_us(
            lambda: public_key.verify(signature, message, ec.ECDSA(hashes.SHA256())), rounds // 4), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each measurement")
    options = parser.parse_args()

    figures: dict[str, Any] = {"connections": options.connections, "seconds": options.seconds,
                               "rounds": options.rounds}
    figures.update(verification_cost())
    with harness.stack() as stack, harness.baseline() as urls:
        stack.provision(PROVISION)
        token = _post_json(f"{stack.url}/xuc/api/2.0/auth/login", {"login": USER, "password": PASSWORD})["token"]
        check_url, auth_header = f"{stack.url}/xuc/api/2.0/auth/check", {"Authorization": f"Bearer {token}"}
        for url, headers in ((check_url, auth_header), (urls["hop"], {}), (urls["bare"], {})):
            harness.load(url, options.connections, 2, headers=headers)  # warm-up, not counted
        results: dict[str, list[harness.LoadResult]] = {"check": [], "hop": [], "bare": []}
        for _ in range(options.rounds):  # interleaved, so a noisy moment does not favour one side
            results["check"].append(harness.load(check_url, options.connections, options.seconds,
                                                 headers=auth_header))
            results["hop"].append(harness.load(urls["hop"], options.connections, options.seconds))
            results["bare"].append(harness.load(urls["bare"], options.connections, options.seconds))
        figures.update(login_cost(stack.url))
    check, hop, bare = (harness.best_of(results[name]) for name in ("check", "hop", "bare"))
    for label, result in (("GET /auth/check", check), ("baseline, one hop", hop), ("bare route, no hop", bare)):
        print(f"{label:<20}{result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
              f"  errors {result.errors}")
    figures["check"] = check.as_dict()
    figures["baseline_one_hop"] = hop.as_dict()
    figures["bare_route"] = bare.as_dict()
    figures["check_vs_baseline"] = round(check.rps / hop.rps, 2)
    print(f"/auth/check = {figures['check_vs_baseline']} x the one-hop baseline (target >= 0.6, p99 < 20 ms)")
    print(f"token verification: {figures['verify_cached_us']} us for a token seen before, "
          f"{figures['verify_cold_us']} us at first sight (ECDSA P-256 check alone: "
          f"{figures['ecdsa_p256_verify_us']} us; target <= 100 us)")
    print(f"password login: {figures['login_first_ms_mean']} ms a user's first (argon2id t=3 m=65536KiB p=4), "
          f"{figures['login_again_ms_mean']} ms the next ones")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
