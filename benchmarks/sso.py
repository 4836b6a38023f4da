"""Benchmark of OpenID Connect logins: `python -m benchmarks.sso [--seconds N] [--connections N]`.

Starts a local OIDC issuer in its own process (benchmarks/oidc_issuer.py: discovery + JWKS, an
RS256 access token for the benchmark user) and the stack (`xuc up`) configured for it, then
measures, under the same load generator and in interleaved rounds (best of each kept):
  * GET /xuc/api/2.0/auth/oidc   with `Authorization: Bearer <access token>`, the JWKS cache warm
                                 (one login before the rounds fetched it): every request is a full
                                 login, RS256 verification + the user looked up + our token signed
  * GET /xuc/api/2.0/auth/check  with a token of the same user (the foundation benchmark's figure)
and the cores each process kept busy during the best round of each. In-process beforehand, on an
idle machine: what an OIDC login costs in the provider alone (warm keys), PyJWT's RS256 decode as
the provider calls it, and the bare RSA-2048 PKCS#1 v1.5 check. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from benchmarks import harness
from benchmarks.auth import PASSWORD, PROVISION, USER, _median_us, _post_json
from services.auth.adapters.sso.oidc import OidcProvider, keys_from_jwks
from services.auth.domain.sso import OidcCredentials

TARGET = 0.5  # oidc logins/s >= 0.5 x /auth/check requests/s
NO_THROTTLING = {"XUC_LOGIN_MAX_FAILURES": "1000000", "XUC_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000"}


@contextlib.contextmanager
def issuer_process(login: str) -> Iterator[dict[str, Any]]:
    """benchmarks.oidc_issuer in its own process: its URL, token, kid and pid."""
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.oidc_issuer", login], cwd=harness.ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the OIDC issuer did not start (exit {process.wait(10)})")
        yield json.loads(line)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def verification_cost(issuer: dict[str, Any], rounds: int = 400) -> dict[str, float]:
    """Where an OIDC login's time goes inside auth, on an idle machine: the provider's whole
    authenticate() with its keys cached (header parse, key lookup, PyJWT decode, claim checks),
    PyJWT's RS256 decode alone as the provider calls it, and the bare RSA-2048 signature check."""
    token, url = issuer["token"], issuer["url"]
    with urllib.request.urlopen(url + "/protocol/openid-connect/certs", timeout=10) as response:
        key = keys_from_jwks(json.load(response))[issuer["kid"]]
    credentials = OidcCredentials(token)

    async def provider_cost() -> float:
        provider = OidcProvider(url, audience="xuc")
        await provider.authenticate(credentials)  # fetches the JWKS once: the warm cache after it
        loop_rounds, samples = rounds, []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(loop_rounds):
                await provider.authenticate(credentials)
            samples.append((time.perf_counter() - started) / loop_rounds * 1e6)
        await provider.close()
        return sorted(samples)[2]

    def decode() -> object:
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=url, leeway=30,
                          options={"require": ["exp", "iss"], "verify_aud": False})

    signing_input, _, signature = token.rpartition(".")
    raw_signature = jwt.utils.base64url_decode(signature)
    public_key = key.key.key

    def rsa_verify() -> None:
        public_key.verify(raw_signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    return {
        "oidc_provider_authenticate_us": round(asyncio.run(provider_cost()), 1),
        "pyjwt_rs256_decode_us": round(_median_us(decode, rounds), 1),
        "rsa2048_verify_us": round(_median_us(rsa_verify, rounds), 1),
    }


def measured(run: Any, pids: dict[str, int]) -> tuple[harness.LoadResult, dict[str, float]]:
    """One load round, and the cores each process kept busy during it (1.0 = one full core)."""
    before, children, started = harness.process_cpu(pids), harness.children_cpu(), time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    cores = harness.cores(before, harness.process_cpu(pids), elapsed)
    cores["load_generator"] = round((harness.children_cpu() - children) / elapsed, 2)
    return result, cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each measurement")
    options = parser.parse_args()

    figures: dict[str, Any] = {"connections": options.connections, "seconds": options.seconds,
                               "rounds": options.rounds}
    with issuer_process(USER) as issuer:
        figures.update(verification_cost(issuer))
        env = {"XUC_OIDC_ISSUER": issuer["url"], "XUC_OIDC_AUDIENCE": "xuc", **NO_THROTTLING}
        with harness.stack(env) as stack:
            stack.provision(PROVISION)
            token = _post_json(f"{stack.url}/xuc/api/2.0/auth/login", {"login": USER, "password": PASSWORD})["token"]
            oidc_url, oidc_header = f"{stack.url}/xuc/api/2.0/auth/oidc", {"Authorization": f"Bearer {issuer['token']}"}
            check_url, check_header = f"{stack.url}/xuc/api/2.0/auth/check", {"Authorization": f"Bearer {token}"}
            status, answer = _get(oidc_url, oidc_header)  # the first OIDC login fetches the JWKS
            if status != 200 or answer.get("login") != USER:
                raise RuntimeError(f"the warm-up OIDC login failed: HTTP {status} {answer}")
            pids = {**stack.pids(), "oidc_issuer": int(issuer["pid"])}
            runs: dict[str, Callable[[int], harness.LoadResult]] = {
                "oidc": lambda seconds: harness.load(oidc_url, options.connections, seconds, headers=oidc_header),
                "check": lambda seconds: harness.load(check_url, options.connections, seconds, headers=check_header),
            }
            for run in runs.values():
                run(2)  # warm-up, not counted
            results: dict[str, list[tuple[harness.LoadResult, dict[str, float]]]] = {"oidc": [], "check": []}
            for _ in range(options.rounds):  # interleaved, so a noisy moment does not favour one side
                for name, run in runs.items():
                    results[name].append(measured(lambda run=run: run(options.seconds), pids))
    # The fastest round of each is kept (noise only ever slows a round), with its CPU readings.
    best = {name: max(rounds, key=lambda pair: pair[0].rps) for name, rounds in results.items()}
    oidc, check = best["oidc"][0], best["check"][0]
    for label, result in (("GET /auth/oidc", oidc), ("GET /auth/check", check)):
        print(f"{label:<18}{result.rps:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
              f"  errors {result.errors}")
    figures["oidc"], figures["check"] = oidc.as_dict(), check.as_dict()
    figures["oidc_rounds_rps"] = [round(result.rps) for result, _ in results["oidc"]]
    figures["check_rounds_rps"] = [round(result.rps) for result, _ in results["check"]]
    figures["oidc_cpu_cores"], figures["check_cpu_cores"] = best["oidc"][1], best["check"][1]
    figures["oidc_vs_check"] = round(oidc.rps / check.rps, 2)
    figures["target"] = TARGET
    figures["met"] = figures["oidc_vs_check"] >= TARGET
    print(f"OIDC logins = {figures['oidc_vs_check']} x /auth/check (target >= {TARGET}: "
          f"{'met' if figures['met'] else 'NOT met'})")
    print(f"cores busy, OIDC round:  {figures['oidc_cpu_cores']}")
    print(f"cores busy, check round: {figures['check_cpu_cores']}")
    print(f"in auth, per OIDC login (idle machine, keys cached): provider.authenticate "
          f"{figures['oidc_provider_authenticate_us']} us, of which PyJWT RS256 decode "
          f"{figures['pyjwt_rs256_decode_us']} us, of which the RSA-2048 check {figures['rsa2048_verify_us']} us")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
