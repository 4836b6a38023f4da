"""Drives the PBX simulator at a fixed rate for benchmarks/telephony.py, in its own process:

    python -m benchmarks.event_driver ADDRESS DATA_DIR LINE[,LINE...] CALLS_PER_SECOND SECONDS
                                      [--hold SECONDS] [--nats URL]

ADDRESS is the telephony service's gRPC address; the service token is read from DATA_DIR (as `xuc`
does). Each call is two Simulator RPCs: PlaceCall from an external number to a line (the line
rings: the adapter produces a RINGING channel event, the event URL receives EventRinging and
phone status 8), then, --hold seconds (default 0.1) after the call was scheduled, Hangup at that
line (EventReleased and phone status 0). Four events at the event URL per call.

Open loop: call k of line n (of N) is scheduled at start + (k * N + n) / CALLS_PER_SECOND, whatever
the answers; a line's calls follow each other (its hang-up is answered before its next call), so
a line has at most one call and the simulator's state stays bounded. Every RPC is timed with
`time.monotonic()` (CLOCK_MONOTONIC: the webhook sink's clock too) when sent and when answered:
when PlaceCall/Hangup answers, the adapter has produced (queued) the call's channel events.

With --nats, it also taps the telephony subjects the forwarder consumes (a plain NATS
subscription on xuc.telephony.phone.* and xuc.telephony.status.*) and notes when each event
(`Nats-Msg-Id`, which the forwarder sends as `X-Xuc-Event-Id`) was seen there: this splits the path
into "adapter to NATS" and "NATS to the event URL" (a diagnostic; the tap shares this process's
event loop with the driving, so its times are late by at most that loop's delays).

Prints one JSON document: {"calls": [{line, unique_id, place: [sent, answered],
hangup: [sent, answered], error}], "published": {event id: seen at}, "late_p99_ms": how late RPCs
were sent against the schedule, "late_max_ms"}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import grpc
import nats
from nats.aio.msg import Msg

from xuc import subjects
from xuc.launcher import load_service_token
from xuc.runtime.grpc_client import service_metadata
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

RPC_TIMEOUT_SECONDS = 5.0


def external_number(index: int) -> str:
    """The outside caller of a line's calls: a number no user has."""
    return f"0699{index:06d}"


async def drive(address: str, token: str, lines: list[str], rate: float, seconds: float,
                hold: float, nats_url: str = "") -> dict[str, Any]:
    metadata = service_metadata(token)
    calls: list[dict[str, Any]] = []
    lateness: list[float] = []
    published: dict[str, float] = {}  # event id -> when the tap saw it
    last_seen = [0.0]

    async def seen(msg: Msg) -> None:
        last_seen[0] = time.monotonic()
        published.setdefault((msg.headers or {}).get("Nats-Msg-Id", ""), last_seen[0])

    async with contextlib.AsyncExitStack() as stack:
        if nats_url:
            tap = await nats.connect(nats_url)
            stack.push_async_callback(tap.close)
            for subject in (subjects.PHONE_EVENT.all, subjects.PHONE_STATUS.all):
                await tap.subscribe(subject, cb=seen)
            await tap.flush()
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(address))
        simulator = telephony_pb2_grpc.SimulatorStub(channel)
        await channel.channel_ready()
        start = time.monotonic() + 0.2
        total = int(rate * seconds)

        async def until(moment: float) -> None:
            delay = moment - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

        async def line_loop(index: int, line: str) -> None:
            for call_number in range(index, total, len(lines)):
                scheduled = start + call_number / rate
                record: dict[str, Any] = {"line": line, "unique_id": "", "place": None, "hangup": None,
                                          "error": ""}
                calls.append(record)
                try:
                    await until(scheduled)
                    sent = time.monotonic()
                    lateness.append(sent - scheduled)
                    placed = await simulator.PlaceCall(
                        telephony_pb2.PlaceCallRequest(caller=external_number(index), callee=line),
                        metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)
                    record["place"] = [sent, time.monotonic()]
                    record["unique_id"] = unique_id = placed.unique_ids[-1]  # the callee's channel
                    await until(scheduled + hold)
                    sent = time.monotonic()
                    lateness.append(sent - scheduled - hold)
                    await simulator.Hangup(telephony_pb2.CallAction(number=line, unique_id=unique_id),
                                           metadata=metadata, timeout=RPC_TIMEOUT_SECONDS)
                    record["hangup"] = [sent, time.monotonic()]
                except grpc.aio.AioRpcError as exc:
                    record["error"] = f"{exc.code().name}: {exc.details()}"

        await asyncio.gather(*(line_loop(index, line) for index, line in enumerate(lines)))
        if nats_url:  # until the tap has seen nothing for 1 s: the last events are published
            last_seen[0] = max(last_seen[0], time.monotonic())
            for _ in range(1200):  # 120 s at most
                wait = last_seen[0] + 1.0 - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 0.1))
    lateness.sort()
    published.pop("", None)  # a message without an id
    return {"calls": calls, "published": published,
            "late_p99_ms": round(lateness[int(len(lateness) * 0.99) - 1] * 1000, 2) if lateness else 0.0,
            "late_max_ms": round(lateness[-1] * 1000, 2) if lateness else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("lines")
    parser.add_argument("calls_per_second", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--hold", type=float, default=0.1)
    parser.add_argument("--nats", default="")
    options = parser.parse_args()
    lines = options.lines.split(",")
    if options.hold * options.calls_per_second >= len(lines):
        parser.error("a line would get its next call before the previous one is hung up: more lines or less hold")
    print(json.dumps(asyncio.run(drive(options.address, load_service_token(options.data_dir), lines,
                                       options.calls_per_second, options.seconds, options.hold, options.nats))))


if __name__ == "__main__":
    main()
