"""Benchmark of the auth routes: `python -m benchmarks.auth [--seconds N] [--connections N]`.

Starts the stack itself (`xuc up`), then measures, each under the same load generator:
  * GET /xuc/api/2.0/auth/check      (local verify + one hop to auth, which signs a new token)
  * the one-hop baseline             (bare ASGI route + one grpc.aio unary call to an echo server)
  * the bare route                   (no hop: the HTTP floor)
and in-process: token verification as done on every authenticated request (cached and cold),
and the cost of a password login (bound by Argon2id by design). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from typing import Any

from benchmarks import harness
from xuc.security.tokens import TokenVerifier

USER = "benchuser"
PASSWORD = "bench-secret"
PROVISION = f"users:\n  - {{login: {USER}, password: {PASSWORD}, line: '1001'}}\n"


def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def login_cost(base: str, count: int = 10) -> dict[str, float]:
    started = time.perf_counter()
    for _ in range(count):
        _post_json(f"{base}/xuc/api/2.0/auth/login", {"login": USER, "password": PASSWORD})
    return {"login_ms_mean": round((time.perf_counter() - started) / count * 1000, 1)}


def verification_cost(token: str, keys_pem: list[str], issuer: str, rounds: int = 2000) -> dict[str, float]:
    """Token verification as the gateway does it: warm (the token was seen) and cold (first sight)."""
    from xuc.security.tokens import load_public_key

    keys = [load_public_key(pem) for pem in keys_pem]
    warm = TokenVerifier(issuer, keys)
    warm.verify(token)
    # Each request brings its own copy of the header value: a new string whose hash is not cached.
    copies = [token[:8] + token[8:] for _ in range(rounds)]
    started = time.perf_counter()
    for copy in copies:
        warm.verify(copy)
    warm_us = (time.perf_counter() - started) / rounds * 1e6
    cold = TokenVerifier(issuer, keys, cache_size=0)
    started = time.perf_counter()
    for _ in range(rounds // 4):
        cold.verify(token)
    cold_us = (time.perf_counter() - started) / (rounds // 4) * 1e6
    return {"verify_cached_us": round(warm_us, 2), "verify_cold_us": round(cold_us, 1)}


def public_keys(stack: harness.Stack) -> tuple[list[str], str]:
    """The verification keys, read the way a service gets them (GetPublicKeys over gRPC)."""
    import asyncio

    from xuc.runtime.grpc_client import channel, service_metadata
    from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

    address = json.loads((stack.data_dir / "run" / "auth.json").read_text())["grpc"]
    token = (stack.data_dir / "service-token").read_text().strip()

    async def fetch() -> tuple[list[str], str]:
        async with channel(address) as open_channel:
            reply = await auth_pb2_grpc.AuthStub(open_channel).GetPublicKeys(
                auth_pb2.GetPublicKeysRequest(), metadata=service_metadata(token))
            return [key.pem for key in reply.keys], reply.issuer

    return asyncio.run(fetch())


def best_of(rounds: list[harness.LoadResult]) -> harness.LoadResult:
    """The round with the most requests/s: noise on a shared machine only ever slows a round."""
    return max(rounds, key=lambda result: result.rps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each measurement")
    options = parser.parse_args()

    figures: dict[str, Any] = {"connections": options.connections, "seconds": options.seconds,
                               "rounds": options.rounds}
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
        figures.update(verification_cost(token, *public_keys(stack)))
    check, hop, bare = (best_of(results[name]) for name in ("check", "hop", "bare"))
    for label, result in (("GET /auth/check", check), ("baseline, one hop", hop), ("bare route, no hop", bare)):
        print(f"{label:<20}{result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
              f"  errors {result.errors}")
    figures["check"] = check.as_dict()
    figures["baseline_one_hop"] = hop.as_dict()
    figures["bare_route"] = bare.as_dict()
    figures["check_vs_baseline"] = round(check.rps / hop.rps, 2)
    print(f"/auth/check = {figures['check_vs_baseline']} x the one-hop baseline (target >= 0.6, p99 < 20 ms)")
    print(f"token verification: {figures['verify_cached_us']} us cached, {figures['verify_cold_us']} us cold"
          " (target <= 100 us)")
    print(f"password login: {figures['login_ms_mean']} ms each (argon2id t=3 m=65536KiB p=4)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
