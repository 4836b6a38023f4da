"""A closed-loop HTTP load generator, used when wrk is not installed.

    python -m benchmarks.loadgen URL CONNECTIONS SECONDS [METHOD] [HEADER:VALUE ...] [--body FILE]
                                 [--paths FILE]

With --paths (one path a line), requests go to these paths of URL's host in turn.

Prints one JSON line: requests, errors, seconds, rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time

import aiohttp


async def run(url: str, connections: int, seconds: float, method: str, headers: dict[str, str],
              body: bytes | None, paths: list[str] | None = None) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    origin = url.split("/", 3)[:3]
    urls = itertools.cycle(["/".join(origin) + path for path in paths] if paths else [url])
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.request(method, next(urls), headers=headers, data=body) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(count / elapsed, 1),
        "p50_ms": round(latencies[count // 2] * 1000, 2) if count else 0.0,
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 2) if count else 0.0,
    }


def main() -> None:
    args = sys.argv[1:]
    body = None
    if "--body" in args:
        index = args.index("--body")
        with open(args[index + 1], "rb") as file:
            body = file.read()
        del args[index : index + 2]
    paths = None
    if "--paths" in args:
        index = args.index("--paths")
        with open(args[index + 1], encoding="utf-8") as file:
            paths = [line for line in file.read().splitlines() if line]
        del args[index : index + 2]
    url, connections, seconds = args[0], int(args[1]), float(args[2])
    method = args[3] if len(args) > 3 else "GET"
    headers = dict(item.split(":", 1) for item in args[4:])
    print(json.dumps(asyncio.run(run(url, connections, seconds, method, headers, body, paths))))


if __name__ == "__main__":
    main()
