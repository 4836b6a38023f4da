"""An open-loop HTTP load generator for a mix of requests, at a fixed arrival rate.

    python -m benchmarks.openloop PLAN_FILE RATE SECONDS

PLAN_FILE (JSON): {"base": "http://host:port", "kinds": [{"name", "weight", "method",
"requests": [{"path", "headers", "body"}]}], "seed": 1, "bounded_kinds": [names]}. Request n starts at n / RATE seconds
whatever happened to the earlier ones (open loop: a slow server is not given a break, as a closed
loop of connections would), picks a kind by weight, then that kind's requests in turn. A body
holding "{n}" gets the request's number there (unique contacts, say). Latency runs from the
scheduled start, so time spent waiting for a free connection counts (no coordinated omission).
"{n}" becomes a number unique to the request and the run (digits only).

Prints one JSON line: per kind and overall requests, errors (status >= 400 or no answer), p50_ms,
p99_ms, bounded_p99_ms (over the kinds in "bounded_kinds", default all), and how late the
generator itself was (if it cannot keep up, the figures say so).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from typing import Any

import aiohttp

MAX_CONNECTIONS = 512
TIMEOUT_SECONDS = 10.0


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000, 2)


def _figures(latencies: list[float], errors: int) -> dict[str, Any]:
    return {"requests": len(latencies), "errors": errors, "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99)}


async def run(plan: dict[str, Any], rate: float, seconds: float) -> dict[str, Any]:
    kinds = plan["kinds"]
    chooser = random.Random(plan.get("seed", 1))
    weights = [kind["weight"] for kind in kinds]
    cycles = {kind["name"]: itertools.cycle(kind["requests"]) for kind in kinds}
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    late: list[float] = []
    total = int(rate * seconds)
    run = int(time.time()) % 100_000  # with the request's number, unique across runs on one stack
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(plan["base"], connector=connector, timeout=timeout) as session:

        async def one(number: int, scheduled: float) -> None:
            kind = chooser.choices(kinds, weights)[0]
            request = next(cycles[kind["name"]])
            body = request.get("body")
            data = body.replace("{n}", f"{run}{number:07d}").encode() if body is not None else None
            failed = False
            try:
                async with session.request(kind["method"], request["path"], headers=request.get("headers", {}),
                                           data=data) as response:
                    await response.read()
                    failed = response.status >= 400
            except (aiohttp.ClientError, TimeoutError):
                failed = True
            latencies[kind["name"]].append(time.perf_counter() - scheduled)
            errors[kind["name"]] += failed

        tasks = []
        started = time.perf_counter()
        for number in range(total):
            scheduled = started + number / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late.append(-delay)
            tasks.append(asyncio.create_task(one(number, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    everything = [latency for values in latencies.values() for latency in values]
    bounded = plan.get("bounded_kinds", list(latencies))
    return {
        "rate": rate, "seconds": round(elapsed, 2), **_figures(everything, sum(errors.values())),
        "bounded_p99_ms": _percentile([latency for name in bounded for latency in latencies.get(name, [])], 0.99),
        "kinds": {name: _figures(values, errors[name]) for name, values in sorted(latencies.items())},
        "generator_late_p99_ms": _percentile(late, 0.99) if late else 0.0,
    }


def main() -> None:
    plan_file, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    with open(plan_file, encoding="utf-8") as file:
        plan = json.load(file)
    print(json.dumps(asyncio.run(run(plan, rate, seconds))))


if __name__ == "__main__":
    main()
