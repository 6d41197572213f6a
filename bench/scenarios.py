"""The scenarios, their runs through the load generator (bench/load.py), and the webhook phase."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bench import webhooks
from bench.common import EXPORT_WORKERS, LIVE_RATE, LIVE_SLOW_RATE, LIVE_SUBSCRIBERS, ROOT, VAR, say
from bench.seeding import Seeded
from bench.servers import Server


def load(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.load {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine_busy_seconds() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_seconds() -> float:
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
        machine_busy_seconds(),
        postgres_seconds(),
        time.perf_counter(),
    )
    result = load(*args)
    wall = time.perf_counter() - began
    result["server_cpu"] = (server.cpu_seconds() - cpu) / wall
    result["db_cpu"] = max(0.0, postgres_seconds() - pg) / wall  # a backend that ended takes its time along
    result["other_cpu"] = max(
        0.0,
        (machine_busy_seconds() - busy) / wall - result["server_cpu"] - result["db_cpu"] - result["load_cpu"],
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


def command_args(args: list[str], url: str, round_name: str, duration: float | None = None) -> list[str]:
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
                    load(*command_args(scenario.args[who], server.url, f"warm{round_number}", warm_up_s))
                result = measured(server, *command_args(scenario.args[who], server.url, f"run{round_number}"))
                results[who] = _better(results[who], result)
        row = Row(scenario, results["framestate"], results["baseline"])
        say(f"  {scenario.title}: {_brief(row)}")
        rows.append(row)
    return rows


WEBHOOK_ENDPOINTS = 5
WEBHOOK_RATE = 200.0
COALESCED_JOBS = 20
COALESCED_RATE = 10.0


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
    folded = Scenario(
        "webhooks-coalesced",
        f"webhooks: {COALESCED_JOBS} jobs reporting {COALESCED_RATE:g} times a second, "
        f"{WEBHOOK_ENDPOINTS} endpoints (coalesced progress)",
        "deliveries/s",
        {
            "framestate": [
                "coalesced",
                "{url}",
                jobs,
                "--jobs",
                str(COALESCED_JOBS),
                "--endpoints",
                str(WEBHOOK_ENDPOINTS),
                "--per-job-rate",
                str(COALESCED_RATE),
                "--duration",
                str(max(duration, 8)),
                "--salt",
                uuid.uuid4().hex[:6],
            ]
        },
        warm_up=False,
    )
    return again + run_scenarios(framestate, [deliveries, folded], warm_up_s, 1)


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
