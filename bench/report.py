"""The markdown of a run: tables, goals, notes, the machine; written between the markers of
docs/benchmarks.md."""

import contextlib
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import BEGIN_MARK, DOC, END_MARK, EXPORT_WORKERS, LIVE_RATE, LIVE_SLOW_RATE
from bench.decisions import Decisions
from bench.legacy_import import IMPORT_GOALS, import_goal
from bench.scaling import scaling_goal
from bench.scenarios import WEBHOOK_ENDPOINTS, WEBHOOK_RATE, DbReport, Row


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
            cells += _rate_cells(result)
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


def _rate_cells(result: dict[str, Any] | None) -> list[str]:
    """Rate, p50 and p99; a run without latencies (the legacy import) has its rate alone."""
    if result is None:
        return ["", "", ""]
    if "p50_ms" not in result:
        return [f"{result['rate']:,.0f}", "", ""]
    return [f"{result['rate']:,.0f}", _ms(result["p50_ms"]), _ms(result["p99_ms"])]


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
    if key in IMPORT_GOALS:
        return import_goal(row)
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
    return scaling_goal(row)


def _decision_goal(decisions: Decisions) -> str:
    return f"< 20 µs {'met' if decisions.worst_us < 20 else '**missed**'}"


def live_notes(report: DbReport) -> list[str]:
    notes = []
    for row in report.rows:
        if row.scenario.key not in ("live", "live-slow"):
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
        if row.scenario.key == "webhooks-coalesced" and (r := row.framestate):
            notes.append(
                f"coalesced progress: {r['reports']} reports, {r['count']} deliveries; the newest figure "
                f"{'reached' if r['newest_everywhere'] else 'did NOT reach'} every endpoint; the closest "
                f"two deliveries of one job to one endpoint came {r['min_gap_ms']:.0f} ms apart"
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
        "on the machine; in brackets the baseline server's in its own measurement. The legacy import "
        "rows run `framestate import-legacy` from a SQLite file of the old app's schema (the seed's "
        "mix, three clips a project) into a fresh database, as one process from start-up to summary; "
        "their CPU is the importer's process, then the database's and the rest.",
    ]
    for report in reports:
        out += [
            "",
            f"### {'SQLite' if report.kind == 'sqlite' else 'PostgreSQL'}",
            "",
            table(report, decisions),
            "",
        ]
        if report.peak_rss_mib:
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
