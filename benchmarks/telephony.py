"""Benchmark of telephony: `python -m benchmarks.telephony [--seconds N] [--event-rate N] [--skip-dial] [--pbx ami]`.

Starts its own event URL receiver (benchmarks/webhook_sink.py, a separate process) and the stack
(`xuc up`, PBX simulator, DEPRECATED_API_HOST=127.0.0.1, XUC_EVENT_URL at the receiver, a short
ring timeout), provisions users with lines (bench001/1001, ...), then measures, ending with one
JSON line:

  * **dial**: POST /xuc/api/1.0/dial/{domain}/{user}/ {"number": <an external number>}, the users in
    turn, under wrk (or benchmarks/loadgen.py) at 50 connections: requests/s and p99 next to the
    one-hop baseline (bare ASGI route + one grpc.aio call) measured in the same run, rounds
    interleaved, best round of each kept. Every dial is a real simulated call: the user's line is
    auto-answered and dials out (EventDialing + phone status at the event URL), the external
    number rings until the ring timeout (`--ring-timeout`, 1 s: the simulator holds about
    rate x 1 s calls, bounded) releases it (EventReleased, status, a call history row). Those
    events flow to the receiver during and after the load; before each baseline round the
    benchmark waits until they have drained (no call left, receiver quiet), so the telephony
    service's catching-up does not slow the baseline, and reports how long that took.
  * **event path**, PBX adapter to the event URL: benchmarks/event_driver.py (a separate process)
    places calls from external numbers to the lines through the Simulator gRPC API at a fixed
    rate and hangs each up 0.1 s later: each call is 4 events at the receiver (EventRinging,
    status 8, EventReleased, status 0), so `--event-rate 1000` is 250 calls/s, 500 RPCs/s, for
    `--event-seconds`. Latency of an event = its arrival at the receiver (when its handler starts)
    minus the moment the Simulator RPC that made the adapter produce it was answered at the driver
    (the adapter queues the channel events before it answers); both clocks are CLOCK_MONOTONIC
    of the same machine. Also reported from the moment the RPC was *sent* (an upper bound that
    adds the request's way in). Phone events are matched by (uniqueId, eventType); status changes
    by order per user (the n-th "8" of a user is its line's n-th call; per-user order holds with
    one gateway). Lost = events expected (4 per call whose RPCs succeeded) minus those matched,
    counted once the receiver has been quiet for 2 s. The driver also taps the subjects on NATS
    (a plain subscription), which splits the latency into adapter -> NATS (the telephony service
    turning channel events into published events) and NATS -> receiver (the gateway's forwarder).
  * **GetPhoneStatuses** for 1,000 numbers (every provisioned line and unknown numbers, shuffled):
    direct gRPC calls to the telephony service with the service token, one at a time: p50/p99.

With `--pbx ami` the stack's PBX is a scripted Asterisk instead of the simulator: benchmarks/ami_pbx.py
(a separate process, started before the stack, which gets XUC_PBX=ami://... at it) speaks the AMI
wire protocol on one TCP connection, as a real Asterisk does. Once the telephony service is logged
in (GetPbxState connected) and knows every line (GetPhoneStatuses 0, not -2), it plays the same
calls (an external number rings a line, released `--hold` s later) as AMI event frames, 2 writes
per call, and times each write. Latency of an event = its arrival minus the moment the write of
the frames that made it returned (the bytes were in the kernel); matching (phone events by
uniqueId, statuses by order per user), lost and the NATS split as above. No dial rounds (they need
the simulator); the event path and GetPhoneStatuses only; the JSON line says "pbx": "ami".

Also reported, to tell where the time goes: the cores each process kept busy (/proc/<pid>/stat)
during the best dial round and under the offered event load. Everything, load generator and
driver included, shares the machine: on 2 cores the figures are those of a saturated box.

The processes and waits around the stack are in benchmarks/telephony_stack.py, the event path's
driving and matching in benchmarks/telephony_event_path.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
from typing import Any

import grpc

from benchmarks import harness
from benchmarks.telephony_event_path import event_path, percentile
from benchmarks.telephony_stack import ami_pbx, sink_call, telephony_address, wait_for_drain, wait_for_pbx, webhook_sink
from xuc.launcher import load_service_token
from xuc.runtime.grpc_client import service_metadata
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

DOMAIN = "avencall.com"
FIRST_LINE = 1001
DIALLED = "0612345678"  # an external number: rings "outside" until the ring timeout
TARGETS = {"dial_vs_baseline": 0.6, "event_p99_ms": 10.0, "events_lost": 0, "statuses_p99_ms": 5.0}


def users(count: int) -> dict[str, str]:
    """login -> line."""
    return {f"bench{i + 1:03d}": str(FIRST_LINE + i) for i in range(count)}


def provision_document(lines: dict[str, str]) -> str:
    return "users:\n" + "".join(f"  - {{login: {login}, password: bench-secret, line: '{line}'}}\n"
                                for login, line in lines.items())


# --- dial ---------------------------------------------------------------------------------------------
def dial_rounds(stack: harness.Stack, sink: str, hop_url: str, logins: list[str], simulator: Any, metadata: Any,
                options: argparse.Namespace, others: dict[str, int]) -> dict[str, Any]:
    paths = [f"/xuc/api/1.0/dial/{DOMAIN}/{login}/" for login in logins]
    body = json.dumps({"number": DIALLED}).encode()
    headers = {"Content-Type": "application/json"}

    def dial(seconds: int) -> harness.LoadResult:
        return harness.load(stack.url + paths[0], options.connections, seconds, headers=headers, method="POST",
                            body=body, paths=paths)

    dial(2)  # warm-up, not counted
    harness.load(hop_url, options.connections, 2)
    drains: list[float] = []
    events: list[int] = []
    cpu: list[dict[str, float]] = []
    drains.append(wait_for_drain(sink, simulator, metadata))
    results: dict[str, list[harness.LoadResult]] = {"dial": [], "hop": []}
    for _ in range(options.rounds):
        results["hop"].append(harness.load(hop_url, options.connections, options.seconds))
        before = sink_call(sink, "/_stats")["count"]
        cpu_before, children_before = harness.cpu_seconds(stack, others), harness.children_cpu()
        started = time.monotonic()
        results["dial"].append(dial(options.seconds))
        elapsed = time.monotonic() - started
        cpu.append(harness.cores(cpu_before, harness.cpu_seconds(stack, others), elapsed))
        cpu[-1]["load_generator"] = round((harness.children_cpu() - children_before) / elapsed, 2)
        drains.append(wait_for_drain(sink, simulator, metadata))
        events.append(sink_call(sink, "/_stats")["count"] - before)
    dial_best = max(results["dial"], key=lambda result: result.rps)
    hop_best = max(results["hop"], key=lambda result: result.rps)
    return {"dial": dial_best.as_dict(), "baseline_one_hop": hop_best.as_dict(),
            "dial_vs_baseline": round(dial_best.rps / hop_best.rps, 2),
            "dial_rounds_rps": [round(result.rps) for result in results["dial"]],
            "baseline_rounds_rps": [round(result.rps) for result in results["hop"]],
            "dial_events_per_round": events, "dial_drain_s": drains[1:],
            "dial_cpu_cores": cpu[results["dial"].index(dial_best)]}


# --- GetPhoneStatuses ---------------------------------------------------------------------------------
def phone_statuses(telephony: Any, metadata: Any, lines: dict[str, str], count: int) -> dict[str, Any]:
    numbers = list(lines.values()) + [f"0145{i:06d}" for i in range(1000 - len(lines))]
    random.Random(7).shuffle(numbers)
    request = telephony_pb2.GetPhoneStatusesRequest(numbers=numbers)
    for _ in range(50):  # warm-up
        telephony.GetPhoneStatuses(request, metadata=metadata, timeout=5)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        reply = telephony.GetPhoneStatuses(request, metadata=metadata, timeout=5)
        timings.append((time.perf_counter() - started) * 1000)
    if len(reply.statuses) != len(numbers):
        raise RuntimeError(f"{len(reply.statuses)} statuses for {len(numbers)} numbers")
    timings.sort()
    return {"numbers": len(numbers), "known": len(lines), "calls": count,
            "p50_ms": round(percentile(timings, 0.50), 2), "p99_ms": round(percentile(timings, 0.99), 2)}


def report(figures: dict[str, Any]) -> None:
    """The human-readable lines, then the targets' outcome and the one JSON line."""
    targets: dict[str, bool] = {}
    met = {True: "met", False: "NOT met"}
    if "dial" in figures:
        targets["dial_vs_baseline"] = figures["dial_vs_baseline"] >= TARGETS["dial_vs_baseline"]
        for label, result in (("POST /1.0/dial (50 users)", figures["dial"]),
                              ("baseline, one hop", figures["baseline_one_hop"])):
            print(f"{label:<27}{result['rps']:9.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                  f"p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}")
        print(f"dial = {figures['dial_vs_baseline']} x the one-hop baseline (target >= 0.6: "
              f"{met[targets['dial_vs_baseline']]}); rounds: dial {figures['dial_rounds_rps']}, "
              f"baseline {figures['baseline_rounds_rps']} req/s")
        print(f"  events the dial rounds caused at the event URL: {figures['dial_events_per_round']}, the last "
              f"arriving {figures['dial_drain_s']} s after each round; cores busy during the best round: "
              f"{figures['dial_cpu_cores']}")
    events = figures["events"]
    ami = figures.get("pbx") == "ami"
    source = "the AMI frames' write" if ami else "the Simulator RPC's answer"
    targets["event_p99"] = events["p99_ms"] <= TARGETS["event_p99_ms"]
    targets["events_lost"] = events["lost"] <= TARGETS["events_lost"]
    print(f"event path, adapter -> event URL, {events['offered_events_per_s']} events/s offered for "
          f"{events['seconds']} s ({events['calls']} calls): received {events['received']} of "
          f"{events['expected']} ({events['received_per_s']}/s), lost {events['lost']} "
          f"(target 0: {met[targets['events_lost']]}), duplicates {events['duplicates']}")
    print(f"  latency from {source}: p50 {events['p50_ms']} ms, p99 {events['p99_ms']} ms, "
          f"max {events['max_ms']} ms (target p99 <= 10 ms: {met[targets['event_p99']]})")
    print(f"  of which adapter -> NATS (a tap on the subjects): p50 {events['adapter_to_nats_p50_ms']} ms, "
          f"p99 {events['adapter_to_nats_p99_ms']} ms; NATS -> receiver: p50 {events['nats_to_receiver_p50_ms']} ms, "
          f"p99 {events['nats_to_receiver_p99_ms']} ms")
    sent = "before the AMI write" if ami else "the Simulator RPC's sending"
    print(f"  latency from {sent}: p50 {events['p50_from_sent_ms']} ms, "
          f"p99 {events['p99_from_sent_ms']} ms; driver late vs schedule p99 {events['driver_late_p99_ms']} ms")
    print(f"  cores busy under the offered event load: {events['cpu_cores']}")
    status = figures["phone_statuses"]
    targets["phone_statuses_p99"] = status["p99_ms"] <= TARGETS["statuses_p99_ms"]
    print(f"GetPhoneStatuses, {status['numbers']} numbers ({status['known']} lines), one call at a time: "
          f"p50 {status['p50_ms']} ms, p99 {status['p99_ms']} ms "
          f"(target <= 5 ms: {met[targets['phone_statuses_p99']]})")
    figures["targets_met"] = targets
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each dial and baseline round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of dial and baseline")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--skip-dial", action="store_true", help="measure the event path and statuses only")
    parser.add_argument("--users", type=int, default=50, help="users with a line (1001, 1002, ...)")
    parser.add_argument("--ring-timeout", type=int, default=1, help="XUC_SIM_RING_TIMEOUT, seconds")
    parser.add_argument("--event-rate", type=int, default=1000, help="events/s at the event URL (4 per call)")
    parser.add_argument("--event-seconds", type=float, default=10.0)
    parser.add_argument("--hold", type=float, default=0.1, help="seconds from a call to its hang-up")
    parser.add_argument("--status-calls", type=int, default=500)
    parser.add_argument("--pbx", choices=("sim", "ami"), default="sim",
                        help="the PBX: the simulator, or a scripted Asterisk over AMI (event path and statuses only)")
    options = parser.parse_args()
    if options.pbx == "ami":
        options.skip_dial = True
    if options.hold >= options.ring_timeout:
        parser.error("--hold must be shorter than --ring-timeout")
    lines = users(options.users)
    figures: dict[str, Any] = {"connections": options.connections, "seconds": options.seconds,
                               "rounds": options.rounds, "users": options.users,
                               "ring_timeout_s": options.ring_timeout, "targets": TARGETS}
    if options.pbx == "ami":
        figures["pbx"] = "ami"
    with webhook_sink() as (sink, sink_pid), \
            (ami_pbx() if options.pbx == "ami" else contextlib.nullcontext()) as pbx:
        env = {"DEPRECATED_API_HOST": "127.0.0.1", "XUC_EVENT_URL": f"{sink}/events",
               "XUC_SIM_RING_TIMEOUT": str(options.ring_timeout)}
        if pbx is not None:
            env["XUC_PBX"] = pbx.url
        with harness.stack(env) as stack, harness.baseline() as urls:
            stack.provision(provision_document(lines))
            metadata = service_metadata(load_service_token(stack.data_dir))
            with grpc.insecure_channel(telephony_address(stack)) as channel:
                simulator = telephony_pb2_grpc.SimulatorStub(channel) if pbx is None else None
                telephony = telephony_pb2_grpc.TelephonyStub(channel)
                nats_url, _ = stack.nats_server()
                others = {"webhook_sink": sink_pid}
                if pbx is not None:
                    figures["pbx_ready_s"] = wait_for_pbx(telephony, metadata, lines)
                if not options.skip_dial:
                    figures.update(dial_rounds(stack, sink, urls["hop"], list(lines), simulator, metadata, options,
                                               others))
                figures["events"] = event_path(stack, sink, lines, simulator, metadata, options, others,
                                               nats_url, pbx)
                figures["phone_statuses"] = phone_statuses(telephony, metadata, lines, options.status_calls)
    report(figures)


if __name__ == "__main__":
    main()
