"""A scripted Asterisk (AMI over TCP) playing incoming calls for benchmarks/telephony.py --pbx ami,
in its own process:

    python -m benchmarks.ami_pbx [--username U] [--secret S]

Starts tests/support/ami_server.py's ScriptedAmiServer (the real AMI wire protocol: greeting,
Login, the resynchronisation lists, Ping) on 127.0.0.1, a free port, and prints one JSON line
{"port", "url"} (url: what XUC_PBX takes) before anything else. Then it reads requests from
stdin, one JSON line each, and answers each with one JSON line on stdout; it exits at EOF:

    {"lines": [LINE, ...], "calls_per_second": R, "seconds": S, "hold": H, "nats": URL (optional)}

plays R x S incoming calls from external numbers to the lines, open loop, as Asterisk reports a
call from a trunk to a phone that rings unanswered until the caller hangs up: call k, on line
k mod N, is scheduled at start + k / R and is two writes to the AMI connection(s):

  * ring: Newchannel (trunk), Newchannel (the line's channel), DialBegin (trunk -> PJSIP/<line>),
    Newstate Ringing (the line's channel): the telephony service reports RINGING for the line
    (EventRinging and phone status 8 at the event URL);
  * H seconds after the call's schedule, release: DialEnd NOANSWER, Hangup (the line's channel),
    Hangup (trunk): RELEASED (EventReleased, status 0).

Each write is timed with `time.monotonic()` (CLOCK_MONOTONIC, the webhook sink's clock too) just
before the bytes are written and once the write has returned (the transport handed them to the
kernel: at these sizes the socket takes them at once). With "nats", it also taps the subjects the
forwarder consumes (as benchmarks/event_driver.py does) and notes when each event was seen there.

The answer has the shape of benchmarks/event_driver.py's, so benchmarks/telephony.py matches both
alike: {"calls": [{line, unique_id (the line channel's Uniqueid: the phone event's uniqueId),
place: [before, after] (the ring write), hangup: [before, after] (the release write), error}],
"published": {event id: seen at}, "late_p99_ms", "late_max_ms" (writes late against the
schedule), "clients" (AMI connections logged in when the play began)}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import nats
import uvloop
from nats.aio.msg import Msg

from tests.support.ami_events import Chan, dial_begin, dial_end, encode, hangup, newchannel, newstate
from tests.support.ami_server import ScriptedAmiServer
from xuc import subjects


def external_number(index: int) -> str:
    """The outside caller of a line's calls: a number no user has (as benchmarks/event_driver.py)."""
    return f"0699{index:06d}"


def call_frames(line: str, caller: str, sequence: int, base: int) -> tuple[str, bytes, bytes]:
    """(the line channel's Uniqueid, the ring write, the release write) of one incoming call."""
    trunk_id, line_id = f"{base}.{2 * sequence}", f"{base}.{2 * sequence + 1}"
    trunk = Chan(f"PJSIP/trunk-{sequence:08x}", trunk_id, trunk_id, caller, exten=line, context="from-extern",
                 state=4)
    callee = Chan(f"PJSIP/{line}-{sequence:08x}", line_id, trunk_id, line, f"Line {line}", caller)
    ring = b"".join(encode(frame) for frame in (
        newchannel(trunk), newchannel(callee), dial_begin(trunk, callee, f"PJSIP/{line}"),
        newstate(callee.with_state(5))))
    release = b"".join(encode(frame) for frame in (
        dial_end(trunk, callee.with_state(5), "NOANSWER"), hangup(callee.with_state(5), 19, "No answer"),
        hangup(trunk, 19, "No answer")))
    return line_id, ring, release


async def play(server: ScriptedAmiServer, request: dict[str, Any], base: int) -> dict[str, Any]:
    lines: list[str] = request["lines"]
    rate, seconds, hold = float(request["calls_per_second"]), float(request["seconds"]), float(request["hold"])
    nats_url = request.get("nats", "")
    calls: list[dict[str, Any]] = []
    lateness: list[float] = []
    published: dict[str, float] = {}
    last_seen = [0.0]

    async def seen(msg: Msg) -> None:
        last_seen[0] = time.monotonic()
        published.setdefault((msg.headers or {}).get("Nats-Msg-Id", ""), last_seen[0])

    async def write(data: bytes) -> list[float]:
        before = time.monotonic()
        await server.push_bytes(data)
        return [before, time.monotonic()]

    async with contextlib.AsyncExitStack() as stack:
        if nats_url:
            tap = await nats.connect(nats_url)
            stack.push_async_callback(tap.close)
            for subject in (subjects.PHONE_EVENT.all, subjects.PHONE_STATUS.all):
                await tap.subscribe(subject, cb=seen)
            await tap.flush()
        clients = server.clients
        start = time.monotonic() + 0.2
        total = int(rate * seconds)

        async def until(moment: float) -> None:
            delay = moment - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

        async def line_loop(index: int, line: str) -> None:
            caller = external_number(index)
            for call_number in range(index, total, len(lines)):
                scheduled = start + call_number / rate
                unique_id, ring, release = call_frames(line, caller, call_number, base)
                record: dict[str, Any] = {"line": line, "unique_id": unique_id, "place": None, "hangup": None,
                                          "error": ""}
                calls.append(record)
                try:
                    await until(scheduled)
                    record["place"] = await write(ring)
                    lateness.append(record["place"][0] - scheduled)
                    await until(scheduled + hold)
                    record["hangup"] = await write(release)
                    lateness.append(record["hangup"][0] - scheduled - hold)
                except ConnectionError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(line_loop(index, line) for index, line in enumerate(lines)))
        if nats_url:  # until the tap has seen nothing for 1 s: the last events are published
            last_seen[0] = max(last_seen[0], time.monotonic())
            for _ in range(1200):  # 120 s at most
                wait = last_seen[0] + 1.0 - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 0.1))
    lateness.sort()
    published.pop("", None)
    return {"calls": calls, "published": published, "clients": clients,
            "late_p99_ms": round(lateness[int(len(lateness) * 0.99) - 1] * 1000, 2) if lateness else 0.0,
            "late_max_ms": round(lateness[-1] * 1000, 2) if lateness else 0.0}


async def serve(username: str, secret: str) -> None:
    server = ScriptedAmiServer(username=username, secret=secret)
    await server.start()
    print(json.dumps({"port": server.port, "url": server.url()}), flush=True)
    loop = asyncio.get_running_loop()
    base = int(time.time())  # Uniqueids like Asterisk's, distinct from one run to the next
    played = 0
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if not line.strip():
                continue
            request = json.loads(line)
            answer = await play(server, request, base + played)
            played += 1
            print(json.dumps(answer), flush=True)
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--username", default="xuc-bench")
    parser.add_argument("--secret", default="bench-ami-secret")
    options = parser.parse_args()
    uvloop.install()
    asyncio.run(serve(options.username, options.secret))


if __name__ == "__main__":
    main()
