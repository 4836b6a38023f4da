"""How fast a revocation reaches every verifier: `python -m benchmarks.revocation [--rounds N] [--replicas N]`.

Starts the stack (`xuc up`, with `--replicas` processes of the gateway, auth and contacts),
provisions one user per round, and for each: logs the user in, then watches the token from every
verifying process at once, each poller asking again as soon as it is answered:
  * the gateway (REST `GET /xuc/api/2.0/contact/personal`, on a kept-alive connection),
  * each auth and contacts replica and telephony directly over gRPC (Check, ListContacts,
    GetPhoneStatuses),
while auth disables the user (`UpdateUser disabled=true`). The delay of a process is from auth's
answer (the change is committed; its event is published right after) to the first refusal
(InvalidToken) that process gives. Target: every process refuses within 1 s (docs/performance.md, issue 11).

Baseline, in the same run and on the same pollers: the round trip of one accepted request, which
bounds how finely a poller can see the moment (a delay under it reads as one round trip).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import grpc
import httpx

from benchmarks import harness
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.grpc_errors import reason_of
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

TARGET_SECONDS = 1.0
PASSWORD = "revoked-secret"
GIVE_UP_SECONDS = 10.0

Probe = Callable[[str], Awaitable[bool]]  # token -> refused (InvalidToken)? raises on anything unexpected


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _figures(delays_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(delays_ms), 2), "p99_ms": round(_percentile(delays_ms, 0.99), 2),
            "max_ms": round(max(delays_ms), 2)}


def _gateway_probe(client: httpx.AsyncClient) -> Probe:
    async def refused(token: str) -> bool:
        response = await client.get("/xuc/api/2.0/contact/personal", headers={"X-Auth-Token": token})
        if response.status_code == 200:
            return False
        if response.status_code == 401 and response.json().get("error") == "InvalidToken":
            return True
        raise RuntimeError(f"gateway answered {response.status_code}: {response.text}")

    return refused


def _grpc_probe(call: Callable[[tuple[tuple[str, str], ...]], Awaitable[object]]) -> Probe:
    async def refused(token: str) -> bool:
        try:
            await call((("authorization", f"Bearer {token}"),))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and reason_of(error) == "InvalidToken":
                return True
            raise
        return False

    return refused


async def _watch(probe: Probe, token: str, changed: asyncio.Future[float]) -> float:
    """Seconds from `changed`'s time (auth's answer) to the first refusal this probe sees."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        if await probe(token):
            seen = time.perf_counter()
            return max(0.0, seen - await changed)  # a refusal before the answer arrived counts as 0
    raise RuntimeError(f"still accepted after {GIVE_UP_SECONDS} s")


async def _round_trip_ms(probe: Probe, token: str, times: int = 50) -> list[float]:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        assert not await probe(token)
        taken.append((time.perf_counter() - started) * 1000)
    return taken


async def run(rounds: int, replicas: int) -> dict[str, object]:
    with harness.stack({"XUC_REPLICAS": str(replicas)}) as stack:
        users = [f"revoked{index}" for index in range(rounds)]
        stack.provision("users:\n" + "".join(f"  - {{login: {login}, password: {PASSWORD}, line: \"{2000 + i}\"}}\n"
                                             for i, login in enumerate(users)))
        run_files = {path.stem: json.loads(path.read_text()) for path in (stack.data_dir / "run").glob("*.json")}
        metadata = service_metadata(stack.env.get("XUC_SERVICE_TOKEN") or
                                    (stack.data_dir / "service-token").read_text().strip())
        channels = {name: grpc.aio.insecure_channel(ready["grpc"]) for name, ready in run_files.items()
                    if "grpc" in ready}
        async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
            probes: dict[str, Probe] = {"gateway": _gateway_probe(client)}
            for name, channel in channels.items():
                if name.startswith("contacts"):
                    stub = contacts_pb2_grpc.PersonalContactsStub(channel)
                    probes[name] = _grpc_probe(lambda md, s=stub: s.ListContacts(
                        contacts_pb2.ListContactsRequest(), metadata=md, timeout=5))
                elif name.startswith("auth"):  # auth verifies the tokens it refreshes
                    checks = auth_pb2_grpc.AuthStub(channel)
                    probes[name] = _grpc_probe(lambda md, s=checks: s.Check(auth_pb2.CheckRequest(), metadata=md,
                                                                             timeout=5))
                elif name == "telephony":
                    phones = telephony_pb2_grpc.TelephonyStub(channel)
                    probes[name] = _grpc_probe(lambda md, s=phones: s.GetPhoneStatuses(
                        telephony_pb2.GetPhoneStatusesRequest(numbers=["2000"]), metadata=md, timeout=5))
            auth = auth_pb2_grpc.AuthStub(channels["auth"])
            delays: dict[str, list[float]] = {name: [] for name in probes}
            baseline: dict[str, list[float]] = {name: [] for name in probes}
            for login in users:
                reply = await client.post("/xuc/api/2.0/auth/login", json={"login": login, "password": PASSWORD})
                token = reply.json()["token"]
                for name, probe in probes.items():
                    baseline[name] += await _round_trip_ms(probe, token, times=10)
                changed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                watchers = {name: asyncio.create_task(_watch(probe, token, changed)) for name, probe in probes.items()}
                await auth.UpdateUser(auth_pb2.UpdateUserRequest(login=login, disabled=True), metadata=metadata)
                changed.set_result(time.perf_counter())
                for name, watcher in watchers.items():
                    delays[name].append(await watcher * 1000)
        for channel in channels.values():
            await channel.close()
    worst_p99 = max(_percentile(values, 0.99) for values in delays.values())
    return {
        "rounds": rounds, "replicas": replicas,
        "revocation_delay": {name: _figures(values) for name, values in delays.items()},
        "accepted_round_trip": {name: _figures(values) for name, values in baseline.items()},
        "worst_p99_ms": round(worst_p99, 2),
        "worst_p99_vs_round_trip": round(worst_p99 / statistics.median(
            value for values in baseline.values() for value in values), 2),
        "target_s": TARGET_SECONDS, "met": worst_p99 / 1000 <= TARGET_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1)
    options = parser.parse_args()
    figures = asyncio.run(run(options.rounds, options.replicas))
    for name, delay in figures["revocation_delay"].items():  # type: ignore[attr-defined]
        round_trip = figures["accepted_round_trip"][name]  # type: ignore[index]
        print(f"{name:<11} refused after p50 {delay['p50_ms']:7.2f} ms  p99 {delay['p99_ms']:7.2f} ms  "
              f"max {delay['max_ms']:7.2f} ms   (one accepted request: p50 {round_trip['p50_ms']:.2f} ms)")
    print(f"worst p99 {figures['worst_p99_ms']} ms = {figures['worst_p99_vs_round_trip']} x a request's round trip; "
          f"target <= {TARGET_SECONDS:g} s: {'met' if figures['met'] else 'NOT met'}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
