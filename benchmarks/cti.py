"""Benchmark of the CTI WebSocket: `python -m benchmarks.cti [--sockets N] [--users N] [--event-rate N] [--seconds N]`.

Starts the stack (`xuc up`, PBX simulator, a 1 s ring timeout), provisions users with lines
(bench001/1001, ...), logs each in once over REST, and opens the sockets from
benchmarks/cti_clients.py (a separate process: asyncio + aiohttp, so the clients' CPU is not the
gateway's; every socket pings every 5 s as cti.js does). Measures, ending with one JSON line:

  * **idle sockets**: `--sockets` (2,000) sockets on the one gateway process, spread over the users
    in turn (4 per user with 500 users), each logged on (its state at logon read), then idle but
    for pings for `--idle` s: the gateway's RSS growth (VmRSS before opening them, after a warm-up,
    and after the idle time), per socket, and the pings answered. `GET /xuc/api/2.0/auth/check`
    (harness.load: wrk or benchmarks/loadgen.py, 50 connections, `--seconds` a round) without and
    with the sockets open, rounds A B B A (without, with, with, without; the sockets closed and
    opened again each cycle, `--check-cycles` 2), best round of each: the ratio with / without.
  * **events**: `--event-rate` (1,000) phone events a second for `--seconds`, over `--users` (500)
    users with one socket each: benchmarks/event_driver.py (a separate process) places calls from
    external numbers to the lines through the Simulator gRPC API and hangs each up 0.1 s later, so
    each call is four frames at its user's socket (EventRinging + PhoneStatusUpdate RINGING,
    EventReleased + AVAILABLE). Latency = the frame's arrival at the client minus the moment the
    Simulator RPC that made the adapter produce it was answered (both CLOCK_MONOTONIC); lost frames
    and per-user order (benchmarks/cti_analysis.py). The gateway's CPU seconds per delivered frame
    (from before the driving until the clients were quiet 1 s) against the floor's, measured the
    same way just before with the same load: benchmarks/cti_floor.py, a bare Starlette WebSocket
    app relaying the same NATS subjects (core NATS) to the sockets of each user. Only one of the
    two has sockets during a round (the floor process runs during its own round only).
  * **dial**: 50 (`--dial-rate`) `dial` commands a second to an external number over the users'
    sockets in turn, for `--seconds`: from the command's sending to the caller's EventDialing frame.
    The external number rings until the ring timeout releases it, so users >= 2 x the rate.

Everything (clients, driver, load generator, stack) shares the machine: figures on 2 cores are
those of a busy box, hence the same-run ratios. A quick run (1.5 minutes): `--sockets 300
--users 100 --event-rate 200 --seconds 4 --idle 6 --check-cycles 1`. The rounds and helpers are in
benchmarks/cti_rounds.py, the matching in benchmarks/cti_analysis.py.
"""

from __future__ import annotations

import argparse
import json
import resource
from typing import Any

import grpc

from benchmarks import harness
from benchmarks.cti_rounds import ClientProcess, dial_round, event_rounds, idle_sockets, log_in
from benchmarks.telephony import provision_document, users
from benchmarks.telephony_stack import telephony_address
from xuc.launcher import load_service_token
from xuc.runtime.grpc_client import service_metadata
from xucproto.telephony.v1 import telephony_pb2_grpc

TARGETS = {"rss_growth_mb": 150.0, "kib_per_socket": 75.0, "check_with_sockets_ratio": 0.9,
           "event_p99_ms": 15.0, "events_lost": 0, "users_out_of_order": 0, "cpu_per_frame_vs_floor": 2.0,
           "dial_p99_ms": 30.0}


def outcome(figures: dict[str, Any]) -> dict[str, bool]:
    """Each target, met or not, from the figures measured."""
    met: dict[str, bool] = {}
    if "idle" in figures:
        idle = figures["idle"]
        met["rss_growth_mb"] = idle["rss_growth_mb"] <= TARGETS["rss_growth_mb"]
        met["kib_per_socket"] = idle["kib_per_socket"] <= TARGETS["kib_per_socket"]
        met["check_with_sockets_ratio"] = idle["check_with_sockets_ratio"] >= TARGETS["check_with_sockets_ratio"]
    if "events" in figures:
        events = figures["events"]
        met["event_p99_ms"] = events["p99_ms"] <= TARGETS["event_p99_ms"]
        met["events_lost"] = events["lost"] <= TARGETS["events_lost"]
        met["users_out_of_order"] = events["users_out_of_order"] <= TARGETS["users_out_of_order"]
        met["cpu_per_frame_vs_floor"] = events["cpu_per_frame_vs_floor"] <= TARGETS["cpu_per_frame_vs_floor"]
    if "dial" in figures:
        met["dial_p99_ms"] = figures["dial"]["p99_ms"] <= TARGETS["dial_p99_ms"]
    return met


def report(figures: dict[str, Any]) -> None:
    """The human-readable lines, then the targets' outcome and the one JSON line."""
    met = outcome(figures)
    says = {True: "met", False: "NOT met"}
    if "idle" in figures:
        idle = figures["idle"]
        print(f"idle sockets: {idle['sockets']} open on one gateway ({idle['opened']} opened in {idle['open_s']} s, "
              f"failed {idle['failed']}; fd limit {idle['gateway_fd_limit']}), idle {idle['idle_s']} s: "
              f"RSS {idle['rss_before_mb']} -> {idle['rss_after_mb']} MB, growth {idle['rss_growth_mb']} MB "
              f"(target <= 150: {says[met['rss_growth_mb']]}), {idle['kib_per_socket']} KiB per socket "
              f"(target <= 75: {says[met['kib_per_socket']]})")
        print(f"  pings every {idle['ping_seconds']} s: {idle['pings']}, pongs {idle['pongs']}, sockets closed by "
              f"the server {idle['closed']}; cores busy while idle {idle['idle_cores']}")
        for label in ("without", "with"):
            result = idle[f"check_{label}"]
            print(f"  GET /auth/check {label:<7} sockets {result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                  f"p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}")
        print(f"  cores busy during the best round without sockets {idle['check_cores_without']}, "
              f"with {idle['check_cores_with']}")
        print(f"  with / without = {idle['check_with_sockets_ratio']} (target >= 0.9: "
              f"{says[met['check_with_sockets_ratio']]}); rounds without {idle['rounds_without_rps']}, "
              f"with {idle['rounds_with_rps']} req/s")
    if "events" in figures:
        events = figures["events"]
        print(f"events: {events['offered_events_per_s']}/s offered for {events['seconds']} s over {events['users']} "
              f"users ({events['calls']} calls, {events['failed_calls']} failed): {events['matched']} of "
              f"{events['expected']} frames read, lost {events['lost']} (target 0: {says[met['events_lost']]}), "
              f"users out of order {events['users_out_of_order']} (target 0: {says[met['users_out_of_order']]})")
        print(f"  latency from the Simulator RPC's answer: p50 {events['p50_ms']} ms, p99 {events['p99_ms']} ms, "
              f"max {events['max_ms']} ms (target p99 <= 15: {says[met['event_p99_ms']]}); from its sending: "
              f"p50 {events['from_sent']['p50_ms']} ms, p99 {events['from_sent']['p99_ms']} ms; driver late p99 "
              f"{events['driver_late_p99_ms']} ms")
        print(f"  CPU per delivered frame: gateway {events['gateway_us_per_frame']} us ({events['gateway_frames']} "
              f"frames), floor {events['floor_us_per_frame']} us ({events['floor_frames']} frames): "
              f"{events['cpu_per_frame_vs_floor']} x (target <= 2: {says[met['cpu_per_frame_vs_floor']]})")
        print(f"  cores busy: gateway round {events['gateway_cores']}, floor round {events['floor_cores']}")
    if "dial" in figures:
        dial = figures["dial"]
        print(f"dial: {dial['rate']}/s for {dial['seconds']} s: {dial['sent']} sent, EventDialing p50 "
              f"{dial['p50_ms']} ms, p99 {dial['p99_ms']} ms, max {dial['max_ms']} ms (target p99 <= 30: "
              f"{says[met['dial_p99_ms']]}); lost {dial['lost']}, errors {len(dial['errors'])}, cores "
              f"{dial['cores']}")
    figures["targets_met"] = met
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000, help="idle sockets on the gateway")
    parser.add_argument("--users", type=int, default=500, help="users with a line and a socket in the event round")
    parser.add_argument("--event-rate", type=int, default=1000, help="phone frames/s at the sockets (4 per call)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each load round (check, events, dial)")
    parser.add_argument("--idle", type=float, default=12.0, help="seconds the sockets idle before RSS is read")
    parser.add_argument("--dial-rate", type=float, default=50.0)
    parser.add_argument("--ping-seconds", type=float, default=5.0,
                        help="each idle socket's ping period (cti.js: 5); 0: no pings (a diagnostic)")
    parser.add_argument("--connections", type=int, default=50, help="of the /auth/check load")
    parser.add_argument("--check-cycles", type=int, default=2,
                        help="cycles of /auth/check rounds without, with, with, without the idle sockets")
    parser.add_argument("--skip", action="append", default=[], choices=("idle", "events", "dial"))
    options = parser.parse_args()
    if 0.1 * options.event_rate / 4 >= options.users:
        parser.error("a line would get its next call before the previous one is hung up: more users")
    if "dial" not in options.skip and options.users < 2 * options.dial_rate:
        parser.error("a user would dial again before the ring timeout (1 s) ended its previous call: more users")
    # Thousands of sockets: the gateway inherits this process's descriptor limit through `xuc up`.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lines = users(options.users)
    figures: dict[str, Any] = {"sockets": options.sockets, "users": options.users, "seconds": options.seconds,
                               "targets": TARGETS}
    with harness.stack({"XUC_SIM_RING_TIMEOUT": "1"}) as stack:
        stack.provision(provision_document(lines))
        tokens, figures["login_s"] = log_in(stack, list(lines))
        metadata = service_metadata(load_service_token(stack.data_dir))
        with ClientProcess() as clients, grpc.insecure_channel(telephony_address(stack)) as channel:
            simulator = telephony_pb2_grpc.SimulatorStub(channel)
            if "idle" not in options.skip:
                figures["idle"] = idle_sockets(stack, clients, tokens, options)
            if "events" not in options.skip:
                figures["events"] = event_rounds(stack, clients, tokens, lines, options)
            if "dial" not in options.skip:
                figures["dial"] = dial_round(stack, clients, tokens, simulator, metadata, options)
    report(figures)


if __name__ == "__main__":
    main()
