"""The event path of benchmarks/telephony.py (PBX adapter to the event URL): driven by
benchmarks/event_driver.py (the simulator) or by the scripted Asterisk (benchmarks/ami_pbx.py), the
events that arrived at the receiver matched against those expected, with their latencies. What
is measured, and how, is in benchmarks/telephony.py's docstring.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from benchmarks import harness
from benchmarks.telephony_stack import AmiPbx, sink_call, telephony_address, wait_for_drain


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * fraction + 0.5) - 1))]


def event_path(stack: harness.Stack, sink: str, lines: dict[str, str], simulator: Any, metadata: Any,
               options: argparse.Namespace, others: dict[str, int], nats_url: str,
               pbx: AmiPbx | None = None) -> dict[str, Any]:
    """Driven by benchmarks/event_driver.py (the simulator), or by `pbx` (the scripted Asterisk)."""
    sink_call(sink, "/_reset", "POST")
    calls_per_second = options.event_rate / 4
    # CPU is read in a thread while the driver runs: over the seconds of offered load only.
    readings: list[dict[str, float]] = []
    if pbx is not None:
        watched = {**others, "ami_pbx": pbx.pid}
        answer: list[dict[str, Any]] = []
        request = {"lines": list(lines.values()), "calls_per_second": calls_per_second,
                   "seconds": options.event_seconds, "hold": options.hold, "nats": nats_url}
        player = threading.Thread(target=lambda: answer.append(pbx.play(request)))
        player.start()
    else:
        args = [sys.executable, "-m", "benchmarks.event_driver", telephony_address(stack), str(stack.data_dir),
                ",".join(lines.values()), str(calls_per_second), str(options.event_seconds), "--hold",
                str(options.hold), "--nats", nats_url]
        driver = subprocess.Popen(args, cwd=harness.ROOT, stdout=subprocess.PIPE, text=True)
        watched = {**others, "event_driver": driver.pid}

    def read_cpu() -> None:
        time.sleep(0.5)
        readings.append(harness.cpu_seconds(stack, watched))
        time.sleep(options.event_seconds - 0.5)
        readings.append(harness.cpu_seconds(stack, watched))

    reader = threading.Thread(target=read_cpu)
    reader.start()
    if pbx is not None:
        player.join()
        reader.join()
        if not answer:
            raise RuntimeError("the scripted AMI server did not play the calls")
        driven = answer[0]
        if not driven["clients"]:
            raise RuntimeError("the telephony service was not connected to the scripted AMI server")
    else:
        output, _ = driver.communicate()
        reader.join()
        if driver.returncode != 0:
            raise RuntimeError(f"the event driver failed ({driver.returncode})")
        driven = json.loads(output)
    cpu = harness.cores(readings[0], readings[1], options.event_seconds - 0.5)
    drain = wait_for_drain(sink, simulator, metadata, within=120)
    records = sink_call(sink, "/_report")["records"]

    # What arrived (arrival, event id): phone events by (uniqueId, eventType); statuses per user and
    # value, in arrival order.
    phone: dict[tuple[str, str], tuple[float, str]] = {}
    statuses: dict[tuple[str, int], list[tuple[float, str]]] = defaultdict(list)
    event_ids: set[str] = set()
    for arrived, event_id, text in records:
        event_ids.add(event_id)
        body = json.loads(text)
        message = body.get("message")
        if message is not None:
            cti = message["ctiMessage"]
            phone.setdefault((cti["uniqueId"], cti["eventType"]), (arrived, event_id))
        else:
            statuses[(body["username"], body["status"])].append((arrived, event_id))

    # What was expected, with the moment each RPC was sent and answered.
    login_of = {line: login for login, line in lines.items()}
    nth: dict[tuple[str, int], int] = defaultdict(int)
    published: dict[str, float] = driven["published"]
    from_answer: list[float] = []
    from_sent: list[float] = []
    to_nats: list[float] = []
    from_nats: list[float] = []
    expected = failed = 0

    def match(arrival: tuple[float, str] | None, rpc: list[float]) -> None:
        if arrival is None:
            return
        arrived, event_id = arrival
        from_answer.append((arrived - rpc[1]) * 1000)
        from_sent.append((arrived - rpc[0]) * 1000)
        if event_id in published:
            to_nats.append((published[event_id] - rpc[1]) * 1000)
            from_nats.append((arrived - published[event_id]) * 1000)

    def nth_status(login: str, status: int) -> tuple[float, str] | None:
        key = (login, status)
        index = nth[key]
        nth[key] += 1
        arrivals = statuses.get(key, [])
        return arrivals[index] if index < len(arrivals) else None

    for call in driven["calls"]:
        login = login_of[call["line"]]
        if call["error"]:
            failed += 1
        for step, event_type, status in (("place", "EventRinging", 8), ("hangup", "EventReleased", 0)):
            rpc = call[step]
            if rpc is None:
                continue
            expected += 2
            match(phone.get((call["unique_id"], event_type)), rpc)
            match(nth_status(login, status), rpc)
    for values in (to_nats, from_nats):
        values.sort()
    from_answer.sort()
    from_sent.sort()
    places = [call["place"][0] for call in driven["calls"] if call["place"]]
    arrivals = sorted(record[0] for record in records)
    span = (arrivals[-1] - min(places)) if arrivals and places else 0.0
    return {
        "offered_events_per_s": options.event_rate, "seconds": options.event_seconds,
        "calls": len(driven["calls"]), "failed_calls": failed,
        "expected": expected, "received": len(records), "distinct_received": len(event_ids),
        "duplicates": len(records) - len(event_ids), "matched": len(from_answer),
        "lost": expected - len(from_answer),
        "received_per_s": round(len(records) / span, 1) if span else 0.0,
        "p50_ms": round(percentile(from_answer, 0.50), 2), "p99_ms": round(percentile(from_answer, 0.99), 2),
        "max_ms": round(from_answer[-1], 2) if from_answer else 0.0,
        "mean_ms": round(statistics.fmean(from_answer), 2) if from_answer else 0.0,
        "p50_from_sent_ms": round(percentile(from_sent, 0.50), 2),
        "p99_from_sent_ms": round(percentile(from_sent, 0.99), 2),
        "adapter_to_nats_p50_ms": round(percentile(to_nats, 0.50), 2),
        "adapter_to_nats_p99_ms": round(percentile(to_nats, 0.99), 2),
        "nats_to_receiver_p50_ms": round(percentile(from_nats, 0.50), 2),
        "nats_to_receiver_p99_ms": round(percentile(from_nats, 0.99), 2),
        "driver_late_p99_ms": driven["late_p99_ms"], "driver_late_max_ms": driven["late_max_ms"],
        "drain_s": drain, "cpu_cores": cpu,
    }
