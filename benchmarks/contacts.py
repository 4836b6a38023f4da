"""Benchmark of the contacts routes: `python -m benchmarks.contacts [--seconds N] [--lines N]`.

`--bad-lines N` measures only this instead, on a stack of its own: the import of a file of one
good line and N bad ones (issue 11: 2,000,000 lines of `a,b`, 8 MB), its time, the size of its
answer and the peak memory of each process.

Starts the stack itself (`xuc up`), then measures, ending with one JSON line:
  * GET /contact/personal/{id} and GET /contact/personal (50 contacts), requests/s and p99, next
    to the one-hop baseline (bare ASGI route + one grpc.aio call) measured in the same run;
  * the import of a 100,000-line CSV through the gateway: seconds and peak memory (VmHWM) of each
    process, next to the floor measured in the same run (Python's csv parsing the same file plus one
    SQLAlchemy executemany insert of its rows into SQLite);
  * the export of those 100,000 contacts: seconds and peak memory;
  * GET /contact/personal with 1,000 contacts: p99 of requests made one at a time.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, create_engine, insert

from benchmarks import harness
from tests.support.memory import peak_memory_mb

USERS = (
    "users:\n"
    "  - {login: bench50, password: bench-secret, line: '1001'}\n"
    "  - {login: bench1000, password: bench-secret, line: '1002'}\n"
    "  - {login: benchimport, password: bench-secret, line: '1003'}\n"
)
HEADER = ["company", "email", "fax", "firstname", "lastname", "mobile", "number"]


def _request(method: str, url: str, token: str | None = None, body: bytes | None = None,
             content_type: str = "application/json", timeout: float = 600) -> tuple[int, bytes]:
    headers = {"Content-Type": content_type}
    if token:
        headers["X-Auth-Token"] = token
    request = urllib.request.Request(url, body, headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def login(base: str, user: str) -> str:
    body = json.dumps({"login": user, "password": "bench-secret"}).encode()
    return str(json.loads(_request("POST", f"{base}/xuc/api/2.0/auth/login", body=body)[1])["token"])


def csv_file(lines: int, path: Path, offset: int = 0) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for i in range(offset, offset + lines):
            writer.writerow([f"Company {i % 97}", f"user{i}@example.org", "", f"Firstname{i}",
                             f"Lastname{i}", f"06{i:08d}", f"01{i:08d}"])


def import_file(base: str, token: str, path: Path) -> dict[str, Any]:
    status, body = _request("POST", f"{base}/xuc/api/2.0/contact/import/personal", token, path.read_bytes(),
                            "text/csv;charset=UTF-8")
    report: dict[str, Any] = json.loads(body)
    if status != 201 or report["failed"]:
        raise RuntimeError(f"import answered {status}: {report['failed'][:3]}")
    return report


def floor_import(path: Path) -> float:
    """The cost floor: parse the file with Python's csv and insert its rows with one executemany."""
    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite:///{directory}/floor.db")
        table = Table("contacts", MetaData(), *(Column(name, String(254)) for name in ["id", *HEADER]))
        table.metadata.create_all(engine)
        started = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            next(reader)
            rows = [{"id": str(i), **dict(zip(HEADER, row, strict=True))} for i, row in enumerate(reader)]
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return elapsed


def serial_p99(url: str, token: str, count: int = 300) -> float:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        _request("GET", url, token)
        timings.append(time.perf_counter() - started)
    timings.sort()
    return round(timings[int(len(timings) * 0.99) - 1] * 1000, 2)


def best(url: str, seconds: int, rounds: int, headers: dict[str, str] | None = None) -> harness.LoadResult:
    return harness.best_of(harness.load(url, 50, seconds, headers=headers) for _ in range(rounds))


def measure_loads(api: str, hop_url: str, one_id: str, auth: dict[str, str],
                  options: argparse.Namespace) -> dict[str, harness.LoadResult]:
    targets = {"get_one": (f"{api}/personal/{one_id}", auth), "list_50": (f"{api}/personal", auth),
               "baseline_one_hop": (hop_url, {})}
    for url, headers in targets.values():
        harness.load(url, 50, 2, headers=headers)  # warm-up
    return {name: best(url, options.seconds, options.rounds, headers) for name, (url, headers) in targets.items()}


def measure_bad_lines(lines: int, database: dict[str, str]) -> None:
    """The import of one good line and `lines` bad ones ("too many fields"), on a fresh stack."""
    content = b"lastname\nGood\n" + b"a,b\n" * lines
    with harness.stack(database) as stack:
        stack.provision(USERS)
        token = login(stack.url, "benchimport")
        started = time.perf_counter()
        status, body = _request("POST", f"{stack.url}/xuc/api/2.0/contact/import/personal", token, content,
                                "text/csv;charset=UTF-8")
        elapsed = round(time.perf_counter() - started, 2)
        report = json.loads(body)
        figures = {"bad_lines": lines, "file_mb": round(len(content) / 1e6, 1), "status": status,
                   "seconds": elapsed, "answer_kb": round(len(body) / 1e3, 1), "created": len(report["created"]),
                   "failed_listed": len(report["failed"]), "failed_count": report["failedCount"],
                   "peak_memory_mb": peak_memory_mb(stack.pids())}
    print(f"import of 1 good line and {lines:,} bad ones ({figures['file_mb']} MB): {status} in {elapsed} s, "
          f"answer {figures['answer_kb']} kB, failed listed {figures['failed_listed']} of {figures['failed_count']:,}")
    print(f"peak memory (MB): {figures['peak_memory_mb']} (target: each <= 300)")
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default="", help="XUC_DATABASE_URL of the stack (default: SQLite)")
    parser.add_argument("--import-only", action="store_true", help="measure the import and export only")
    parser.add_argument("--bad-lines", type=int, default=0,
                        help="measure only the import of one good line and this many bad ones")
    options = parser.parse_args()
    if options.bad_lines:
        measure_bad_lines(options.bad_lines, {"XUC_DATABASE_URL": options.database_url} if options.database_url else {})
        return
    figures: dict[str, Any] = {"seconds": options.seconds, "lines": options.lines,
                               "database": options.database_url.partition(":")[0] or "sqlite"}
    work = Path(tempfile.mkdtemp(prefix="xuc-bench-contacts-"))
    big, fifty, thousand = work / "big.csv", work / "fifty.csv", work / "thousand.csv"
    csv_file(options.lines, big)
    csv_file(50, fifty)
    csv_file(1000, thousand)
    figures["floor_import_s"] = round(floor_import(big), 2)

    database = {"XUC_DATABASE_URL": options.database_url} if options.database_url else {}
    with harness.stack(database) as stack, harness.baseline() as urls:
        stack.provision(USERS)
        api = f"{stack.url}/xuc/api/2.0/contact"
        token50, token1000, token_import = (login(stack.url, user) for user in ("bench50", "bench1000",
                                                                                    "benchimport"))
        one_id = import_file(stack.url, token50, fifty)["created"][0]["id"]
        import_file(stack.url, token1000, thousand)
        auth50 = {"X-Auth-Token": token50}

        if not options.import_only:
            loads = measure_loads(api, urls["hop"], one_id, auth50, options)
            figures.update({name: result.as_dict() for name, result in loads.items()},
                           get_one_vs_baseline=round(loads["get_one"].rps / loads["baseline_one_hop"].rps, 2),
                           list_50_vs_baseline=round(loads["list_50"].rps / loads["baseline_one_hop"].rps, 2))
            figures["list_1000_serial_p99_ms"] = serial_p99(f"{api}/personal", token1000)

        cpu_before, started = harness.cpu_seconds(stack), time.perf_counter()
        report = import_file(stack.url, token_import, big)
        figures["import_s"] = round(time.perf_counter() - started, 2)
        cpu_after = harness.cpu_seconds(stack)
        figures["import_cpu_s"] = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2)
                                   for name in sorted(cpu_after)}
        figures["imported"] = len(report["created"])
        figures["import_vs_floor"] = round(figures["import_s"] / figures["floor_import_s"], 2)
        started = time.perf_counter()
        _, exported = _request("GET", f"{api}/export/personal", token_import)
        figures["export_s"] = round(time.perf_counter() - started, 2)
        figures["exported_rows"] = exported.count(b"\n") - 1
        figures["peak_memory_mb"] = peak_memory_mb(stack.pids())

    if not options.import_only:
        for label, name in (("GET /contact/personal/{id}", "get_one"), ("GET /contact/personal (50)", "list_50"),
                            ("baseline, one hop", "baseline_one_hop")):
            result = figures[name]
            print(f"{label:<28}{result['rps']:9.0f} req/s  p50 {result['p50_ms']:6.2f} ms"
                  f"  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}")
        print(f"single get = {figures['get_one_vs_baseline']} x baseline (target >= 0.7); "
              f"list of 50 = {figures['list_50_vs_baseline']} x")
        print(f"list of 1,000, one request at a time: p99 {figures['list_1000_serial_p99_ms']} ms (target <= 25 ms)")
    print(f"import of {options.lines:,} lines: {figures['import_s']} s, floor {figures['floor_import_s']} s "
          f"= {figures['import_vs_floor']} x (target <= 3 x); CPU seconds per process: {figures['import_cpu_s']}")
    print(f"export of {figures['exported_rows']:,} contacts: {figures['export_s']} s (target <= 2 s)")
    print(f"peak memory (MB): {figures['peak_memory_mb']} (target: each <= 300)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
