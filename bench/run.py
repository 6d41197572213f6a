"""`make bench`: framestate against a bare baseline, on SQLite and on PostgreSQL, over loopback.

For each database: a fresh database migrated by `framestate migrate` (the real schema), seeded
with bulk SQL through the real tables (10,000 projects, 10% of them exporting); then two servers on
free loopback ports, each one uvicorn process: `framestate serve`, and the baseline
(bench/baseline.py: the same SQL by hand, no ORM, no state machine, no history, no events). The
load comes from another process (bench/load.py: wrk, or a bare asyncio client), one server at a
time, after a short warm-up. Then the state machine's decision is timed in this process, the
servers' peak memory is read from /proc, and the scenario furthest from its baseline is run once
more against a `framestate serve` under py-spy (when py-spy is installed) to show where its time
goes. The tables are printed and written into docs/benchmarks.md between its markers; the text
around the markers is left as it is.

    .venv/bin/python -m bench.run [--only sqlite|postgresql] [--duration 6] [--profile auto|none]
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import timeit
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import service.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from bench import webhooks
from fsm.facts import Action, Facts, JobType, Move, facts_after, status_from_facts
from fsm.machine import decide
from fsm.status import Status

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN_MARK = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->"
END_MARK = "<!-- bench:end -->"
PG_HOST = os.environ.get("FRAMESTATE_BENCH_PG", "postgres@127.0.0.1:5432")
PG_DATABASE = "framestate_bench"
PROJECTS = 10_000
EXPORT_WORKERS = 4
LIVE_SUBSCRIBERS = 500
LIVE_RATE = 200.0
LIVE_SLOW_RATE = 20.0
SERVER_ENV = {
    "FRAMESTATE_LOG_LEVEL": "WARNING",
    "FRAMESTATE_JOB_TIMEOUT_S": "86400",
    "FRAMESTATE_MAX_STREAMS": "1000",  # the live scenario holds 500 streams from one address
    "FRAMESTATE_WEBHOOK_ALLOW_PRIVATE": "true",  # the webhook scenarios' receiver is on loopback
}


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# Seeding: 10,000 projects through the real tables, every one consistent with the contract.


@dataclass
class Seeded:
    project_ids: list[str]
    active_job_ids: list[str]
    export_projects: dict[str, list[str]]  # who runs whole exports on them -> project ids


def _seed_rows(now: datetime) -> tuple[dict[str, list[dict[str, Any]]], Seeded]:
    rows: dict[str, list[dict[str, Any]]] = {
        "project": [],
        "clip": [],
        "video": [],
        "export_job": [],
        "status_history": [],
    }
    project_ids: list[str] = []
    active: list[str] = []
    framed_spares: list[str] = []
    crop = {"keyframes": [{"t": 0, "x": 0.4, "y": 0.5, "zoom": 1.2}, {"t": 2.5, "x": 0.6}]}
    first = now - timedelta(days=10)

    def job(project_id: str, job_type: str, status: str, at: datetime, **more: Any) -> str:
        job_id = uuid.uuid4().hex
        finished = status not in ("queued", "running")
        rows["export_job"].append(
            {
                "id": job_id,
                "project_id": project_id,
                "type": job_type,
                "status": status,
                "progress": 100.0 if finished else 10.0,
                "message": "seeded",
                "error": None,
                "input_video_id": None,
                "output_video_id": None,
                "idempotency_key": None,
                "created_at": at,
                "updated_at": at,
                "reported_at": now if not finished else at,
                "finished_at": at if finished else None,
                **more,
            }
        )
        return job_id

    def video(project_id: str, kind: str, at: datetime, input_video: str | None = None) -> str:
        video_id = uuid.uuid4().hex
        job_type = "framing" if kind == "working" else "overlay"
        job_id = job(
            project_id, job_type, "succeeded", at, input_video_id=input_video, output_video_id=video_id
        )
        rows["video"].append(
            {
                "id": video_id,
                "project_id": project_id,
                "kind": kind,
                "version": 1,
                "uri": f"s3://renders/{video_id}.mp4",
                "job_id": job_id,
                "created_at": at,
            }
        )
        return video_id

    for index in range(PROJECTS):
        project_id = uuid.uuid4().hex
        created = first + timedelta(seconds=60 * index, microseconds=index)
        later = created + timedelta(seconds=30)
        kind = index % 10
        sub = (index // 10) % 5
        exporting = kind == 0
        # The facts: framed clips, unframed clips, a working video, a final video.
        framed, unframed, working, final = {
            0: (1, 0, sub in (1, 2, 3, 4), sub in (2, 4)),
            1: (0, 0, False, False),
            2: (0, 1, False, False),
            3: (1, 0, False, False),
            4: (1, 1, False, False),
            5: (2, 0, True, False),
            6: (2, 0, True, False),
            7: (2, 0, True, True),
            8: (2, 0, True, True),
            9: (2, 0, True, True),
        }[kind]
        for number in range(framed + unframed):
            rows["clip"].append(
                {
                    "id": uuid.uuid4().hex,
                    "project_id": project_id,
                    "crop_data": crop if number < framed else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        working_id = video(project_id, "working", later) if working else None
        final_id = video(project_id, "final", later, working_id) if final else None
        status = status_from_facts(
            Facts(
                active_framing=exporting and sub <= 2,
                active_overlay=exporting and sub >= 3,
                final_video=final,
                working_video=working,
                framed_clip=framed > 0,
            )
        )
        if exporting:
            job_type = "framing" if sub <= 2 else "overlay"
            active.append(
                job(
                    project_id,
                    job_type,
                    "running",
                    now - timedelta(minutes=1),
                    input_video_id=working_id if job_type == "overlay" else None,
                )
            )
        elif kind in (5, 6):
            framed_spares.append(project_id)
        rows["project"].append(
            {
                "id": project_id,
                "name": f"Project {index:05d}",
                "status": status.value,
                "version": 2 + framed + unframed + (2 if working else 0) + (2 if final else 0) + exporting,
                "clip_count": framed + unframed,
                "framed_clip_count": framed,
                "working_video_id": working_id,
                "final_video_id": final_id,
                "created_at": created,
                "updated_at": later,
            }
        )
        history: list[tuple[str, str | None, str, datetime]] = [
            (Action.PROJECT_CREATED.value, None, Status.NOT_STARTED.value, created)
        ]
        if status is not Status.NOT_STARTED:
            history.append(("job_succeeded", Status.NOT_STARTED.value, status.value, later))
        rows["status_history"].extend(
            {"project_id": project_id, "at": at, "action": action, "from_status": source, "to_status": dest}
            for action, source, dest, at in history
        )
        project_ids.append(project_id)
    spares = {
        "framestate": framed_spares[:EXPORT_WORKERS],
        "baseline": framed_spares[EXPORT_WORKERS : 2 * EXPORT_WORKERS],
    }
    return rows, Seeded(project_ids, active, spares)


async def _insert(url: str, rows: dict[str, list[dict[str, Any]]], postgres: bool) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for name in ("project", "clip", "export_job", "video", "status_history"):
                table: Table = SQLModel.metadata.tables[name]
                batch = rows[name]
                for start in range(0, len(batch), 2000):
                    await conn.execute(table.insert(), batch[start : start + 2000])
        async with engine.connect() as conn:
            if postgres:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
            else:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await engine.dispose()


def seed(url: str, postgres: bool) -> Seeded:
    env = {**os.environ, "FRAMESTATE_DATABASE_URL": url, **SERVER_ENV}
    subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows, seeded = _seed_rows(datetime.now(UTC))
    asyncio.run(_insert(url, rows, postgres))
    return seeded


# Databases.


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG_HOST}/test", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / "bench.db"
        for leftover in VAR.glob("bench.db*"):
            leftover.unlink()
        yield f"sqlite+aiosqlite:///{path}"
        return
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_DATABASE}"'))
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{PG_DATABASE}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


def postgres_error() -> str | None:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# Servers: one uvicorn process each, on a free loopback port.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    pid: int = 0  # the Python process that serves (under py-spy: py-spy's child)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.pid != self.process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGTERM)  # py-spy writes its profile once its child ends
            else:
                self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, command: list[str], url: str, ready_path: str, database_url: str) -> Server:
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / f"{name}.log"
    env = {**os.environ, "FRAMESTATE_DATABASE_URL": database_url, **SERVER_ENV}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, url, log, process.pid)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                if command[0].endswith("py-spy"):
                    server.pid = next(iter(_children(process.pid)), process.pid)
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer {ready_path} within 90 s:\n{log.read_text()[-3000:]}")


def framestate_command(port: int) -> list[str]:
    return [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]


def baseline_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.baseline", "--port", str(port)]


# Scenarios.


def load(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.load {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _machine_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _postgres_seconds() -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            raw = stat.read_text()
            if "(postgres" in raw:
                fields = raw.rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measured(server: Server, *args: str) -> dict[str, Any]:
    """One run of the load generator, with the CPU that the server, the database and everyone else
    on the machine used meanwhile (in cores)."""
    cpu, busy, pg, began = (
        server.cpu_seconds(),
        _machine_busy_seconds(),
        _postgres_seconds(),
        time.perf_counter(),
    )
    result = load(*args)
    wall = time.perf_counter() - began
    result["server_cpu"] = (server.cpu_seconds() - cpu) / wall
    result["db_cpu"] = max(0.0, _postgres_seconds() - pg) / wall  # a backend that ended takes its time along
    result["other_cpu"] = max(
        0.0,
        (_machine_busy_seconds() - busy) / wall
        - result["server_cpu"]
        - result["db_cpu"]
        - result["load_cpu"],
    )
    return result


@dataclass
class Scenario:
    key: str
    title: str
    unit: str
    args: dict[str, list[str]]  # framestate / baseline -> bench.load arguments ("{url}" is the server)
    warm_up: bool = True
    goal: str = ""


@dataclass
class Row:
    scenario: Scenario
    framestate: dict[str, Any] | None
    baseline: dict[str, Any] | None

    @property
    def ratio(self) -> float | None:
        if not self.framestate or not self.baseline or not self.baseline["rate"]:
            return None
        return float(self.framestate["rate"]) / float(self.baseline["rate"])


@dataclass
class DbReport:
    kind: str
    rows: list[Row] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    profile: str = ""
    notes: list[str] = field(default_factory=list)


def write_lines(name: str, lines: list[str]) -> str:
    path = VAR / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def page_paths(url: str, pages: int) -> list[str]:
    """The first `pages` pages of 50 cards, newest first, with the cursors framestate gave out."""
    paths = ["/v1/projects?limit=50"]
    with httpx.Client(base_url=url, timeout=30) as client:
        while len(paths) < pages:
            page = client.get(paths[-1])
            page.raise_for_status()
            paths.append(f"/v1/projects?limit=50&cursor={page.json()['next_cursor']}")
    return paths


def scenarios(seeded: Seeded, duration: float, page_paths_file: str) -> list[Scenario]:
    secs = ["--duration", str(duration)]
    cards = write_lines("cards.txt", [f"/v1/projects/{pid}" for pid in seeded.project_ids])
    jobs = write_lines("jobs.txt", seeded.active_job_ids)
    hello = write_lines("hello.txt", ["/hello"])
    exporters = {who: write_lines(f"exports-{who}.txt", ids) for who, ids in seeded.export_projects.items()}
    salt = uuid.uuid4().hex[:6]

    def both(*args: str) -> dict[str, list[str]]:
        return {"framestate": [*args, *secs], "baseline": [*args, *secs]}

    return [
        Scenario(
            "hello-wrk",
            "hello world, bare Litestar (ceiling, wrk)",
            "req/s",
            {"baseline": ["wrk", "{url}", "get", hello, *secs]},
        ),
        Scenario(
            "hello-async",
            "hello world, bare Litestar (ceiling, asyncio client)",
            "req/s",
            {"baseline": ["hello", "{url}", *secs]},
        ),
        Scenario("card", "read one card", "req/s", both("wrk", "{url}", "get", cards), goal="ratio ≥ 0.8"),
        Scenario(
            "page",
            "page of 50 cards (10,000 projects, 10% exporting)",
            "req/s",
            both("wrk", "{url}", "get", page_paths_file),
            goal="ratio ≥ 0.8",
        ),
        Scenario(
            "progress",
            "progress report",
            "req/s",
            {
                "framestate": ["wrk", "{url}", "progress", jobs, f"fs{salt}{{round}}", *secs],
                "baseline": ["wrk", "{url}", "progress", jobs, f"bl{salt}{{round}}", *secs],
            },
            goal="ratio ≥ 0.6",
        ),
        Scenario(
            "export",
            f"whole export: start, 10 reports, succeed ({EXPORT_WORKERS} workers)",
            "exports/s",
            {
                "framestate": ["exports", "{url}", exporters["framestate"], *secs],
                "baseline": ["exports", "{url}", exporters["baseline"], *secs],
            },
            goal="ratio ≥ 0.6",
        ),
        *(
            Scenario(
                key,
                f"live cards: {LIVE_SUBSCRIBERS} subscribers, {rate:g} reports/s (delay report → card)",
                "cards/s",
                {
                    who: [
                        "live",
                        "{url}",
                        jobs,
                        "--subscribers",
                        str(LIVE_SUBSCRIBERS),
                        "--rate",
                        str(rate),
                        "--duration",
                        str(max(duration, 8)),
                        "--salt",
                        f"{who[:2]}{key[-4:]}{salt}",
                    ]
                    for who in ("framestate", "baseline")
                },
                warm_up=False,
                goal="p99 < 50 ms (or ≤ 1.25 × a slower baseline's), reports ≥ 0.9 × the baseline's rate"
                if key == "live"
                else "",
            )
            for key, rate in (("live", LIVE_RATE), ("live-slow", LIVE_SLOW_RATE))
        ),
    ]


def _args(args: list[str], url: str, round_name: str, duration: float | None = None) -> list[str]:
    out = [arg.replace("{url}", url).replace("{round}", round_name) for arg in args]
    if duration is not None and "--duration" in out:
        out[out.index("--duration") + 1] = str(duration)
    return out


def _better(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    """Of two rounds, the one with the higher rate (for live cards: the lower p99 delay)."""
    if a is None:
        return b
    if "delivered" in b:
        return b if b["p99_ms"] < a["p99_ms"] else a
    return b if b["rate"] > a["rate"] else a


def run_scenarios(
    servers: dict[str, Server], plan: list[Scenario], warm_up_s: float, rounds: int
) -> list[Row]:
    """framestate, then the baseline, `rounds` times over: each side keeps its best round, so that a
    burst of someone else's work on the machine does not decide a ratio."""
    rows = []
    for scenario in plan:
        results: dict[str, dict[str, Any] | None] = {"framestate": None, "baseline": None}
        for round_number in range(rounds if scenario.warm_up else 1):
            for who in ("framestate", "baseline"):
                if who not in scenario.args:
                    continue
                server = servers[who]
                if scenario.warm_up:
                    load(*_args(scenario.args[who], server.url, f"warm{round_number}", warm_up_s))
                result = measured(server, *_args(scenario.args[who], server.url, f"run{round_number}"))
                results[who] = _better(results[who], result)
        row = Row(scenario, results["framestate"], results["baseline"])
        say(f"  {scenario.title}: {_brief(row)}")
        rows.append(row)
    return rows


WEBHOOK_ENDPOINTS = 5
WEBHOOK_RATE = 200.0


def webhook_rows(
    servers: dict[str, Server], rows: list[Row], jobs: str, duration: float, warm_up_s: float, rounds: int
) -> list[Row]:
    """framestate with webhooks on: the card and progress scenarios again while
    `WEBHOOK_ENDPOINTS` endpoints subscribed to every event type (a receiver process answers each
    delivery 200 at once), set against the baseline's figures of the same run; then reports at
    `WEBHOOK_RATE` a second, timed from each answer to each delivery of its event."""
    framestate = {"framestate": servers["framestate"]}
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.load", "receiver"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    port = json.loads(receiver.stdout.readline())["port"]
    with httpx.Client(base_url=servers["framestate"].url, timeout=30) as client:
        hooks = [
            client.post(
                "/v1/webhooks",
                json={"url": f"http://127.0.0.1:{port}/hook/{n}", "events": webhooks.EVENT_TYPES},
            )
            .raise_for_status()
            .json()["id"]
            for n in range(WEBHOOK_ENDPOINTS)
        ]
        again = []
        try:
            for row in rows:
                if row.scenario.key in ("card", "progress"):
                    on = replace(
                        row.scenario,
                        key=f"{row.scenario.key}-webhooks",
                        title=f"{row.scenario.title}, {WEBHOOK_ENDPOINTS} webhook endpoints subscribed",
                        args={"framestate": row.scenario.args["framestate"]},
                        goal="",
                    )
                    (measured_row,) = run_scenarios(framestate, [on], warm_up_s, rounds)
                    again.append(Row(on, measured_row.framestate, row.baseline))
        finally:
            for hook in hooks:
                client.delete(f"/v1/webhooks/{hook}")
            receiver.send_signal(signal.SIGTERM)
            received = json.loads(receiver.communicate(timeout=30)[0].strip().splitlines()[-1])["received"]
    say(f"  (the receiver answered {received:,} deliveries meanwhile)")
    deliveries = Scenario(
        "webhooks",
        f"webhooks: {WEBHOOK_RATE:g} reports/s, {WEBHOOK_ENDPOINTS} endpoints (delay report → delivery)",
        "deliveries/s",
        {
            "framestate": [
                "webhooks",
                "{url}",
                jobs,
                "--endpoints",
                str(WEBHOOK_ENDPOINTS),
                "--rate",
                str(WEBHOOK_RATE),
                "--duration",
                str(max(duration, 8)),
                "--salt",
                uuid.uuid4().hex[:6],
            ]
        },
        warm_up=False,
    )
    return again + run_scenarios(framestate, [deliveries], warm_up_s, 1)


def _brief(row: Row) -> str:
    parts = []
    for who, result in (("framestate", row.framestate), ("baseline", row.baseline)):
        if result:
            parts.append(
                f"{who} {result['rate']:,.0f} {row.scenario.unit} "
                f"p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms"
                + (f" ({result['errors']} errors)" if result["errors"] else "")
            )
    if row.ratio is not None:
        parts.append(f"ratio {row.ratio:.2f}")
    return "; ".join(parts)


# The state machine alone.


@dataclass
class Decisions:
    per_case_us: dict[str, float]
    plain_us: float

    @property
    def mean_us(self) -> float:
        return sum(self.per_case_us.values()) / len(self.per_case_us)

    @property
    def worst_us(self) -> float:
        return max(self.per_case_us.values())


def time_decisions() -> Decisions:
    """µs per `fsm.machine.decide`, the best of 7 rounds, for moves that cover the table's shapes;
    and, for scale, the plain function of the facts that cross-checks it."""
    s, f = Status, JobType.FRAMING
    cases = {
        "start framing (in_progress)": (
            s.IN_PROGRESS,
            Facts(framed_clip=True),
            Move(Action.START_FRAMING_EXPORT, f),
        ),
        "re-frame (complete)": (
            s.COMPLETE,
            Facts(final_video=True, working_video=True, framed_clip=True),
            Move(Action.START_FRAMING_EXPORT, f),
        ),
        "framing succeeds": (
            s.EXPORTING_FRAMING,
            Facts(active_framing=True, working_video=True, framed_clip=True),
            Move(Action.JOB_SUCCEEDED, f),
        ),
        "overlay fails (5th row of its source)": (
            s.EXPORTING_OVERLAY,
            Facts(active_overlay=True, working_video=True, framed_clip=True),
            Move(Action.JOB_FAILED, JobType.OVERLAY),
        ),
        "refused (guard fails)": (s.NOT_STARTED, Facts(), Move(Action.START_OVERLAY_EXPORT, JobType.OVERLAY)),
    }
    number = 20_000
    per_case = {}
    for name, (source, facts, move) in cases.items():
        best = min(timeit.repeat(lambda: decide(source, facts, move), number=number, repeat=7))  # noqa: B023
        per_case[name] = best / number * 1e6
    plain = []
    for _source, facts, move in cases.values():
        best = min(
            timeit.repeat(lambda: status_from_facts(facts_after(facts, move)), number=number, repeat=7)  # noqa: B023
        )
        plain.append(best / number * 1e6)
    return Decisions(per_case, sum(plain) / len(plain))


# Profile: the scenario furthest from its baseline, once more, under py-spy.

# Each sample of the event loop's thread goes to the first of these that a frame matches, walking
# from the innermost frame outwards (frames of other stdlib modules are passed over).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("aiosqlite: a call handed to its thread, and the answer back", ("(aiosqlite/core.py",)),
    (
        "socket writes and reads (syscalls)",
        ("_SelectorSocketTransport.write", "sock_recv", "socket.send", "_read_ready"),
    ),
    ("asyncpg: protocol, prepare, bind", ("asyncpg/",)),
    ("greenlet bridge (SQLAlchemy async)", ("sqlalchemy/util/concurrency.py", "greenlet")),
    ("ORM: rows into objects (loading.py)", ("sqlalchemy/orm/loading.py",)),
    ("ORM: session, identity map, attributes, flush", ("sqlalchemy/orm/",)),
    ("SQLModel / pydantic", ("sqlmodel/", "pydantic")),
    ("Core: building, caching, compiling statements", ("sqlalchemy/sql/",)),
    (
        "Core: execution, results, pool, dialect",
        ("sqlalchemy/engine/", "sqlalchemy/pool/", "sqlalchemy/dialects/"),
    ),
    ("state machine (fsm + transitions)", ("transitions/", "fsm/")),
    ("JSON: msgspec encode/decode", ("msgspec", "litestar/serialization/")),
    ("request_checks: the second, strict body decode", ("service/request_checks.py",)),
    ("Litestar: kwargs, signature, DI", ("litestar/_kwargs/", "litestar/_signature/", "litestar/di.py")),
    (
        "Litestar: guards",
        ("authorize_connection", "litestar/concurrency.py", "service/auth.py"),
    ),
    ("Litestar: routing, middleware, responses", ("litestar/",)),
    ("uvicorn + h11", ("uvicorn/", "h11/")),
    ("service code itself", ("service/",)),
    ("event loop, threads", ("asyncio/", "selectors.py", "concurrent/futures/", "threading.py")),
]
MARKS: list[tuple[str, tuple[str, ...]]] = [
    ("the ORM, anywhere below", ("sqlalchemy/orm/",)),
    ("building cards (service/reading.py)", ("service/reading.py",)),
    ("the unit of work (service/unit_of_work.py)", ("service/unit_of_work.py",)),
    ("the state machine (fsm/machine.py)", ("fsm/machine.py",)),
    ("request_checks (second body decode)", ("service/request_checks.py",)),
    ("Litestar kwargs parsing", ("litestar/_kwargs/",)),
    ("encoding the answer (Litestar + msgspec)", ("litestar/serialization/", "litestar/response/")),
]


STARTUP_FRAMES = ("importlib", "alembic", "migrations.py", "Events.start", "parser (service/cli.py")
# py-spy takes the event loop's thread for running while it waits in epoll, and then shows either
# the `select` frame or, through SQLAlchemy's greenlets, the last `await` on aiosqlite's future:
# both are waiting, not work (the server's CPU time, measured apart, agrees).
WAITING_LEAVES = ("EpollSelector.select (", "Connection._execute (aiosqlite/core.py:158)")


def _waiting(parts: list[str]) -> bool:
    return len(parts) == 1 or parts[-1].startswith(WAITING_LEAVES)


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        parts = frames.split(";")
        if any(mark in part for part in parts for mark in STARTUP_FRAMES):
            continue  # start-up, not the scenario
        stacks.append((parts, int(count)))
    return stacks


def _layer(parts: list[str]) -> str:
    for frame in reversed(parts[1:]):
        for label, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return label
    return "other"


def summarise_profile(path: Path, title: str) -> str:
    stacks = _stacks(path)
    main_all = [(parts, count) for parts, count in stacks if "MainThread" in parts[0]]
    main = [(parts, count) for parts, count in main_all if not _waiting(parts)]
    waiting = sum(count for _, count in main_all) - sum(count for _, count in main)
    others = sum(count for parts, count in stacks if "MainThread" not in parts[0])
    busy = sum(count for _, count in main)
    if not busy:
        return f"(no samples in {path})"
    layers: Counter[str] = Counter()
    for parts, count in main:
        layers[_layer(parts)] += count
    lines = [
        f"Profile of **{title}** (py-spy at 200 Hz; raw stacks in `{path.relative_to(ROOT)}`). The "
        f"event loop's thread, the one that limits a process, was working in {busy:,} samples and "
        f"waiting in {waiting:,} (epoll, or parked on an aiosqlite future); other threads (aiosqlite's, "
        f"Litestar's pool) ran in {others:,}. Where the working samples go, by the innermost layer:",
        "",
        "| layer | share of work |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {count / busy:.0%} |" for label, count in layers.most_common()]
    lines += ["", "Working samples whose stack passes through:", "", "| | share of work |", "|---|---:|"]
    for label, needles in MARKS:
        hits = sum(count for parts, count in main if any(n in frame for frame in parts for n in needles))
        lines.append(f"| {label} | {hits / busy:.0%} |")
    own: Counter[str] = Counter()
    for parts, count in main:
        own[parts[-1]] += count
    lines += ["", "Innermost frames of the working samples:", "", "| frame | share of work |", "|---|---:|"]
    lines += [f"| `{name}` | {count / busy:.1%} |" for name, count in own.most_common(10)]
    return "\n".join(lines)


def profile(kind: str, database_url: str, scenario: Scenario, warm_up_s: float) -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "(py-spy is not installed: `.venv/bin/pip install py-spy` for a profile)"
    out = VAR / f"profile-{kind}-{scenario.key}.txt"
    port = free_port()
    command = [spy, "record", "--rate", "200", "--threads", "--nonblocking", "--format", "raw"]
    command += ["--output", str(out), "--", *framestate_command(port)]
    server = start_server(
        f"framestate-pyspy-{kind}", command, f"http://127.0.0.1:{port}", "/health", database_url
    )
    try:
        args = scenario.args["framestate"]
        load(*_args(args, server.url, "pwarm", warm_up_s))
        load(*_args(args, server.url, "prof"))
    finally:
        server.stop()
    return summarise_profile(out, f"{scenario.title}, framestate on {kind}")


# Reports.


def _ms(value: float) -> str:
    return f"{value:.2f}"


def table(report: DbReport, decisions: Decisions) -> str:
    head = (
        "| scenario | framestate /s | p50 ms | p99 ms | baseline /s | p50 ms | p99 ms | ratio | goal "
        "| CPU: server · load · db · others (baseline's server) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    )
    lines = [head]
    for row in report.rows:
        fs, bl = row.framestate, row.baseline
        cells = [f"{row.scenario.title} ({row.scenario.unit})"]
        for result in (fs, bl):
            cells += (
                [f"{result['rate']:,.0f}", _ms(result["p50_ms"]), _ms(result["p99_ms"])]
                if result
                else ["", "", ""]
            )
        cells.append(f"{row.ratio:.2f}" if row.ratio is not None else "")
        cells.append(_goal(row))
        cells.append(_cpu(fs, bl))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"| state machine: one decision (µs; baseline: the plain status function) "
        f"| {1e6 / decisions.mean_us:,.0f} | {decisions.mean_us:.1f} µs | {decisions.worst_us:.1f} µs "
        f"| {1e6 / decisions.plain_us:,.0f} | {decisions.plain_us:.2f} µs | | "
        f"{decisions.plain_us / decisions.mean_us:.2f} | {_decision_goal(decisions)} | in-process |"
    )
    return "\n".join(lines)


def _cpu(fs: dict[str, Any] | None, bl: dict[str, Any] | None) -> str:
    """Cores busy in framestate's run (in the baseline's where framestate has none)."""
    run = fs or bl
    if run is None:
        return ""
    parts = " · ".join(f"{run[key]:.2f}" for key in ("server_cpu", "load_cpu", "db_cpu", "other_cpu"))
    return parts + (f" ({bl['server_cpu']:.2f})" if fs and bl else "")


RATIO_GOALS = {"card": 0.8, "page": 0.8, "progress": 0.6, "export": 0.6}
LIVE_P99_MS = 50.0
LIVE_P99_SLACK = 1.25
LIVE_RATE_SHARE = 0.9


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _goal(row: Row) -> str:
    key, fs, bl = row.scenario.key, row.framestate, row.baseline
    if key in RATIO_GOALS and row.ratio is not None:
        need = RATIO_GOALS[key]
        return f"≥ {need} {_met(row.ratio >= need)}"
    if key == "live" and fs and bl:
        slower_baseline = bl["p99_ms"] > LIVE_P99_MS
        p99_bound = LIVE_P99_SLACK * bl["p99_ms"] if slower_baseline else LIVE_P99_MS
        share = fs["report_rate"] / bl["report_rate"] if bl["report_rate"] else 0.0
        return (
            f"p99 < {p99_bound:.0f} ms {_met(fs['p99_ms'] < p99_bound)}; reports "
            f"{share:.2f} × the baseline's ≥ {LIVE_RATE_SHARE} {_met(share >= LIVE_RATE_SHARE)}"
        )
    return ""


def _decision_goal(decisions: Decisions) -> str:
    return f"< 20 µs {'met' if decisions.worst_us < 20 else '**missed**'}"


def live_notes(report: DbReport) -> list[str]:
    notes = []
    for row in report.rows:
        if not row.scenario.key.startswith("live"):
            continue
        rate = LIVE_RATE if row.scenario.key == "live" else LIVE_SLOW_RATE
        for who, r in (("framestate", row.framestate), ("baseline", row.baseline)):
            if r:
                notes.append(
                    f"live cards at {rate:g} reports/s asked, {who}: {r['reports']} reports sent at "
                    f"{r['report_rate']:.0f}/s (answered in p50 {r['report_p50_ms']:.1f} ms, p99 "
                    f"{r['report_p99_ms']:.1f} ms); {r['delivered']:.1%} of the expected cards arrived; "
                    f"delay max {r['max_ms']:.0f} ms; {r['early']:,} cards came before their report's "
                    f"answer was read (counted as 0 ms); {r['streams_lost']} streams lost"
                )
    for row in report.rows:
        if row.scenario.key == "webhooks" and (r := row.framestate):
            notes.append(
                f"webhooks at {WEBHOOK_RATE:g} reports/s asked, {WEBHOOK_ENDPOINTS} endpoints: "
                f"{r['reports']} reports sent at {r['report_rate']:.0f}/s; {r['delivered']:.1%} of the "
                f"expected deliveries arrived; delay max {r['max_ms']:.0f} ms"
            )
    return notes


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split()
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in (
            "litestar",
            "uvicorn",
            "h11",
            "sqlalchemy",
            "sqlmodel",
            "aiosqlite",
            "asyncpg",
            "transitions",
        )
    )
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; Linux {platform.release()}; "
        f"Python {platform.python_version()} "
        f"(asyncio event loop, no uvloop; uvicorn on h11); SQLite {sqlite3.sqlite_version}; "
        f"{' '.join(wrk[:2]) if wrk else 'wrk'}; {versions}"
    )


def render(
    reports: list[DbReport], decisions: Decisions, duration: float, rounds: int, pg_version: str
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"Last run: {when}, `make bench` (`.venv/bin/python -m bench.run`), {duration:g} s a scenario "
        f"after a 1 s warm-up, best of {rounds} rounds, 4 connections (wrk: 1 thread; whole export: "
        f"{EXPORT_WORKERS} workers).",
        "",
        f"Machine: {machine()}" + (f"; {pg_version}" if pg_version else "") + ".",
        "",
        "Ratio = framestate's rate / the baseline's rate in the same run, on the same database; each "
        "side's best of the rounds. CPU = cores busy during framestate's measurement (1.00 is one "
        "core): its server process, the load generator, PostgreSQL's processes, and everything else "
        "on the machine; in brackets the baseline server's in its own measurement.",
    ]
    for report in reports:
        out += [
            "",
            f"### {'SQLite' if report.kind == 'sqlite' else 'PostgreSQL'}",
            "",
            table(report, decisions),
            "",
        ]
        rss = ", ".join(f"{who} {mib:.0f} MiB" for who, mib in report.peak_rss_mib.items())
        out.append(f"Peak memory (VmHWM) after the run: {rss}.")
        out += [f"- {note}" for note in report.notes]
        if report.profile:
            out += ["", report.profile]
    out += [
        "",
        "State machine, µs per decision by move: "
        + "; ".join(f"{name} {us:.1f}" for name, us in decisions.per_case_us.items())
        + ".",
    ]
    return "\n".join(out)


DOC_SKELETON = f"""# Benchmarks

`make bench` measures framestate against a bare baseline on SQLite and on PostgreSQL; see
`bench/run.py`.

{BEGIN_MARK}
{END_MARK}
"""


def write_doc(block: str) -> None:
    current = DOC.read_text() if DOC.exists() else DOC_SKELETON
    if BEGIN_MARK not in current or END_MARK not in current:
        current = current.rstrip("\n") + "\n\n" + BEGIN_MARK + "\n" + END_MARK + "\n"
    before, rest = current.split(BEGIN_MARK, 1)
    _, after = rest.split(END_MARK, 1)
    DOC.write_text(before + BEGIN_MARK + "\n" + block + "\n" + END_MARK + after)


def pg_version() -> str:
    async def ask() -> str:
        conn = await asyncpg.connect(f"postgresql://{PG_HOST}/test", timeout=5)
        try:
            version: str = await conn.fetchval("SHOW server_version")
            return f"PostgreSQL {version.split()[0]}"
        finally:
            await conn.close()

    try:
        return asyncio.run(ask())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return ""


def bench_database(kind: str, duration: float, warm_up_s: float, rounds: int, want_profile: bool) -> DbReport:
    report = DbReport(kind)
    with database(kind) as url:
        began = time.perf_counter()
        seeded = seed(url, kind == "postgresql")
        say(f"{kind}: seeded {PROJECTS:,} projects in {time.perf_counter() - began:.1f} s")
        servers: dict[str, Server] = {}
        try:
            for who, command, ready in (
                ("framestate", framestate_command, "/health"),
                ("baseline", baseline_command, "/hello"),
            ):
                port = free_port()
                servers[who] = start_server(
                    f"{who}-{kind}", command(port), f"http://127.0.0.1:{port}", ready, url
                )
            pages = write_lines("pages.txt", page_paths(servers["framestate"].url, 20))
            plan = scenarios(seeded, duration, pages)
            report.rows = run_scenarios(servers, plan, warm_up_s, rounds)
            report.rows += webhook_rows(
                servers, report.rows, str(VAR / "jobs.txt"), duration, warm_up_s, rounds
            )
            report.peak_rss_mib = {who: server.peak_rss_mib() for who, server in servers.items()}
            report.notes = live_notes(report)
        finally:
            for server in servers.values():
                server.stop()
        if want_profile:
            candidates = [
                row for row in report.rows if row.ratio is not None and row.scenario.key in RATIO_GOALS
            ]
            worst = min(candidates, key=lambda row: row.ratio or 0.0)
            say(f"{kind}: profiling {worst.scenario.title!r} (ratio {worst.ratio:.2f}) under py-spy")
            report.profile = profile(kind, url, worst.scenario, warm_up_s)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="framestate against a bare baseline (see bench/run.py)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds a scenario (default 5)")
    parser.add_argument("--warm-up", type=float, default=1.0, help="seconds of warm-up (default 1)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of each scenario, best kept (default 2)"
    )
    parser.add_argument("--profile", choices=["auto", "none"], default="auto")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        say("bench: wrk is missing (Debian: apt-get install wrk)")
        return 2
    random.seed(1)
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (error := postgres_error()) is not None:
        say(f"bench: PostgreSQL at {PG_HOST} does not answer ({error}); SQLite only")
        kinds.remove("postgresql")
    decisions = time_decisions()
    say(f"state machine: {decisions.mean_us:.1f} µs a decision (worst move {decisions.worst_us:.1f} µs)")
    reports = [
        bench_database(kind, args.duration, args.warm_up, args.rounds, args.profile == "auto")
        for kind in kinds
    ]
    block = render(
        reports, decisions, args.duration, args.rounds, pg_version() if "postgresql" in kinds else ""
    )
    say()
    say(block)
    if not args.no_doc:
        write_doc(block)
        say(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
