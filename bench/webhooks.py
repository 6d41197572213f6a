"""The webhook scenarios of the benchmark: a loopback receiver, and progress reports at a fixed rate
while several endpoints are subscribed, timed from each report's answer to each delivery of its
event.

- `receiver`: a receiver process that answers every delivery 200 at once and counts them, for the
  card and progress scenarios run again with webhooks on;
- `deliveries`: the change → delivery scenario, with its own receiver in the same process, so the
  answer of a report and the arrival of its deliveries are dated by one clock.

Both are run as processes of their own by `bench/load.py` and print one JSON line, like the rest.
"""

import asyncio
import contextlib
import itertools
import json
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.http_client import Http, address
from bench.stats import percentile

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
EVENT_TYPES = [
    "project.created",
    "project.status_changed",
    "project.deleted",
    "export.started",
    "export.progress",
    "export.succeeded",
    "export.failed",
    "export.cancelled",
    "export.timed_out",
    "export.superseded",
]
"""Every type, `export.progress` included: the heaviest subscription a receiver can ask for."""


@dataclass
class Receiver:
    """A keep-alive HTTP/1.1 server on loopback that answers 200 to everything; `on_body` sees each
    request's body with the moment its last byte arrived."""

    on_body: Callable[[bytes, float], None]
    server: asyncio.Server | None = None
    port: int = 0
    connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = field(default_factory=dict)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections[writer] = task
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                length = re.search(rb"\r\ncontent-length: *(\d+)", head)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                self.on_body(body, time.perf_counter())
                writer.write(OK)
        writer.close()
        self.connections.pop(writer, None)

    async def stop(self) -> None:
        """Stop listening and close the kept-alive connections (their readers then end by themselves)."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.connections):
            writer.close()
        await asyncio.gather(*self.connections.values(), return_exceptions=True)


async def receive_until_stopped() -> dict[str, Any]:
    """Serve until SIGTERM; print the port first (one line), the count last."""
    count = 0

    def counted(_body: bytes, _at: float) -> None:
        nonlocal count
        count += 1

    receiver = Receiver(counted)
    await receiver.start()
    sys.stdout.write(json.dumps({"port": receiver.port}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await receiver.stop()
    return {"received": count}


@dataclass
class Arrivals:
    answered: dict[int, float] = field(default_factory=dict)
    arrived: list[tuple[int, float]] = field(default_factory=list)
    expected: int | None = None
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, seq: int, at: float) -> None:
        self.arrived.append((seq, at))
        self.check()

    def check(self) -> None:
        if self.expected is not None and len(self.arrived) >= self.expected:
            self.complete.set()


async def deliveries(
    url: str,
    jobs: list[str],
    endpoints: int,
    rate: float,
    duration: float,
    salt: str,
    reporters: int,
    settle_s: float,
) -> dict[str, Any]:
    """Subscribe `endpoints` endpoints (all on this process's receiver), send `rate` progress
    reports a second for `duration`, wait up to `settle_s` for every delivery, remove the endpoints.

    The result's `rate` is deliveries a second at the receiver (`endpoints` per report);
    `p50_ms`/`p99_ms` the delay from a report's answer to each delivery of its event (one that
    arrives before the answer is read counts 0)."""
    host, port = address(url)
    token = re.compile(rb'"wh' + salt.encode() + rb'-(\d+)"')
    arrivals = Arrivals()

    def arrived(body: bytes, at: float) -> None:
        if (match := token.search(body)) is not None:
            arrivals.add(int(match.group(1)), at)

    receiver = Receiver(arrived)
    await receiver.start()
    admin = Http(host, port)
    hooks = [
        await admin.json(
            "POST",
            "/v1/webhooks",
            201,
            {"url": f"http://127.0.0.1:{receiver.port}/hook/{n}", "events": EVENT_TYPES},
        )
        for n in range(endpoints)
    ]
    await admin.close()  # idle until the end, past the server's keep-alive: the end opens a new one
    pool: asyncio.Queue[Http] = asyncio.Queue()
    for _ in range(reporters):
        pool.put_nowait(Http(host, port))
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def report(seq: int, http: Http) -> None:
        nonlocal errors
        body = json.dumps({"progress": 50.0, "message": f"wh{salt}-{seq}"}).encode()
        try:
            status, _ = await http.request("POST", f"/v1/exports/{jobs[seq % len(jobs)]}/progress", body)
        finally:
            pool.put_nowait(http)
        if status == 200:
            arrivals.answered[seq] = time.perf_counter()
        else:
            errors += 1

    loop = asyncio.get_running_loop()
    cpu, start = time.process_time(), time.perf_counter()
    for seq in range(round(rate * duration)):
        wait = start + seq / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        task = loop.create_task(report(seq, await pool.get()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sending = time.perf_counter() - start
    if tasks:
        await asyncio.wait(tasks)
    expected = arrivals.expected = len(arrivals.answered) * endpoints
    arrivals.check()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settle_s):
            await arrivals.complete.wait()
    drained = time.perf_counter() - start
    for hook in hooks:
        await admin.request("DELETE", f"/v1/webhooks/{hook['id']}")
    await admin.close()
    while not pool.empty():
        await pool.get_nowait().close()
    await receiver.stop()

    delays = [
        max(0.0, at - arrivals.answered[seq]) for seq, at in arrivals.arrived if seq in arrivals.answered
    ]
    return {
        "rate": len(delays) / drained if drained else 0.0,
        "p50_ms": percentile(delays, 50) * 1000,
        "p99_ms": percentile(delays, 99) * 1000,
        "max_ms": max(delays, default=float("nan")) * 1000,
        "count": len(delays),
        "errors": errors,
        "load_cpu": (time.process_time() - cpu) / drained if drained else 0.0,
        "reports": len(arrivals.answered),
        "report_rate": len(arrivals.answered) / sending,
        "asked_rate": rate,
        "delivered": len(delays) / expected if expected else 0.0,
    }


async def coalesced(
    url: str,
    jobs: list[str],
    endpoints: int,
    per_job_rate: float,
    duration: float,
    salt: str,
    settle_s: float,
) -> dict[str, Any]:
    """Each job reports `per_job_rate` times a second, its figure rising, while `endpoints` endpoints
    subscribe to `export.progress`: progress is a state, so an endpoint gets at most one delivery of
    a job an interval, and the newest figure soon after it was reported.

    `p50_ms`/`p99_ms` are, for every report and endpoint, the delay from the report's answer to the
    first delivery at that endpoint of a figure at least as new; `min_gap_ms` is the smallest gap
    between two deliveries of one job to one endpoint; `rate` deliveries a second."""
    host, port = address(url)
    by_endpoint_job: dict[tuple[int, int], list[tuple[int, float]]] = {}
    token = re.compile(rb'"cj' + salt.encode() + rb"-(\d+)-(\d+)\"")
    last: dict[int, int] = {}
    settled = asyncio.Event()

    def newest_everywhere() -> bool:
        return bool(last) and all(
            any(n >= last[job] for n, _ in by_endpoint_job.get((e, job), ()))
            for e in range(endpoints)
            for job in range(len(jobs))
        )

    def arrived_at(endpoint: int) -> Callable[[bytes, float], None]:
        def arrived(body: bytes, at: float) -> None:
            if (match := token.search(body)) is not None:
                key = (endpoint, int(match.group(1)))
                by_endpoint_job.setdefault(key, []).append((int(match.group(2)), at))
                if newest_everywhere():
                    settled.set()

        return arrived

    receivers = [Receiver(arrived_at(n)) for n in range(endpoints)]
    for receiver in receivers:
        await receiver.start()
    admin = Http(host, port)
    hooks = [
        await admin.json(
            "POST",
            "/v1/webhooks",
            201,
            {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["export.progress"]},
        )
        for receiver in receivers
    ]
    await admin.close()
    answered: dict[tuple[int, int], float] = {}
    errors = 0

    async def reporter(job: int) -> None:
        nonlocal errors
        http = Http(host, port)
        begun = time.perf_counter()
        for n in range(round(per_job_rate * duration)):
            wait = begun + n / per_job_rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            body = json.dumps({"progress": min(n / 10, 99.0), "message": f"cj{salt}-{job}-{n}"}).encode()
            status, _ = await http.request("POST", f"/v1/exports/{jobs[job]}/progress", body)
            if status == 200:
                answered[(job, n)] = time.perf_counter()
            else:
                errors += 1
        await http.close()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(reporter(job) for job in range(len(jobs))))
    last.update({job: max(n for j, n in answered if j == job) for job in range(len(jobs))})
    if newest_everywhere():
        settled.set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settle_s):
            await settled.wait()
    drained = time.perf_counter() - start
    admin = Http(host, port)
    for hook in hooks:
        await admin.request("DELETE", f"/v1/webhooks/{hook['id']}")
    await admin.close()
    for receiver in receivers:
        await receiver.stop()

    delays, gaps, count = [], [], 0
    for (_endpoint, job), got in by_endpoint_job.items():
        count += len(got)
        gaps += [b[1] - a[1] for a, b in itertools.pairwise(got)]
        for (j, n), at in answered.items():
            if j == job:
                first = next((t for m, t in got if m >= n), None)
                if first is not None:
                    delays.append(max(0.0, first - at))
    expected = len(answered) * endpoints
    return {
        "rate": count / drained if drained else 0.0,
        "p50_ms": percentile(delays, 50) * 1000,
        "p99_ms": percentile(delays, 99) * 1000,
        "errors": errors,
        "count": count,
        "reports": len(answered),
        "newest_everywhere": newest_everywhere(),
        "fresh": len(delays) / expected if expected else 0.0,
        "min_gap_ms": min(gaps, default=float("nan")) * 1000,
        "load_cpu": (time.process_time() - cpu) / drained if drained else 0.0,
    }
