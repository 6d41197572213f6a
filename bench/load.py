"""The load generator of the benchmark, always run as a process of its own; it prints one JSON line.

- `wrk`: the HTTP scenarios (a GET of paths picked at random, or progress reports), through Debian's
  `wrk` and the Lua scripts in bench/wrk/.
- `hello`, `exports`, `live`: a small HTTP/1.1 client on bare asyncio streams and protocols (no
  HTTP library: it spends far less CPU per request than one), for the whole export (start, ten
  progress reports, succeed: each step needs the answer of the one before) and for the live cards
  (500 event-stream subscribers while progress reports arrive at a fixed rate).
- `webhooks`, `receiver`: the webhook scenarios, on the same client (bench/webhooks.py).

Every result has `rate` (per second), `p50_ms`, `p99_ms`, `count`, `errors` and `load_cpu` (the CPU
time of the load generator over the wall time: 1.0 is one core busy), plus what its scenario adds.
Every loop here is bounded by a duration and ends by itself; it talks to loopback only.
"""

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import webhooks
from bench.http_client import Http, HttpError, address
from bench.stats import percentile

WRK_DIR = Path(__file__).resolve().parent / "wrk"
Result = dict[str, Any]


def summary(latencies_s: list[float], wall_s: float, cpu_s: float, errors: int, **extra: Any) -> Result:
    return {
        "rate": len(latencies_s) / wall_s if wall_s > 0 else 0.0,
        "p50_ms": percentile(latencies_s, 50) * 1000,
        "p99_ms": percentile(latencies_s, 99) * 1000,
        "count": len(latencies_s),
        "errors": errors,
        "load_cpu": cpu_s / wall_s if wall_s > 0 else 0.0,
        **extra,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# wrk.


def run_wrk(
    url: str, script: str, args: list[str], duration: float, connections: int, threads: int
) -> Result:
    cpu = _children_cpu()
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_DIR / f"{script}.lua"),
        url,
        "--",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60)
    cpu = _children_cpu() - cpu
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    raw = json.loads(line)
    wall = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "rate": (raw["requests"] - errors) / wall,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "count": raw["requests"],
        "errors": errors,
        "load_cpu": cpu / wall,
    }


# The asyncio client's ceiling: GET /hello.


async def hello(url: str, duration: float, connections: int) -> Result:
    host, port = address(url)
    latencies: list[float] = []
    errors = 0
    cpu, start = time.process_time(), time.perf_counter()
    deadline = start + duration

    async def worker() -> None:
        nonlocal errors
        http = Http(host, port)
        while (began := time.perf_counter()) < deadline:
            status, _ = await http.request("GET", "/hello")
            if status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1
        await http.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return summary(latencies, time.perf_counter() - start, time.process_time() - cpu, errors)


# A whole export: start, ten progress reports, succeed; one project per worker.


async def exports(url: str, duration: float, projects: list[str]) -> Result:
    host, port = address(url)
    latencies: list[float] = []
    errors = 0
    cpu, start = time.process_time(), time.perf_counter()
    deadline = start + duration

    async def worker(project_id: str) -> None:
        nonlocal errors
        http = Http(host, port)
        while (began := time.perf_counter()) < deadline:
            try:
                job = await http.json("POST", f"/v1/projects/{project_id}/exports", 202, {"type": "framing"})
                for step in range(1, 11):
                    body = {"progress": step * 9.5, "message": f"step {step}"}
                    await http.json("POST", f"/v1/exports/{job['id']}/progress", 200, body)
                await http.json(
                    "POST", f"/v1/exports/{job['id']}/succeed", 200, {"output_uri": "bench://out"}
                )
            except HttpError as exc:
                errors += 1
                sys.stderr.write(f"export flow failed: {exc}\n")
                return
            latencies.append(time.perf_counter() - began)
        await http.close()

    await asyncio.gather(*(worker(project_id) for project_id in projects))
    wall = time.perf_counter() - start
    result = summary(latencies, wall, time.process_time() - cpu, errors)
    result["requests_rate"] = result["rate"] * 12
    return result


# Live cards: subscribers on /v1/events while progress reports arrive at a fixed rate.


@dataclass
class Receipts:
    """When each report's answer came back, and when each subscriber saw its card."""

    answered: dict[int, float] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    early: list[tuple[int, float]] = field(default_factory=list)  # seen before its answer was read

    def seen(self, seq: int, at: float) -> None:
        answered = self.answered.get(seq)
        if answered is None:
            self.early.append((seq, at))
        else:
            self.delays.append(at - answered)


class Subscriber(asyncio.Protocol):
    """One `GET /v1/events` stream. It looks for the reports' tokens in what arrives, and dates each
    by the moment its bytes arrived; a token split across two reads is found once."""

    def __init__(self, host: str, token: re.Pattern[bytes], receipts: Receipts) -> None:
        self.request = f"GET /v1/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
        self.token = token
        self.receipts = receipts
        self.tail = b""
        self.opened = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request.encode())

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        seen = self.tail + data
        skip = len(self.tail)
        for match in self.token.finditer(seen):
            if match.end() > skip:
                self.receipts.seen(int(match.group(1)), at)
        self.tail = seen[-64:]
        if not self.opened.done() and b"retry:" in seen:
            self.opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("the event stream closed before it opened"))


async def live(
    url: str, jobs: list[str], subscribers: int, rate: float, duration: float, salt: str, reporters: int
) -> Result:
    host, port = address(url)
    loop = asyncio.get_running_loop()
    token = re.compile(rb'"lc' + salt.encode() + rb'-(\d+)"')
    receipts = Receipts()
    streams: list[Subscriber] = []
    gate = asyncio.Semaphore(50)

    async def subscribe() -> None:
        async with gate:
            stream = Subscriber(host, token, receipts)
            await loop.create_connection(lambda: stream, host, port)
            await asyncio.wait_for(stream.opened, 30)
            streams.append(stream)

    await asyncio.gather(*(subscribe() for _ in range(subscribers)))
    await asyncio.sleep(0.5)

    pool: asyncio.Queue[Http] = asyncio.Queue()
    for _ in range(reporters):
        pool.put_nowait(Http(host, port))
    report_latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def report(seq: int, http: Http) -> None:
        nonlocal errors
        body = json.dumps({"progress": 50.0, "message": f"lc{salt}-{seq}"}).encode()
        began = time.perf_counter()
        try:
            status, _ = await http.request("POST", f"/v1/exports/{jobs[seq % len(jobs)]}/progress", body)
        finally:
            pool.put_nowait(http)
        answered = time.perf_counter()
        if status == 200:
            receipts.answered[seq] = answered
            report_latencies.append(answered - began)
        else:
            errors += 1

    total = round(rate * duration)
    cpu, start = time.process_time(), time.perf_counter()
    for seq in range(total):
        wait = start + seq / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        http = await pool.get()
        task = loop.create_task(report(seq, http))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sending = time.perf_counter() - start
    if tasks:
        await asyncio.wait(tasks)
    # Let the last cards arrive: up to 5 s more, until nothing has come in for 0.5 s.
    settle_deadline = time.perf_counter() + 5
    seen = -1
    while time.perf_counter() < settle_deadline:
        now_seen = len(receipts.delays) + len(receipts.early)
        if now_seen == seen:
            break
        seen = now_seen
        await asyncio.sleep(0.5)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    lost = sum(stream.lost for stream in streams)
    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    while not pool.empty():
        await pool.get_nowait().close()

    early = 0
    delays = list(receipts.delays)
    for seq, at in receipts.early:
        answered = receipts.answered.get(seq)
        if answered is not None:
            delays.append(max(0.0, at - answered))
            early += 1
    expected = len(receipts.answered) * subscribers
    return {
        "rate": len(delays) / sending,
        "p50_ms": percentile(delays, 50) * 1000,
        "p99_ms": percentile(delays, 99) * 1000,
        "max_ms": max(delays, default=float("nan")) * 1000,
        "count": len(delays),
        "errors": errors,
        "load_cpu": cpu / wall,
        "reports": len(receipts.answered),
        "report_rate": len(receipts.answered) / sending,
        "report_p50_ms": percentile(report_latencies, 50) * 1000,
        "report_p99_ms": percentile(report_latencies, 99) * 1000,
        "delivered": len(delays) / expected if expected else 0.0,
        "early": early,
        "streams_lost": lost,
    }


def _lines(path: str) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The benchmark's load generator (see bench/load.py).")
    commands = parser.add_subparsers(dest="command", required=True)
    wrk = commands.add_parser("wrk")
    wrk.add_argument("url")
    wrk.add_argument("script", choices=["get", "progress"])
    wrk.add_argument("args", nargs="*")
    wrk.add_argument("--duration", type=float, default=6)
    wrk.add_argument("--connections", type=int, default=4)
    wrk.add_argument("--threads", type=int, default=1)
    say_hello = commands.add_parser("hello")
    say_hello.add_argument("url")
    say_hello.add_argument("--duration", type=float, default=6)
    say_hello.add_argument("--connections", type=int, default=4)
    export = commands.add_parser("exports")
    export.add_argument("url")
    export.add_argument("projects", help="a file of project ids: one worker for each")
    export.add_argument("--duration", type=float, default=6)
    cards = commands.add_parser("live")
    cards.add_argument("url")
    cards.add_argument("jobs", help="a file of active job ids, reported on round robin")
    cards.add_argument("--subscribers", type=int, default=500)
    cards.add_argument("--rate", type=float, default=200)
    cards.add_argument("--duration", type=float, default=8)
    cards.add_argument("--reporters", type=int, default=8, help="connections that send the reports")
    cards.add_argument("--salt", default="x", help="a word that keeps this run's tokens apart")
    hooks = commands.add_parser("webhooks", help="progress reports while endpoints are subscribed")
    hooks.add_argument("url")
    hooks.add_argument("jobs", help="a file of active job ids, reported on round robin")
    hooks.add_argument("--endpoints", type=int, default=5)
    hooks.add_argument("--rate", type=float, default=200, help="reports (changes) a second")
    hooks.add_argument("--duration", type=float, default=8)
    hooks.add_argument("--reporters", type=int, default=8)
    hooks.add_argument("--settle", type=float, default=10, help="seconds to wait for the last deliveries")
    hooks.add_argument("--salt", default="x")
    folded = commands.add_parser("coalesced", help="jobs reporting often while endpoints want progress")
    folded.add_argument("url")
    folded.add_argument("jobs", help="a file of active job ids: the first --jobs of them report")
    folded.add_argument("--jobs", type=int, default=20, dest="job_count")
    folded.add_argument("--endpoints", type=int, default=5)
    folded.add_argument("--per-job-rate", type=float, default=10, help="reports a second of each job")
    folded.add_argument("--duration", type=float, default=8)
    folded.add_argument("--settle", type=float, default=10)
    folded.add_argument("--salt", default="x")
    commands.add_parser("receiver", help="answer deliveries 200 until SIGTERM")
    args = parser.parse_args(argv)
    result: Result
    if args.command == "wrk":
        result = run_wrk(args.url, args.script, args.args, args.duration, args.connections, args.threads)
    elif args.command == "hello":
        result = asyncio.run(hello(args.url, args.duration, args.connections))
    elif args.command == "webhooks":
        result = asyncio.run(
            webhooks.deliveries(
                args.url,
                _lines(args.jobs),
                args.endpoints,
                args.rate,
                args.duration,
                args.salt,
                args.reporters,
                args.settle,
            )
        )
    elif args.command == "coalesced":
        result = asyncio.run(
            webhooks.coalesced(
                args.url,
                _lines(args.jobs)[: args.job_count],
                args.endpoints,
                args.per_job_rate,
                args.duration,
                args.salt,
                args.settle,
            )
        )
    elif args.command == "receiver":
        result = asyncio.run(webhooks.receive_until_stopped())
    elif args.command == "exports":
        result = asyncio.run(exports(args.url, args.duration, _lines(args.projects)))
    else:
        result = asyncio.run(
            live(
                args.url,
                _lines(args.jobs),
                args.subscribers,
                args.rate,
                args.duration,
                args.salt,
                args.reporters,
            )
        )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
